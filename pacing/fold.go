package pacing

// BidN is Bid for n bids of exchange and skill within one second (unix),
// the latest at atNano, whose positive costs sum to cost: the feed's
// aggregator folds runs of alike bids with it. Exchange evidence decays to
// the latest bid once, which is what decaying bid by bid comes to.
func (p *Pacer) BidN(exchange, skill string, atNano, n int64, cost float64) {
	if n <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bidFoldLocked(exchange, skill, atNano, n, cost)
}
