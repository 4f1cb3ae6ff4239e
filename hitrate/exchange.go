package hitrate

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/callbid/callbid/channel"
)

// ExchangeConfig is the exchange multiplier learned from calls per won
// impression (yaml feedback.exchange_factor).
type ExchangeConfig struct {
	// PriorStrength is the weight of the prior factor 1, in pseudo-calls
	// (the Gamma prior's shape and rate): an exchange needs about this many
	// expected calls before its own rate moves the factor halfway. Default 20.
	PriorStrength float64 `yaml:"prior_strength"`
	// MinFactor and MaxFactor bound the factor. Defaults 0.5 and 1.5; both
	// 1 turn the learned multiplier off.
	MinFactor float64 `yaml:"min_factor"`
	MaxFactor float64 `yaml:"max_factor"`
}

// SetDefaults fills zero fields.
func (c *ExchangeConfig) SetDefaults() {
	if c.PriorStrength == 0 {
		c.PriorStrength = 20
	}
	if c.MinFactor == 0 {
		c.MinFactor = 0.5
	}
	if c.MaxFactor == 0 {
		c.MaxFactor = 1.5
	}
}

// Validate names fields relative to the hit-rate section.
func (c *ExchangeConfig) Validate() error {
	var errs []error
	for _, x := range []struct {
		name string
		v    float64
	}{{"exchange_factor.prior_strength", c.PriorStrength}, {"exchange_factor.min_factor", c.MinFactor},
		{"exchange_factor.max_factor", c.MaxFactor}} {
		if !(x.v >= 0) || math.IsInf(x.v, 0) {
			errs = append(errs, fmt.Errorf("%s: %g must be a non-negative number", x.name, x.v))
		}
	}
	d := *c
	d.SetDefaults()
	if d.MinFactor > d.MaxFactor {
		errs = append(errs, fmt.Errorf("exchange_factor.min_factor: %g is above exchange_factor.max_factor %g", d.MinFactor, d.MaxFactor))
	}
	if d.MinFactor > 1 || d.MaxFactor < 1 {
		errs = append(errs, fmt.Errorf("exchange_factor.min_factor: the range %g-%g must include 1 (an exchange without evidence)", d.MinFactor, d.MaxFactor))
	}
	return errors.Join(errs...)
}

// exCell is the evidence of one campaign × exchange, forward-decayed like
// cell: matured won impressions, young wins per unix minute (each counts at
// F(age), the share of its calls due by now), and attributed calls.
type exCell struct {
	imp, calls float64
	pending    map[int64]float64
	effImp     float64 // delay-weighted impressions at the last rebuild
	factor     float64
}

// ExchangeFactor is the learned multiplier of campaign × exchange: the
// exchange's calls per won impression over the campaign's, shrunk toward 1
// while the exchange has little evidence, within exchange_factor's
// bounds; 1 for an exchange without evidence. Bid path: one atomic load,
// one map lookup, 0 allocations (bidder.ExchangeFactors).
func (h *HitRates) ExchangeFactor(campaignID, exchange string) float64 {
	if v, ok := h.rates.Load().exFactor[pairKey{campaignID, exchange, channel.Voice}]; ok {
		return v
	}
	return 1
}

func (h *HitRates) exCellLocked(campaign, exchange string) *exCell {
	k := pairKey{campaign, exchange, channel.Voice}
	c := h.exCells[k]
	if c == nil {
		if len(h.exCells) >= maxExchangeCells {
			return nil
		}
		c = &exCell{pending: map[int64]float64{}, factor: 1}
		h.exCells[k] = c
	}
	return c
}

// maxExchangeCells bounds the campaign × exchange cells (exchanges are
// configured, so this is only reached by a bug upstream).
const maxExchangeCells = 100_000

// addExWinLocked adds one won impression at time at on exchange, worth
// rel expected wins (its publisher's rate relative to the campaign's).
func (h *HitRates) addExWinLocked(campaign, exchange string, rel float64, at, now time.Time) {
	if exchange == "" {
		return
	}
	c := h.exCellLocked(campaign, exchange)
	if c == nil {
		return
	}
	if now.Sub(at) > h.cfg.TimeToCall.Max {
		c.imp += rel * h.weight(unixS(at))
		return
	}
	c.pending[at.Unix()/60] += rel
}

