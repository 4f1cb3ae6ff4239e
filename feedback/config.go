package feedback

import (
	"errors"
	"fmt"
	"time"

	"github.com/callbid/callbid/reports"
	"github.com/callbid/callbid/traffic"
)

// Config is the feedback section of the config file (yaml key "feedback").
// A zero field takes the default written beside it (see withDefaults).
type Config struct {
	// MinTalkTime is the talk time a call needs to count as qualified. Default 30s.
	MinTalkTime time.Duration `yaml:"min_talk_time"`
	// PriorStrength is the weight of the campaign's prior call rate, in
	// pseudo-impressions (Beta-Binomial α+β). Default 1000.
	PriorStrength float64 `yaml:"prior_strength"`
	// PacingPriorStrength is the prior weight of the any-call rate that
	// pacing projects committed calls with. It is weaker than PriorStrength
	// because shrinking a busy publisher toward the prior underestimates the
	// calls it brings, and pacing must not underestimate. Default 20.
	PacingPriorStrength float64 `yaml:"pacing_prior_strength"`
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
	// ProvisionalSaleCredit is the sale credited to a call whose latest
	// outcome is CALLBACK_REQUESTED or FOLLOW_UP_EXPECTED and not final. Default 0.25.
	ProvisionalSaleCredit float64 `yaml:"provisional_sale_credit"`
	// RateInterval is how often hit rates and the time-to-call distribution
	// are recomputed and republished. Default 2s.
	RateInterval time.Duration `yaml:"rate_interval"`

	TimeToCall TimeToCallConfig `yaml:"time_to_call"`
	Pacing     PacingConfig     `yaml:"pacing"`
	// Participation is the volume actuator: a per-skill bucket of expected
	// calls that bids spend (see participation.go).
	Participation ParticipationConfig `yaml:"participation"`
	Traffic       traffic.Config      `yaml:"traffic"`

	// Reports holds report_retention and demand_interval (package reports).
	Reports reports.Config `yaml:",inline"`
	// RecordQueue is the size of the RecordSeen/RecordBid queue; a full queue
	// drops (counted). Default 65536.
	RecordQueue int `yaml:"record_queue"`
	// DedupeWindow is how long impression bid ids are remembered to drop
	// duplicates, in event time. Default 1h.
	DedupeWindow time.Duration `yaml:"dedupe_window"`
	// CallRetention is how long call records (attribution, call, outcome) are
	// kept for late outcomes, in event time. Default 168h.
	CallRetention time.Duration `yaml:"call_retention"`
	// MaxCalls caps the call records kept (default 100000): beyond it the
	// records first seen longest ago are dropped early (their counts stay),
	// so memory is bounded by configuration whatever the call volume.
	MaxCalls int `yaml:"max_calls"`
	// OrphanTTL is how long an outcome or call event without its attribution
	// waits before it is counted as an orphan and dropped. Default 10m.
	OrphanTTL time.Duration `yaml:"orphan_ttl"`
	// StaleAfter and StaleBids: StaleBids bids and StaleAfter with no
	// impression event make Ready false (the impressions feed stalled).
	// Defaults 5m and 2000. The call feed counts as stalled when 20 calls
	// were expected from wins since its last event.
	StaleAfter time.Duration `yaml:"stale_after"`
	StaleBids  int           `yaml:"stale_bids"`
}

// TimeToCallConfig describes the delay between a won impression and its call.
type TimeToCallConfig struct {
	// Max is the horizon: an impression older than this has had all its calls.
	// Default 2h.
	Max time.Duration `yaml:"max"`
	// DefaultMean is the mean of the exponential distribution used until
	// enough calls were observed. Default 5m.
	DefaultMean time.Duration `yaml:"default_mean"`
	// DefaultResolveMean is the same for the delay from win to the end of
	// the call (when it can be qualified). Default 10m.
	DefaultResolveMean time.Duration `yaml:"default_resolve_mean"`
	// MinSamples is how many observed delays weigh as much as the default
	// distribution (the two are blended n:MinSamples). Default 10.
	MinSamples int `yaml:"min_samples"`
}

