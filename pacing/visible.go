package pacing

import (
	"math"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SkillParticipation is one skill's volume control as of the last tick.
type SkillParticipation struct {
	Skill          string    `json:"skill"`
	Level          float64   `json:"level"`                // slow-start participation L, 0–1
	Share          float64   `json:"share"`                // this instance's share of the buying (shared pools), 0–1
	BudgetPerMin   float64   `json:"budget_calls_per_min"` // B: λ_max − organic − backlog
	RefillPerMin   float64   `json:"refill_calls_per_min"` // L·target·B − excess
	ExcessPerMin   float64   `json:"excess_calls_per_min"` // in flight beyond the budget within the horizon
	InFlight       float64   `json:"calls_in_flight"`      // expected calls bought, not yet arrived
	Held           float64   `json:"calls_in_flight_held"` // of which from bids with no notice yet
	DueInHorizon   float64   `json:"calls_due_within_horizon"`
	Tokens         float64   `json:"bucket_calls"`          // may be negative by the bids in flight
	Bought         float64   `json:"expected_calls_bought"` // cumulative
	Predicted      float64   `json:"calls_predicted_since_reset"`
	Observed       float64   `json:"calls_seen_since_reset"`
	Admitted       uint64    `json:"admitted"`
	Skipped        uint64    `json:"skipped"`
	SlowStarts     uint64    `json:"slow_starts"`
	LastSlowStart  time.Time `json:"last_slow_start"`
	MedianCallWait float64   `json:"median_time_to_call_seconds"`
}

// ExchangeWin is one exchange's win evidence.
type ExchangeWin struct {
	Exchange string  `json:"exchange"`
	WinProb  float64 `json:"win_probability"`
	Bids     float64 `json:"evidence_bids"` // decayed bids past the notice window
	Wins     float64 `json:"evidence_wins"`
}

// View is the pacing part of GET /admin/rates: per skill the volume
// control, per exchange the win probability.
type View struct {
	Skills    []SkillParticipation `json:"skills"`
	Exchanges []ExchangeWin        `json:"exchanges"`
}

// View returns the participation state of every skill and the win
// evidence of every exchange, as of the last tick.
func (p *Pacer) View() View {
	p.mu.Lock()
	defer p.mu.Unlock()
	var v View
	for _, s := range p.skills {
		g := p.gateMap[s]
		if g == nil {
			continue
		}
		v.Skills = append(v.Skills, SkillParticipation{Skill: s, Level: g.level, Share: g.share, BudgetPerMin: g.budget,
			RefillPerMin: finite(g.refill), ExcessPerMin: g.excess, InFlight: g.inflight, Held: g.held,
			DueInHorizon: g.dueH, Tokens: float64(g.tokens.Load()) / 1e6, Bought: g.bought,
			Predicted: g.predicted, Observed: g.observed, Admitted: g.admitted.Load(), Skipped: g.skipped.Load(),
			SlowStarts: g.resets, LastSlowStart: g.lastReset, MedianCallWait: p.rates.Arrival(s).Median()})
	}
	for name, e := range p.exch {
		v.Exchanges = append(v.Exchanges, ExchangeWin{Exchange: name, WinProb: p.pwinLocked(e), Bids: e.bids, Wins: e.wins})
	}
	sort.Slice(v.Exchanges, func(i, j int) bool { return v.Exchanges[i].Exchange < v.Exchanges[j].Exchange })
	return v
}

func finite(x float64) float64 {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return -1
	}
	return x
}

// partCollector exports the per-skill participation state at scrape time.
type partCollector struct {
	p                                                 *Pacer
	level, budget, refill, inflight, due, skip, admit *prometheus.Desc
}

func newPartCollector(p *Pacer) *partCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"skill"}, nil)
	}
	return &partCollector{p: p,
		level:    d("callbid_participation_level", "Slow-start participation level per skill (0–1)."),
		budget:   d("callbid_participation_budget_calls_per_minute", "Calls per minute the skill's agents can take from callbid (λ_max − organic − backlog)."),
		refill:   d("callbid_participation_refill_calls_per_minute", "Expected calls per minute the bucket lets bids buy."),
		inflight: d("callbid_calls_in_flight", "Expected calls bought (held bids and won impressions) not yet arrived, per skill."),
		due:      d("callbid_calls_due_within_horizon", "Of the calls in flight, those expected within participation.horizon."),
		skip:     d("callbid_participation_skipped_total", "Requests skipped because the skill's bucket was spent (nbr 500)."),
		admit:    d("callbid_participation_admitted_total", "Requests the skill's bucket let through."),
	}
}

func (c *partCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.level, c.budget, c.refill, c.inflight, c.due, c.skip, c.admit} {
		ch <- d
	}
}

func (c *partCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.p.View()
	for _, s := range v.Skills {
		ch <- prometheus.MustNewConstMetric(c.level, prometheus.GaugeValue, s.Level, s.Skill)
		ch <- prometheus.MustNewConstMetric(c.budget, prometheus.GaugeValue, s.BudgetPerMin, s.Skill)
		ch <- prometheus.MustNewConstMetric(c.refill, prometheus.GaugeValue, s.RefillPerMin, s.Skill)
		ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, s.InFlight, s.Skill)
		ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, s.DueInHorizon, s.Skill)
		ch <- prometheus.MustNewConstMetric(c.skip, prometheus.CounterValue, float64(s.Skipped), s.Skill)
		ch <- prometheus.MustNewConstMetric(c.admit, prometheus.CounterValue, float64(s.Admitted), s.Skill)
	}
}
