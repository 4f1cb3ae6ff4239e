package hitrate

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/channel"
)

// Config is the hit-rate part of the feedback section (its keys sit at
// the top of feedback: prior_strength, half_life, time_to_call, …).
type Config struct {
	// PriorStrength is the weight of the campaign's prior call rate, in
	// pseudo-impressions (Beta-Binomial α+β). Default 1000.
	PriorStrength float64 `yaml:"prior_strength"`
	// PacingPriorStrength is the prior weight of the any-call rate that
	// pacing prices bids with, in pseudo-wins at cautious_call_rate: the
	// prior is worth cautious_call_rate × pacing_prior_strength calls (1
	// by default), and keeps that worth when the campaign's pooled rate
	// lowers its mean. It is weaker than PriorStrength because
	// shrinking a busy publisher toward the prior underestimates the calls
	// it brings, and pacing must not underestimate. Default 20.
	PacingPriorStrength float64 `yaml:"pacing_prior_strength"`
	// PacingQuantile is the quantile of the any-call rate's posterior
	// that pacing prices bids with (0.5–0.999). Above 0.5, while a
	// publisher has shown few calls the bound sits well above the mean, so
	// a publisher whose first minutes brought few calls by chance is not
	// read as cheap; with hundreds of calls it is close to the mean. 0.5
	// (the default) prices at the posterior mean: with the time to call
	// counted against the wins at risk, the closed-loop runs keep their
	// over-buying bounds at the mean, and 0.9 cost the short runs a tenth
	// of their calls (README, The closed loop).
	PacingQuantile float64 `yaml:"pacing_quantile"`
	// ClosePriorStrength is the weight of the campaign's prior close rate, in
	// pseudo-calls. Default 20.
	ClosePriorStrength float64 `yaml:"close_prior_strength"`
	// DefaultPriorCallRate is used for a campaign whose PriorCallRate is 0. Default 0.01.
	DefaultPriorCallRate float64 `yaml:"default_prior_call_rate"`
	// DefaultPriorClose is used for a campaign whose PriorClose is 0. Default 0.1.
	DefaultPriorClose float64 `yaml:"default_prior_close"`
	// HalfLife is how fast old evidence fades. Default 72h.
	HalfLife time.Duration `yaml:"half_life"`
	// MinFactor and MaxFactor clamp HitRate. Defaults 0.25 and 4.
	MinFactor float64 `yaml:"min_factor"`
	MaxFactor float64 `yaml:"max_factor"`
	// RateInterval is how often hit rates and the time-to-call distribution
	// are recomputed and republished. Default 2s.
	RateInterval time.Duration `yaml:"rate_interval"`

	TimeToCall TimeToCallConfig `yaml:"time_to_call"`

	// ExchangeFactor is the per campaign × exchange multiplier learned from
	// calls per won impression (see exchange.go).
	ExchangeFactor ExchangeConfig `yaml:"exchange_factor"`

	// CautiousCallRate is the attributed calls per won impression assumed
	// for a publisher with no evidence (yaml
	// feedback.participation.cautious_call_rate, where users set it; the
	// feedback config copies it here). Default 0.05.
	CautiousCallRate float64 `yaml:"-"`
}

// TimeToCallConfig describes the delay between a won impression and its call.
type TimeToCallConfig struct {
	// Max is the horizon: an impression older than this has had all its calls.
	// Default 2h.
	Max time.Duration `yaml:"max"`
	// DefaultMean is the time-to-call guess: the median of the prior whose
	// tail the arrival model assumes beyond the oldest wins' age until
	// wins older than Max have been seen (atrisk.go). Default 5m.
	DefaultMean time.Duration `yaml:"default_mean"`
	// DefaultResolveMean is the same for the delay from win to the end of
	// the call (when it can be qualified). Default 10m.
	DefaultResolveMean time.Duration `yaml:"default_resolve_mean"`
	// MinSamples is how many observed delays weigh as much as the default
	// exponential where they are blended (n:MinSamples): the delay to the
	// call's end, and the time to call when no wins are fed. Default 10.
	MinSamples int `yaml:"min_samples"`
}

