package bidder

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/callbid/callbid/events"
)

// Value-based bidding: instead of a fixed value per call, a campaign can
// price an impression at its expected value,
//
//	expected_call_rate × hit-rate factor (the learned call rate, as for
//	every campaign) × close rate × revenue per sale × 1000,
//
// with the close rate (sales per call) and revenue per sale learned per
// campaign × publisher from callbid.attribution.v1: an accepted attributed
// call is a call; feedback's re-emission of it with a final outcome is a
// sale (SALE) with its revenue, or not. Priors keep a new publisher at the
// campaign's configured figures until its own evidence outweighs them.
//
// Goroutines: the attribution consumer updates cells (one mutex, never on
// the bid path); the bid path reads a cell's two estimates from atomics
// through copy-on-write maps.

// ValueBiddingConfig is a campaign's value-based bidding.
type ValueBiddingConfig struct {
	Enabled bool `yaml:"enabled"`
	// CloseRate and RevenuePerSale are the priors (sales per call, money
	// per sale in the campaign currency).
	CloseRate      float64 `yaml:"close_rate"`
	RevenuePerSale Money   `yaml:"revenue_per_sale"`
	// PriorCalls and PriorSales weigh the priors; defaults 20 and 5.
	PriorCalls float64 `yaml:"prior_calls"`
	PriorSales float64 `yaml:"prior_sales"`
}

func (v *ValueBiddingConfig) validate(p string, cc *CampaignConfig, add func(path, format string, args ...any)) {
	if !v.Enabled {
		return
	}
	if !(v.CloseRate > 0) || v.CloseRate > 1 {
		add(p+".value_bidding.close_rate", "must be in (0, 1] sales per call")
	}
	if v.RevenuePerSale <= 0 {
		add(p+".value_bidding.revenue_per_sale", "must be positive")
	}
	if v.PriorCalls < 0 || v.PriorSales < 0 {
		add(p+".value_bidding.prior_calls", "priors must not be negative")
	}
	if !(cc.ExpectedCallRate > 0) || cc.ExpectedCallRate > 1 {
		add(p+".expected_call_rate", "must be in (0, 1] calls per impression with value_bidding")
	}
}

// valueCell is one campaign × publisher's evidence and estimates.
type valueCell struct {
	calls, sales, revenue float64       // revenue in micro-units of the campaign currency; under valueTable.mu
	ev                    atomic.Uint64 // math.Float64bits of close rate × revenue per sale (micro-units)
	known                 atomic.Bool
}

// valueTable keeps the cells by campaign and publisher; it survives reloads.
type valueTable struct {
	mu     sync.Mutex
	cells  atomic.Pointer[map[string]map[string]*valueCell]
	finals map[string]struct{} // call ids whose final outcome was counted
	calls  map[string]struct{} // call ids counted as calls
	n      int
}

const maxValueCells = 100000

func newValueTable() *valueTable {
	t := &valueTable{finals: map[string]struct{}{}, calls: map[string]struct{}{}}
	m := map[string]map[string]*valueCell{}
	t.cells.Store(&m)
	return t
}

// perSale returns the learned close rate × revenue per sale of the pair,
// in micro-units of the campaign currency per call, from the priors when
// the pair has no evidence. Bid path: no lock, no allocation.
func (t *valueTable) perCall(c *campaign, publisher string) float64 {
	if pm := (*t.cells.Load())[c.id]; pm != nil {
		if vc := pm[publisher]; vc != nil && vc.known.Load() {
			return math.Float64frombits(vc.ev.Load())
		}
	}
	return c.valueClose * c.valueRevenue
}

// cellLocked returns (creating) the pair's cell; nil past maxValueCells.
func (t *valueTable) cellLocked(campaign, publisher string) *valueCell {
	old := *t.cells.Load()
	if vc := old[campaign][publisher]; vc != nil {
		return vc
	}
	if t.n >= maxValueCells {
		return nil
	}
	m := make(map[string]map[string]*valueCell, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	pm := make(map[string]*valueCell, len(old[campaign])+1)
	for k, v := range old[campaign] {
		pm[k] = v
	}
	vc := &valueCell{}
	pm[publisher] = vc
	m[campaign] = pm
	t.n++
	t.cells.Store(&m)
	return vc
}

// learnValue applies one attribution record to the value cells.
func (b *Bidder) learnValue(a *events.Attribution) {
	if !a.Accepted || a.CampaignID == "" || a.CallID == "" {
		return
	}
	s := b.snap.Load()
	var c *campaign
	for _, x := range s.campaigns {
		if x.id == a.CampaignID {
			c = x
			break
		}
	}
	if c == nil || !c.valueBidding {
		return
	}
	t := b.value
	t.mu.Lock()
	defer t.mu.Unlock()
	vc := t.cellLocked(a.CampaignID, a.PublisherID)
	if vc == nil {
		return
	}
	if _, seen := t.calls[a.CallID]; !seen {
		t.calls[a.CallID] = struct{}{}
		vc.calls++
	}
	if a.IsFinal && a.Disposition != "" {
		if _, seen := t.finals[a.CallID]; !seen {
			t.finals[a.CallID] = struct{}{}
			if a.Disposition == events.DispositionSale {
				vc.sales++
				if a.Revenue != nil && a.Revenue.AmountMicros > 0 {
					r := float64(a.Revenue.AmountMicros)
					if cur := a.Revenue.Currency; cur != "" && cur != c.currency {
						if rate, ok := s.rates[cur]; ok {
							r = r * rate / c.rate
						}
					}
					vc.revenue += r
				}
			}
		}
	}
	if len(t.calls) > 4*maxValueCells { // bound the dedupe sets; a rare double count is the cost
		clear(t.calls)
		clear(t.finals)
	}
	pc, ps := c.valuePriorCalls, c.valuePriorSales
	closeRate := (vc.sales + pc*c.valueClose) / (vc.calls + pc)
	perSale := c.valueRevenue
	if vc.sales+ps > 0 {
		perSale = (vc.revenue + ps*c.valueRevenue) / (vc.sales + ps)
	}
	vc.ev.Store(math.Float64bits(closeRate * perSale))
	vc.known.Store(true)
}