// PacingConfig tunes the per-skill controller.
type PacingConfig struct {
	// Disabled turns pacing off: the multiplier stays 1 and there is no
	// hard stop. Default false (pacing on).
	Disabled bool `yaml:"disabled"`
	// Interval is the controller tick. Default 1s.
	Interval time.Duration `yaml:"interval"`
	// Gain is ε per second of the dual update
	// μ ← max(0, μ + Gain·dt·(committed − Target·headroom)/scale). Default 0.01.
	Gain float64 `yaml:"gain"`
	// Proportional adds Proportional·error to μ (a PI controller); 0 keeps
	// the pure dual update. Unset means the default 0.25.
	Proportional *float64 `yaml:"proportional"`
	// Target is the share of headroom committed calls aim for (a margin for
	// bursts and estimation error). Default 0.9.
	Target float64 `yaml:"target"`
	// MinScale is the smallest scale (calls/min) of the error. Default 0.5.
	MinScale float64 `yaml:"min_scale"`
	// MaxMu caps μ (the smallest multiplier is 1/(1+MaxMu)). Default 50.
	MaxMu float64 `yaml:"max_mu"`
	// HeadroomGross says Headroom is the whole budget for bought calls
	// (λ_max − organic calls − backlog). By default (false) Headroom is net,
	// as capacity.Model computes it: λ_max − λ_now − CommittedCalls −
	// backlog, where λ_now already contains the bought calls arriving now;
	// pacing then adds back the bought calls' share (see CommittedCalls).
	HeadroomGross bool `yaml:"headroom_gross"`
	// ArrivalWindow is the time constant of the moving average of
	// attributed call arrivals per skill; match capacity.arrival_window.
	// Default 2m.
	ArrivalWindow time.Duration `yaml:"arrival_window"`
}

// ParticipationConfig tunes the per-skill bucket of expected calls.
type ParticipationConfig struct {
	// Disabled leaves volume to capacity's on/off and pacing's price. Default false.
	Disabled bool `yaml:"disabled"`
	// WinPrior is the win probability assumed for an exchange with no
	// evidence, and WinPriorStrength its weight in bids. Cautious (high):
	// defaults 1 and 20.
	WinPrior         float64 `yaml:"win_prior"`
	WinPriorStrength float64 `yaml:"win_prior_strength"`
	// WinHalfLife is how fast old win evidence fades. Default 30m.
	WinHalfLife time.Duration `yaml:"win_half_life"`
	// CautiousCallRate is the attributed calls per won impression assumed
	// for a publisher with no evidence when it is above the campaign's
	// expected_call_rate; its weight is pacing_prior_strength. Default 0.05.
	CautiousCallRate float64 `yaml:"cautious_call_rate"`
	// NoticeWindow is how long a bid counts as held (its win or loss not yet
	// known) and after which a bid without a win counts as lost. Default 10s.
	NoticeWindow time.Duration `yaml:"notice_window"`
	// Horizon is the look-ahead for calls in flight: those due within it
	// beyond target × budget slow buying down. Default 60s.
	Horizon time.Duration `yaml:"horizon"`
	// Burst caps the bucket at this many seconds of refill. Default 2s.
	Burst time.Duration `yaml:"burst"`
	// SlowStart is the participation level after start-up, a return from
	// no capacity or a drop (0–1]. Default 0.5: the win and call-rate
	// priors are already upper bounds, so half of a cautious estimate is
	// well under the agents' capacity.
	SlowStart float64 `yaml:"slow_start"`
	// Drop is the relative fall of the budget that restarts slow start. Default 0.25.
	Drop float64 `yaml:"drop"`
}