// SetDefaults fills zero fields.
func (c *Config) SetDefaults() {
	setF := func(p *float64, d float64) {
		if *p == 0 {
			*p = d
		}
	}
	setD := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	setF(&c.PriorStrength, 1000)
	setF(&c.PacingPriorStrength, 20)
	setF(&c.PacingQuantile, 0.5)
	setF(&c.ClosePriorStrength, 20)
	setF(&c.DefaultPriorCallRate, 0.01)
	setF(&c.DefaultPriorClose, 0.1)
	setD(&c.HalfLife, 72*time.Hour)
	setF(&c.MinFactor, 0.25)
	setF(&c.MaxFactor, 4)
	setD(&c.RateInterval, 2*time.Second)
	setF(&c.CautiousCallRate, 0.05)
	setD(&c.TimeToCall.Max, 2*time.Hour)
	setD(&c.TimeToCall.DefaultMean, 5*time.Minute)
	setD(&c.TimeToCall.DefaultResolveMean, 10*time.Minute)
	if c.TimeToCall.MinSamples == 0 {
		c.TimeToCall.MinSamples = 10
	}
	c.ExchangeFactor.SetDefaults()
}

// Validate reports every problem with its field path relative to the
// feedback section. Zero values are valid (they take defaults).
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, x := range []struct {
		name string
		d    time.Duration
	}{{"half_life", c.HalfLife}, {"rate_interval", c.RateInterval}, {"time_to_call.max", c.TimeToCall.Max},
		{"time_to_call.default_mean", c.TimeToCall.DefaultMean}, {"time_to_call.default_resolve_mean", c.TimeToCall.DefaultResolveMean}} {
		if x.d < 0 {
			bad("%s: %s must not be negative", x.name, x.d)
		}
	}
	for _, x := range []struct {
		name string
		v    float64
	}{{"prior_strength", c.PriorStrength}, {"pacing_prior_strength", c.PacingPriorStrength},
		{"close_prior_strength", c.ClosePriorStrength}, {"min_factor", c.MinFactor}, {"max_factor", c.MaxFactor}} {
		if !(x.v >= 0) {
			bad("%s: %g must not be negative", x.name, x.v)
		}
	}
	if c.PacingQuantile != 0 && !(c.PacingQuantile >= 0.5 && c.PacingQuantile <= 0.999) {
		bad("pacing_quantile: %g must be within 0.5-0.999", c.PacingQuantile)
	}
	if c.DefaultPriorCallRate < 0 || c.DefaultPriorCallRate > 1 {
		bad("default_prior_call_rate: %g must be within 0-1", c.DefaultPriorCallRate)
	}
	if c.DefaultPriorClose < 0 || c.DefaultPriorClose > 1 {
		bad("default_prior_close: %g must be within 0-1", c.DefaultPriorClose)
	}
	if c.TimeToCall.MinSamples < 0 {
		bad("time_to_call.min_samples: %d must not be negative", c.TimeToCall.MinSamples)
	}
	if err := c.ExchangeFactor.Validate(); err != nil {
		errs = append(errs, err)
	}
	d := *c
	d.SetDefaults()
	if d.MinFactor > d.MaxFactor {
		bad("min_factor: %g is above max_factor %g", d.MinFactor, d.MaxFactor)
	}
	if d.TimeToCall.DefaultMean > d.TimeToCall.Max {
		bad("time_to_call.default_mean: %s is above time_to_call.max %s", d.TimeToCall.DefaultMean, d.TimeToCall.Max)
	}
	if d.TimeToCall.DefaultResolveMean > d.TimeToCall.Max {
		bad("time_to_call.default_resolve_mean: %s is above time_to_call.max %s", d.TimeToCall.DefaultResolveMean, d.TimeToCall.Max)
	}
	return errors.Join(errs...)
}

// Campaign is what hit rates need to know of a campaign.
type Campaign struct {
	ID            string
	Skill         string
	PriorCallRate float64 // expected qualified calls per won impression
	PriorClose    float64 // expected sales per qualified call
}

// pairKey keys the hit-rate snapshot; a struct of two strings hashes without
// allocating, so the bid path needs no key building. ch is the contact
// channel of the cell (channel.go); exchange cells are voice.
type pairKey struct {
	campaign, publisher string
	ch                  channel.Channel
}