// addExCallLocked adds sign × calls on exchange at time at.
func (h *HitRates) addExCallLocked(campaign, exchange string, at time.Time, calls, sign float64) {
	if exchange == "" || calls == 0 {
		return
	}
	if c := h.exCellLocked(campaign, exchange); c != nil {
		c.calls += sign * h.weight(unixS(at)) * calls
	}
}

// rebuildExchangesLocked computes every campaign × exchange factor into
// snap. The model: calls on exchange e are Poisson(r_e · λ_c · n_e), with
// n_e the exchange's delay-weighted wins, each weighted by its publisher's
// relative rate at the time of the win (so the publishers an exchange
// sells, which their own hit-rate factor prices, do not move its factor),
// λ_c the campaign's calls per such win over all its exchanges, and
// r_e ~ Gamma(s, s) a priori (mean 1); the posterior mean is
// (s + calls_e)/(s + λ_c·n_e). inv is 1/weight(now).
func (h *HitRates) rebuildExchangesLocked(snap *rateSnap, now time.Time, inv float64) {
	nowS := unixS(now)
	maxAge := h.cfg.TimeToCall.Max.Seconds()
	type sum struct{ imp, calls float64 }
	tot := make(map[string]sum, len(h.campaigns))
	for k, c := range h.exCells {
		arrive := h.arriveFor(h.campaigns[k.campaign].Skill)
		var young float64
		for m, n := range c.pending {
			t := float64(m*60) + 30 // mid-minute: the same bias for every exchange, so it cancels in the ratio
			if nowS-float64(m*60+60) > maxAge {
				c.imp += n * h.weight(t)
				delete(c.pending, m)
				continue
			}
			young += n * h.weight(t) * arrive.at(nowS-t)
		}
		c.effImp = (c.imp + young) * inv
		s := tot[k.campaign]
		s.imp += c.effImp
		s.calls += c.calls * inv
		tot[k.campaign] = s
	}
	ec := h.cfg.ExchangeFactor
	snap.exFactor = make(map[pairKey]float64, len(h.exCells))
	for k, c := range h.exCells {
		c.factor = 1
		s := tot[k.campaign]
		if s.imp <= 0 || c.effImp <= 0 {
			continue // no wins: nothing to compare, the bid path's 1 applies
		}
		expect := s.calls / s.imp * c.effImp
		f := (ec.PriorStrength + c.calls*inv) / (ec.PriorStrength + expect)
		c.factor = math.Min(math.Max(f, ec.MinFactor), ec.MaxFactor)
		snap.exFactor[k] = c.factor
	}
}

// ExchangeRate is one campaign × exchange line of GET /admin/rates.
type ExchangeRate struct {
	Campaign    string  `json:"campaign"`
	Exchange    string  `json:"exchange"`
	Evidence    float64 `json:"evidence_wins"` // decayed wins, weighted by the share of calls that had time to arrive
	Calls       float64 `json:"evidence_calls"`
	CallsPerWin float64 `json:"calls_per_win"` // evidence_calls / evidence_wins (0 without wins)
	Factor      float64 `json:"factor"`        // the learned multiplier applied to bids
}

// exchangeRatesLocked lists the campaign × exchange cells for Rates.
func (h *HitRates) exchangeRatesLocked(campaign string, inv float64) []ExchangeRate {
	out := make([]ExchangeRate, 0, len(h.exCells))
	for k, c := range h.exCells {
		if campaign != "" && k.campaign != campaign {
			continue
		}
		r := ExchangeRate{Campaign: k.campaign, Exchange: k.publisher, Evidence: c.effImp, Calls: c.calls * inv, Factor: c.factor}
		if c.effImp > 0 {
			r.CallsPerWin = r.Calls / c.effImp
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Campaign != out[j].Campaign {
			return out[i].Campaign < out[j].Campaign
		}
		return out[i].Exchange < out[j].Exchange
	})
	return out
}