const (
	defMinTalk       = 30 * time.Second
	defPriorStrength = 1000
	defClosePrior    = 20
	defPacingPrior   = 20
	defPriorCallRate = 0.01
	defPriorClose    = 0.1
	defHalfLife      = 72 * time.Hour
	defMinFactor     = 0.25
	defMaxFactor     = 4
	defProvisional   = 0.25
	defRateInterval  = 2 * time.Second
	defTTCMax        = 2 * time.Hour
	defTTCMean       = 5 * time.Minute
	defTTCMinSamples = 10
	defPaceInterval  = time.Second
	defPaceGain      = 0.01
	defPaceP         = 0.25
	defPaceTarget    = 0.9
	defPaceMinScale  = 0.5
	defPaceMaxMu     = 50
	defRecordQueue   = 65536
	defDedupe        = time.Hour
	defCallRetention = 168 * time.Hour
	defMaxCalls      = 100_000
	defOrphanTTL     = 10 * time.Minute
	defStaleAfter    = 5 * time.Minute
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	setD := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	setF := func(p *float64, d float64) {
		if *p == 0 {
			*p = d
		}
	}
	setD(&c.MinTalkTime, defMinTalk)
	setF(&c.PriorStrength, defPriorStrength)
	setF(&c.ClosePriorStrength, defClosePrior)
	setF(&c.PacingPriorStrength, defPacingPrior)
	setF(&c.DefaultPriorCallRate, defPriorCallRate)
	setF(&c.DefaultPriorClose, defPriorClose)
	setD(&c.HalfLife, defHalfLife)
	setF(&c.MinFactor, defMinFactor)
	setF(&c.MaxFactor, defMaxFactor)
	setF(&c.ProvisionalSaleCredit, defProvisional)
	setD(&c.RateInterval, defRateInterval)
	setD(&c.TimeToCall.Max, defTTCMax)
	setD(&c.TimeToCall.DefaultMean, defTTCMean)
	setD(&c.TimeToCall.DefaultResolveMean, 2*defTTCMean)
	if c.TimeToCall.MinSamples == 0 {
		c.TimeToCall.MinSamples = defTTCMinSamples
	}
	setD(&c.Pacing.Interval, defPaceInterval)
	setD(&c.Pacing.ArrivalWindow, 2*time.Minute)
	setF(&c.Pacing.Gain, defPaceGain)
	if c.Pacing.Proportional == nil {
		p := float64(defPaceP)
		c.Pacing.Proportional = &p
	}
	setF(&c.Pacing.Target, defPaceTarget)
	setF(&c.Pacing.MinScale, defPaceMinScale)
	setF(&c.Pacing.MaxMu, defPaceMaxMu)
	pp := &c.Participation
	setF(&pp.WinPrior, 1)
	setF(&pp.WinPriorStrength, 20)
	setD(&pp.WinHalfLife, 30*time.Minute)
	setF(&pp.CautiousCallRate, 0.05)
	setD(&pp.NoticeWindow, 10*time.Second)
	setD(&pp.Horizon, time.Minute)
	setD(&pp.Burst, 2*time.Second)
	setF(&pp.SlowStart, 0.5)
	setF(&pp.Drop, 0.25)
	c.Traffic.SetDefaults()
	if c.RecordQueue == 0 {
		c.RecordQueue = defRecordQueue
	}
	setD(&c.DedupeWindow, defDedupe)
	setD(&c.CallRetention, defCallRetention)
	if c.MaxCalls == 0 {
		c.MaxCalls = defMaxCalls
	}
	setD(&c.OrphanTTL, defOrphanTTL)
	c.Reports.SetDefaults()
	setD(&c.StaleAfter, defStaleAfter)
	if c.StaleBids == 0 {
		c.StaleBids = 2000
	}
	return c
}