// rateSnap is the immutable snapshot the bid path and pacing read.
type rateSnap struct {
	factor   map[pairKey]float64 // HitRate
	any      map[pairKey]float64 // attributed calls per win, cautious prior
	cautious map[string]float64  // per campaign: a publisher without evidence
	defRate  float64             // a campaign not configured
	arrive   map[string]*Delay   // time to call per skill
	all      *Delay              // all skills'
	exFactor map[pairKey]float64 // ExchangeFactor, keyed campaign × exchange
}

// HitRates learns, per campaign × publisher, the calls and sales won
// impressions bring, and the time from a win to its call (see doc.go).
type HitRates struct {
	cfg   Config
	rates atomic.Pointer[rateSnap]

	mu        sync.Mutex
	campaigns map[string]Campaign
	cells     map[pairKey]*cell
	exCells   map[pairKey]*exCell   // campaign × exchange (pairKey.publisher holds the exchange)
	pooled    map[string]float64    // per-campaign any-call rate over all publishers
	arrive    delayDist             // won_at → call start, all skills
	arriveBy  map[string]*delayDist // the same per skill
	risk      *atRisk               // wins by the time they were won, all skills (atrisk.go)
	riskBy    map[string]*atRisk    // the same per skill
	resolve   delayDist             // won_at → call end (when it can be qualified)
	landmark  float64               // forward-decay landmark, unix seconds
	landSet   bool
	lastRates time.Time
	pacingZ   float64 // pacing_quantile as standard normal deviates
}

// New builds the hit-rate model; cfg gets its defaults and must pass Validate.
func New(cfg Config, campaigns []Campaign) (*HitRates, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &HitRates{cfg: cfg, cells: map[pairKey]*cell{}, exCells: map[pairKey]*exCell{}, arriveBy: map[string]*delayDist{}, pooled: map[string]float64{},
		pacingZ: math.Sqrt2 * math.Erfinv(2*cfg.PacingQuantile-1), risk: newAtRisk(), riskBy: map[string]*atRisk{}}
	h.arrive.init(cfg.TimeToCall.Max)
	h.resolve.init(cfg.TimeToCall.Max)
	h.SetCampaigns(campaigns)
	return h, nil
}

// SetCampaigns replaces the campaign set on config reload. Learned evidence
// of removed campaigns is kept (they may come back).
func (h *HitRates) SetCampaigns(c []Campaign) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.campaigns = make(map[string]Campaign, len(c))
	for _, x := range c {
		h.campaigns[x.ID] = x
	}
	for k, cl := range h.cells {
		if x, ok := h.campaigns[k.campaign]; ok {
			cl.skill = x.Skill
		}
	}
	h.rebuildRatesLocked(time.Now())
}

// HitRate is the bid-path factor for a publisher: its smoothed call rate over
// the campaign's prior (1 for a new publisher). ≤ 50 ns, 0 allocations.
func (h *HitRates) HitRate(campaignID, publisherID string) float64 {
	if v, ok := h.rates.Load().factor[pairKey{campaignID, publisherID, channel.Voice}]; ok {
		return v
	}
	return 1
}

// CallsPerWin is the attributed calls (any) a won impression of the
// publisher is expected to bring, from a cautious (high) prior: what
// pacing charges a bid. Bid path: one atomic load, two map lookups at most.
func (h *HitRates) CallsPerWin(campaignID, publisherID string) float64 {
	s := h.rates.Load()
	if v, ok := s.any[pairKey{campaignID, publisherID, channel.Voice}]; ok {
		return v
	}
	if v, ok := s.cautious[campaignID]; ok {
		return v
	}
	return s.defRate
}

// Arrival is the time-to-call distribution of skill as of the last
// rebuild: the skill's own once it has calls, else all skills'. The
// returned value is immutable.
func (h *HitRates) Arrival(skill string) *Delay {
	s := h.rates.Load()
	if d, ok := s.arrive[skill]; ok {
		return d
	}
	return s.all
}

