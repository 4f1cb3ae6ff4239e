package feedback

import (
	"errors"
	"fmt"
	"time"

	"github.com/callbid/callbid/hitrate"
	"github.com/callbid/callbid/pacing"
	"github.com/callbid/callbid/reports"
	"github.com/callbid/callbid/traffic"
)

// Config is the feedback section of the config file (yaml key "feedback"):
// one part per package the feed hands records to, composed so the keys
// users have stay where they are, plus the feed's own settings.
type Config struct {
	// HitRate: prior_strength, pacing_prior_strength, close_prior_strength,
	// default_prior_call_rate, default_prior_close, half_life, min_factor,
	// max_factor, rate_interval, time_to_call, exchange_factor (package hitrate).
	HitRate hitrate.Config `yaml:",inline"`
	// Pacing: the pacing and participation subsections (package pacing).
	Pacing pacing.Config `yaml:",inline"`
	// Traffic: the traffic subsection (package traffic).
	Traffic traffic.Config `yaml:"traffic"`
	// Reports: report_retention and demand_interval (package reports).
	Reports reports.Config `yaml:",inline"`

	// MinTalkTime is the talk time a call needs to count as qualified. Default 30s.
	MinTalkTime time.Duration `yaml:"min_talk_time"`
	// ProvisionalSaleCredit is the sale credited to a call whose latest
	// outcome is CALLBACK_REQUESTED or FOLLOW_UP_EXPECTED and not final. Default 0.25.
	ProvisionalSaleCredit float64 `yaml:"provisional_sale_credit"`
	// RecordQueue is the size of the RecordSeen/RecordBid queue; a full queue
	// drops (counted). Default 65536.
	RecordQueue int `yaml:"record_queue"`
	// DedupeWindow is how long impression bid ids are remembered to drop
	// duplicates, in event time. Default 1h.
	DedupeWindow time.Duration `yaml:"dedupe_window"`
	// CallRetention is deprecated: the root config reads it as
	// call_records.retention (the service shares one call record store with
	// numbers). A Feedback used alone keeps its calls this long in event
	// time (default 168h); expired records keep their counts.
	CallRetention time.Duration `yaml:"call_retention"`
	// MaxCalls is deprecated: the root config reads it as
	// call_records.max_records. A Feedback used alone keeps at most this
	// many call records (default 100000), the oldest evicted first (their
	// counts stay).
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
	// RepeatWindow: a caller (ANI) calling the same campaign again within
	// it is a repeat caller, counted once in hit rates and apart in reports
	// (a campaign's call_caps.repeat_window overrides it). Default 24h.
	RepeatWindow time.Duration `yaml:"repeat_window"`
	// MaxRepeatCallers caps the callers remembered for repeat_window
	// (default 200000); beyond it those whose window is
	// over go first, then those who called longest ago (counted).
	MaxRepeatCallers int `yaml:"max_repeat_callers"`
}

const (
	defMaxCalls         = 100_000
	defMaxRepeatCallers = 200_000
)

// SetDefaults fills zero fields, each part's by its own SetDefaults. The
// settings one part reads from another's keys are copied across:
// participation.cautious_call_rate to hit rates, time_to_call.max to pacing.
func (c *Config) SetDefaults() {
	c.Pacing.SetDefaults()
	c.HitRate.CautiousCallRate = c.Pacing.Participation.CautiousCallRate
	c.HitRate.SetDefaults()
	c.Pacing.TimeToCallMax = c.HitRate.TimeToCall.Max
	c.Traffic.SetDefaults()
	c.Reports.SetDefaults()
	if c.MinTalkTime == 0 {
		c.MinTalkTime = 30 * time.Second
	}
	if c.ProvisionalSaleCredit == 0 {
		c.ProvisionalSaleCredit = 0.25
	}
	if c.RecordQueue == 0 {
		c.RecordQueue = 65536
	}
	if c.DedupeWindow == 0 {
		c.DedupeWindow = time.Hour
	}
	if c.CallRetention == 0 {
		c.CallRetention = 168 * time.Hour
	}
	if c.MaxCalls == 0 {
		c.MaxCalls = defMaxCalls
	}
	if c.OrphanTTL == 0 {
		c.OrphanTTL = 10 * time.Minute
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = 5 * time.Minute
	}
	if c.StaleBids == 0 {
		c.StaleBids = 2000
	}
	if c.RepeatWindow == 0 {
		c.RepeatWindow = 24 * time.Hour
	}
	if c.MaxRepeatCallers == 0 {
		c.MaxRepeatCallers = defMaxRepeatCallers
	}
}

// Validate reports every problem with its field path relative to
// "feedback". Zero values are valid (they take defaults).
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, part := range []struct {
		prefix string
		err    error
	}{{"", c.HitRate.Validate()}, {"", c.Pacing.Validate()}, {"traffic.", c.Traffic.Validate()}, {"", c.Reports.Validate()}} {
		if part.err != nil {
			errs = append(errs, prefixErrs(part.prefix, part.err)...)
		}
	}
	for _, x := range []struct {
		name string
		d    time.Duration
	}{{"min_talk_time", c.MinTalkTime}, {"dedupe_window", c.DedupeWindow}, {"call_retention", c.CallRetention},
		{"orphan_ttl", c.OrphanTTL}, {"stale_after", c.StaleAfter}, {"repeat_window", c.RepeatWindow}} {
		if x.d < 0 {
			bad("%s: %s must not be negative", x.name, x.d)
		}
	}
	if c.MaxCalls < 0 || c.MaxCalls > 100_000_000 {
		bad("max_calls: %d must be 0 (default %d) to 100000000", c.MaxCalls, defMaxCalls)
	}
	if c.MaxRepeatCallers < 0 || c.MaxRepeatCallers > 100_000_000 {
		bad("max_repeat_callers: %d must be 0 (default %d) to 100000000", c.MaxRepeatCallers, defMaxRepeatCallers)
	}
	if c.ProvisionalSaleCredit < 0 || c.ProvisionalSaleCredit > 1 {
		bad("provisional_sale_credit: %g must be within 0-1", c.ProvisionalSaleCredit)
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
	if prefix == "" {
		return []error{err}
	}
	return []error{fmt.Errorf("%s%w", prefix, err)}
}
