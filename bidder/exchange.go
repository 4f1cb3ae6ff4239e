package bidder

// ExchangeFactors is a learned per-exchange bid multiplier for a campaign:
// the "choose partners by their success rates" control. An exchange whose
// impressions bring more calls per impression than the campaign's average
// gets a factor above 1, a poor one below; 0 stops the campaign bidding
// there. The bidder calls it once per campaign per request on the bid
// path, so an implementation must not block, lock or allocate: read an
// immutable snapshot (see doc.go). Deps.ExchangeFactors nil means 1.0.
type ExchangeFactors interface {
	ExchangeFactor(campaignID, exchange string) float64
}

// exchangeFactor is the learned factor of campaign c on the request's
// exchange; 1 without an ExchangeFactors, and for a negative or NaN answer
// (a broken estimate must not poison the price).
func (b *Bidder) exchangeFactor(d *decision, c *campaign) float64 {
	ef := b.deps.ExchangeFactors
	if ef == nil {
		return 1
	}
	if f := ef.ExchangeFactor(c.id, d.ex.name); f >= 0 {
		return f
	}
	return 1
}