// Validate reports every problem with its field path relative to "feedback".
// Zero values are valid (they take defaults).
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	nonNegD := func(name string, d time.Duration) {
		if d < 0 {
			bad("%s: %s must not be negative", name, d)
		}
	}
	nonNegD("min_talk_time", c.MinTalkTime)
	nonNegD("half_life", c.HalfLife)
	nonNegD("rate_interval", c.RateInterval)
	nonNegD("time_to_call.max", c.TimeToCall.Max)
	nonNegD("time_to_call.default_mean", c.TimeToCall.DefaultMean)
	nonNegD("time_to_call.default_resolve_mean", c.TimeToCall.DefaultResolveMean)
	nonNegD("pacing.interval", c.Pacing.Interval)
	nonNegD("pacing.arrival_window", c.Pacing.ArrivalWindow)
	nonNegD("dedupe_window", c.DedupeWindow)
	nonNegD("call_retention", c.CallRetention)
	if c.MaxCalls < 0 || c.MaxCalls > 100_000_000 {
		bad("max_calls: %d must be 0 (default %d) to 100000000", c.MaxCalls, defMaxCalls)
	}
	nonNegD("orphan_ttl", c.OrphanTTL)
	if err := c.Reports.Validate(); err != nil {
		errs = append(errs, prefixErrs("", err)...)
	}
	nonNegD("stale_after", c.StaleAfter)
	if c.PriorStrength < 0 {
		bad("prior_strength: %g must not be negative", c.PriorStrength)
	}
	if c.PacingPriorStrength < 0 {
		bad("pacing_prior_strength: %g must not be negative", c.PacingPriorStrength)
	}
	if c.ClosePriorStrength < 0 {
		bad("close_prior_strength: %g must not be negative", c.ClosePriorStrength)
	}
	if c.DefaultPriorCallRate < 0 || c.DefaultPriorCallRate > 1 {
		bad("default_prior_call_rate: %g must be within 0-1", c.DefaultPriorCallRate)
	}
	if c.DefaultPriorClose < 0 || c.DefaultPriorClose > 1 {
		bad("default_prior_close: %g must be within 0-1", c.DefaultPriorClose)
	}
	if c.MinFactor < 0 {
		bad("min_factor: %g must not be negative", c.MinFactor)
	}
	if c.MaxFactor < 0 {
		bad("max_factor: %g must not be negative", c.MaxFactor)
	}
	d := c.withDefaults()
	if d.MinFactor > d.MaxFactor {
		bad("min_factor: %g is above max_factor %g", d.MinFactor, d.MaxFactor)
	}
	if c.ProvisionalSaleCredit < 0 || c.ProvisionalSaleCredit > 1 {
		bad("provisional_sale_credit: %g must be within 0-1", c.ProvisionalSaleCredit)
	}
	if d.TimeToCall.DefaultMean > d.TimeToCall.Max {
		bad("time_to_call.default_mean: %s is above time_to_call.max %s", d.TimeToCall.DefaultMean, d.TimeToCall.Max)
	}
	if d.TimeToCall.DefaultResolveMean > d.TimeToCall.Max {
		bad("time_to_call.default_resolve_mean: %s is above time_to_call.max %s", d.TimeToCall.DefaultResolveMean, d.TimeToCall.Max)
	}
	if c.TimeToCall.MinSamples < 0 {
		bad("time_to_call.min_samples: %d must not be negative", c.TimeToCall.MinSamples)
	}
	if c.Pacing.Gain < 0 {
		bad("pacing.gain: %g must not be negative", c.Pacing.Gain)
	}
	if c.Pacing.Proportional != nil && *c.Pacing.Proportional < 0 {
		bad("pacing.proportional: %g must not be negative", *c.Pacing.Proportional)
	}
	if c.Pacing.Target < 0 || c.Pacing.Target > 1 {
		bad("pacing.target: %g must be within 0-1", c.Pacing.Target)
	}
	if c.Pacing.MinScale < 0 {
		bad("pacing.min_scale: %g must not be negative", c.Pacing.MinScale)
	}
	if c.Pacing.MaxMu < 0 {
		bad("pacing.max_mu: %g must not be negative", c.Pacing.MaxMu)
	}
	pp := c.Participation
	nonNegD("participation.win_half_life", pp.WinHalfLife)
	nonNegD("participation.notice_window", pp.NoticeWindow)
	nonNegD("participation.horizon", pp.Horizon)
	nonNegD("participation.burst", pp.Burst)
	for _, x := range []struct {
		name string
		v    float64
	}{{"win_prior", pp.WinPrior}, {"cautious_call_rate", pp.CautiousCallRate}, {"slow_start", pp.SlowStart}, {"drop", pp.Drop}} {
		if !(x.v >= 0 && x.v <= 1) {
			bad("participation.%s: %g must be within 0-1", x.name, x.v)
		}
	}
	if !(pp.WinPriorStrength >= 0) {
		bad("participation.win_prior_strength: %g must not be negative", pp.WinPriorStrength)
	}
	if err := c.Traffic.Validate(); err != nil {
		errs = append(errs, prefixErrs("traffic.", err)...)
	}
	if c.StaleBids < 0 {
		bad("stale_bids: %d must not be negative", c.StaleBids)
	}
	if c.RecordQueue < 0 {
		bad("record_queue: %d must not be negative", c.RecordQueue)
	}
	return errors.Join(errs...)
}

// prefixErrs splits a joined error and puts prefix in front of each part.
func prefixErrs(prefix string, err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, prefixErrs(prefix, e)...)
		}
		return out
	}
	return []error{fmt.Errorf("%s%w", prefix, err)}
}