// Win adds one won impression (the first notice of its bid id) of campaign
// × publisher, bought on exchange, at time at, and returns the skill it is for (the campaign's,
// else skill) and the calls and qualified calls it is expected to bring.
func (h *HitRates) Win(campaign, publisher, exchange, skill string, at, now time.Time) (cellSkill string, callsPerWin, qualifiedPerWin float64) {
	return h.WinChannel(channel.Voice, campaign, publisher, exchange, skill, at, now)
}

// WinChannel is Win for an impression that bought channel ch (its own
// campaign × publisher × channel cell).
func (h *HitRates) WinChannel(ch channel.Channel, campaign, publisher, exchange, skill string, at, now time.Time) (cellSkill string, callsPerWin, qualifiedPerWin float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.cellLocked(campaign, publisher, ch)
	if c.skill == "" && skill != "" {
		c.skill = skill
	}
	h.addWinLocked(c, at, now)
	h.addRiskLocked(c.skill, at, now)
	h.addExWinLocked(campaign, exchange, c.rel, at, now)
	return c.skill, c.anyRate, c.callRate
}

// Contribution is what one call adds to its campaign × publisher evidence.
type Contribution struct {
	Campaign, Publisher string
	Exchange            string    // the exchange of the won impression ("" when unknown: no exchange evidence)
	At                  time.Time // call start (the decay weight)
	WonHour             int       // UTC hour of the won impression
	Calls, Qualified    float64
	Sales               float64 // provisional outcomes at their credit
	// Repeat marks a repeat caller's call (the same caller about the same
	// campaign within the feed's repeat window): it adds to the any-call
	// rate pacing charges (it occupies an agent all the same) and its sale
	// counts, but not to the qualified rate nor the exchange's calls, which
	// counted the caller on their first call.
	Repeat bool
	// Channel is the contact's channel (the impression's): a chat, text
	// or callback counts in its own cell; the zero value is a call.
	Channel channel.Channel
}

// AddCall adds sign × c (calls are upserts: the feed removes a call's old
// contribution with −1 and adds its new one with +1).
func (h *HitRates) AddCall(c Contribution, sign float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cl := h.cellLocked(c.Campaign, c.Publisher, c.Channel)
	w := sign * h.weight(unixS(c.At))
	cl.calls += w * c.Calls
	cl.sales += w * c.Sales
	if c.Repeat {
		return
	}
	cl.qual += w * c.Qualified
	cl.hQual[c.WonHour] += w * c.Qualified
	h.addExCallLocked(c.Campaign, c.Exchange, c.At, c.Calls, sign)
}

// AddArrival records a call's delay from its win to its start, for skill
// and all skills.
func (h *HitRates) AddArrival(skill string, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addArrivalDelayLocked(skill, d)
}

// AddResolve records a call's delay from its win to its end (when it can
// be qualified).
func (h *HitRates) AddResolve(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resolve.add(d)
}

// Rebuild recomputes every rate and the time-to-call distributions at now
// and publishes them, when rate_interval has passed since the last rebuild
// (or the clock went backwards). The feed calls it every pacing tick.
func (h *HitRates) Rebuild(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d := now.Sub(h.lastRates); d >= h.cfg.RateInterval || d < 0 {
		h.rebuildRatesLocked(now)
	}
}

// publishLocked completes snap with the campaigns' cautious rates and the
// delay distributions and publishes it.
func (h *HitRates) publishLocked(snap *rateSnap) {
	snap.cautious = make(map[string]float64, len(h.campaigns))
	for id := range h.campaigns {
		snap.cautious[id] = h.cautiousRateLocked(id)
	}
	snap.defRate = math.Max(h.cfg.DefaultPriorCallRate, h.cfg.CautiousCallRate)
	snap.all = &Delay{d: h.arrive}
	snap.arrive = make(map[string]*Delay, len(h.arriveBy))
	for s, d := range h.arriveBy {
		snap.arrive[s] = &Delay{d: *d}
	}
	h.rates.Store(snap)
}

