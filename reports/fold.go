package reports

import "time"

// BidN is Bid for n bids alike in row k and skill, the latest at atNano,
// within one FoldNanos bucket (so one row, one demand interval): priced of
// them carry a price, their Σ price is priceMicros and their Σ max(value,
// price) valueMicros. The feed's aggregator folds runs of alike bids with
// it, one row and interval lookup per run instead of per bid.
func (f *Reports) BidN(k Key, skill string, n, priced, priceMicros, valueMicros, atNano int64) {
	if n <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bids.Add(n)
	if row := f.rowLocked(k); row != nil {
		row.bids += n
		row.pricedBids += priced
		row.bidCPM += priceMicros
		row.valueCPM += valueMicros
	}
	f.demandBidLocked(skill, atNano, n)
	f.tallyBidLocked(k, skill, atNano, n)
}

// FoldNanos is the bucket (unix nanos ÷ FoldNanos) within which bids of
// one row and skill may be given to BidN together: a second when the
// demand interval is whole seconds (its bounds are then whole seconds, and
// a second lies in one hour), else 1 ns.
func (f *Reports) FoldNanos() int64 {
	if f.cfg.DemandInterval%time.Second == 0 {
		return int64(time.Second)
	}
	return 1
}
