package feedback

import (
	"encoding/json"
	"math"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// SkillParticipation is one skill's volume control as of the last tick.
type SkillParticipation struct {
	Skill          string    `json:"skill"`
	Level          float64   `json:"level"`                // slow-start participation L, 0–1
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

// PublisherRate is what feedback has learned of one campaign × publisher.
type PublisherRate struct {
	Campaign      string  `json:"campaign"`
	Publisher     string  `json:"publisher"`
	QualifiedRate float64 `json:"qualified_calls_per_win"` // posterior, the hit-rate factor's numerator
	CallRate      float64 `json:"calls_per_win"`           // any attributed call, cautious prior: pacing's cost
	CloseRate     float64 `json:"sales_per_qualified_call"`
	Evidence      float64 `json:"evidence_wins"` // decayed wins, weighted by the share of calls that had time to arrive
	Calls         float64 `json:"evidence_calls"`
	Qualified     float64 `json:"evidence_qualified"`
	Factor        float64 `json:"factor"` // the HitRate multiplier applied to bids
}

// ExchangeWin is one exchange's win evidence.
type ExchangeWin struct {
	Exchange string  `json:"exchange"`
	WinProb  float64 `json:"win_probability"`
	Bids     float64 `json:"evidence_bids"` // decayed bids past the notice window
	Wins     float64 `json:"evidence_wins"`
}

// Visible is everything the volume control and the rates read, for the
// admin page and tests.
type Visible struct {
	Skills     []SkillParticipation `json:"skills"`
	Publishers []PublisherRate      `json:"publishers"`
	Exchanges  []ExchangeWin        `json:"exchanges"`
}

// Visible returns the current rates and participation state.
func (f *Feedback) Visible() Visible {
	f.mu.Lock()
	defer f.mu.Unlock()
	var v Visible
	for _, s := range f.skills {
		g := f.gateMap[s]
		if g == nil {
			continue
		}
		v.Skills = append(v.Skills, SkillParticipation{Skill: s, Level: g.level, BudgetPerMin: g.budget,
			RefillPerMin: finite(g.refill), ExcessPerMin: g.excess, InFlight: g.inflight, Held: g.held,
			DueInHorizon: g.dueH, Tokens: float64(g.tokens.Load()) / 1e6, Bought: g.bought,
			Predicted: g.predicted, Observed: g.observed, Admitted: g.admitted.Load(), Skipped: g.skipped.Load(),
			SlowStarts: g.resets, LastSlowStart: g.lastReset, MedianCallWait: f.arriveFor(s).median})
	}
	fac := f.rates.Load().factor
	inv := 1 / f.weight(unixS(f.clock()))
	for k, c := range f.cells {
		factor, ok := fac[k]
		if !ok {
			factor = 1
		}
		v.Publishers = append(v.Publishers, PublisherRate{Campaign: k.campaign, Publisher: k.publisher,
			QualifiedRate: c.callRate, CallRate: c.anyRate, CloseRate: c.closeRate, Evidence: c.effImp,
			Calls: c.calls * inv, Qualified: c.qual * inv, Factor: factor})
	}
	sort.Slice(v.Publishers, func(i, j int) bool {
		a, b := v.Publishers[i], v.Publishers[j]
		if a.Campaign != b.Campaign {
			return a.Campaign < b.Campaign
		}
		return a.Publisher < b.Publisher
	})
	for name, e := range f.exch {
		v.Exchanges = append(v.Exchanges, ExchangeWin{Exchange: name, WinProb: f.pwinLocked(e), Bids: e.bids, Wins: e.wins})
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

// HandleRates serves GET /admin/rates: per skill the participation level,
// budget, refill and calls in flight; per campaign × publisher the learned
// rates, their evidence and the factor applied; per exchange the win
// probability. JSON; ?campaign= filters the publishers.
func (f *Feedback) HandleRates(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Error("only GET is allowed\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	v := f.Visible()
	if c := string(ctx.QueryArgs().Peek("campaign")); c != "" {
		out := v.Publishers[:0]
		for _, p := range v.Publishers {
			if p.Campaign == c {
				out = append(out, p)
			}
		}
		v.Publishers = out
	}
	b, err := json.MarshalIndent(&v, "", "  ")
	if err != nil {
		ctx.Error("cannot encode the rates\n", fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}

// partCollector exports the per-skill participation state at scrape time.
type partCollector struct {
	f                                                 *Feedback
	level, budget, refill, inflight, due, skip, admit *prometheus.Desc
}

func newPartCollector(f *Feedback) *partCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"skill"}, nil)
	}
	return &partCollector{f: f,
		level:    d("callbid_participation_level", "Slow-start participation level per skill (0–1)."),
		budget:   d("callbid_participation_budget_calls_per_minute", "Calls per minute the skill's agents can take from callbid (λ_max − organic − backlog)."),
		refill:   d("callbid_participation_refill_calls_per_minute", "Expected calls per minute the bucket lets bids buy."),
		inflight: d("callbid_calls_in_flight", "Expected calls bought (held bids and won impressions) not yet arrived, per skill."),
		due:      d("callbid_calls_due_within_horizon", "Of the calls in flight, those expected within participation.horizon."),
		skip:     d("callbid_participation_skipped_total", "Requests skipped because the skill's bucket was spent (nbr 500)."),
		admit:    d("callbid_participation_admitted_total", "Requests the skill's bucket let through."),
	}
}

func (p *partCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.level, p.budget, p.refill, p.inflight, p.due, p.skip, p.admit} {
		ch <- d
	}
}

func (p *partCollector) Collect(ch chan<- prometheus.Metric) {
	v := p.f.Visible()
	for _, s := range v.Skills {
		ch <- prometheus.MustNewConstMetric(p.level, prometheus.GaugeValue, s.Level, s.Skill)
		ch <- prometheus.MustNewConstMetric(p.budget, prometheus.GaugeValue, s.BudgetPerMin, s.Skill)
		ch <- prometheus.MustNewConstMetric(p.refill, prometheus.GaugeValue, s.RefillPerMin, s.Skill)
		ch <- prometheus.MustNewConstMetric(p.inflight, prometheus.GaugeValue, s.InFlight, s.Skill)
		ch <- prometheus.MustNewConstMetric(p.due, prometheus.GaugeValue, s.DueInHorizon, s.Skill)
		ch <- prometheus.MustNewConstMetric(p.skip, prometheus.CounterValue, float64(s.Skipped), s.Skill)
		ch <- prometheus.MustNewConstMetric(p.admit, prometheus.CounterValue, float64(s.Admitted), s.Skill)
	}
}