// cautiousRateLocked is the any-call rate assumed for a publisher with no
// evidence: the campaign's calls per win pooled over its publishers, with a
// 50% margin, shrunk toward participation.cautious_call_rate while the
// campaign itself has little evidence (weight pacing_prior_strength), and
// never below the campaign's prior. A new publisher is priced high, and the
// campaign's other publishers teach it faster than its own few wins could.
func (h *HitRates) cautiousRateLocked(campaign string) float64 {
	c := h.cfg.CautiousCallRate
	if p, ok := h.pooled[campaign]; ok {
		c = math.Min(c, cautiousMargin*p)
	}
	return math.Max(h.priorLocked(campaign), c)
}

// cautiousMargin is the margin over the campaign's pooled rate.
const cautiousMargin = 1.5

// poolSum accumulates a cell's any-call evidence into its campaign's pool.
type poolSum struct{ calls, wins float64 }

// Delay is an immutable copy of a time-to-call distribution.
type Delay struct{ d delayDist }

// At is F(age seconds): the share of a win's calls that have arrived by then.
func (x *Delay) At(age float64) float64 { return x.d.at(age) }

// Mean is the mean delay, seconds.
func (x *Delay) Mean() float64 { return x.d.mean }

// Median is the median delay, seconds.
func (x *Delay) Median() float64 { return x.d.median }

// PublisherRate is what has been learned of one campaign × publisher.
type PublisherRate struct {
	Campaign      string  `json:"campaign"`
	Publisher     string  `json:"publisher"`
	Channel       string  `json:"channel,omitempty"`       // chat, sms or callback; absent: calls
	QualifiedRate float64 `json:"qualified_calls_per_win"` // posterior, the hit-rate factor's numerator
	CallRate      float64 `json:"calls_per_win"`           // any attributed call, cautious prior: pacing's cost
	CloseRate     float64 `json:"sales_per_qualified_call"`
	Evidence      float64 `json:"evidence_wins"` // decayed wins, weighted by the share of calls that had time to be qualified
	// EvidenceCalls is the same weighted by the share of calls that had
	// time to start: the exposure behind CallRate.
	EvidenceCalls float64 `json:"evidence_wins_calls"`
	Calls         float64 `json:"evidence_calls"`
	Qualified     float64 `json:"evidence_qualified"`
	Factor        float64 `json:"factor"` // the HitRate multiplier applied to bids
}

// RatesQuery selects the publishers of GET /admin/rates: one campaign, or
// all when Campaign is empty.
type RatesQuery struct {
	Campaign string
	Now      time.Time // the evidence is decayed to it (time.Now when zero)
}

// RatesView is the hit-rate part of GET /admin/rates.
type RatesView struct {
	Publishers []PublisherRate `json:"publishers"`
	Exchanges  []ExchangeRate  `json:"exchange_factors"`
}

// Rates returns the learned rates per campaign × publisher, sorted.
func (h *HitRates) Rates(q RatesQuery) RatesView {
	now := q.Now
	if now.IsZero() {
		now = time.Now()
	}
	fac := h.rates.Load().factor
	h.mu.Lock()
	inv := 1 / h.weight(unixS(now))
	v := RatesView{Publishers: make([]PublisherRate, 0, len(h.cells))}
	for k, c := range h.cells {
		if q.Campaign != "" && k.campaign != q.Campaign {
			continue
		}
		factor, ok := fac[k]
		if !ok {
			factor = 1
		}
		v.Publishers = append(v.Publishers, PublisherRate{Campaign: k.campaign, Publisher: k.publisher, Channel: channelName(k.ch),
			QualifiedRate: c.callRate, CallRate: c.anyRate, CloseRate: c.closeRate, Evidence: c.effImp, EvidenceCalls: c.effAny,
			Calls: c.calls * inv, Qualified: c.qual * inv, Factor: factor})
	}
	v.Exchanges = h.exchangeRatesLocked(q.Campaign, inv)
	h.mu.Unlock()
	sort.Slice(v.Publishers, func(i, j int) bool {
		a, b := v.Publishers[i], v.Publishers[j]
		if a.Campaign != b.Campaign {
			return a.Campaign < b.Campaign
		}
		if a.Publisher != b.Publisher {
			return a.Publisher < b.Publisher
		}
		return a.Channel < b.Channel
	})
	return v
}
