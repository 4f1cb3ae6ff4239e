package capacity

import (
	"errors"
	"fmt"
	"time"
)

// Config is the capacity section of the config file (yaml key "capacity").
// A zero field takes the default named in its comment (DefaultConfig); a
// negative or out-of-range one is an error from Validate.
type Config struct {
	// ServiceLevel is the target the headroom is computed against.
	ServiceLevel ServiceLevel `yaml:"service_level"`
	// MaxOccupancy caps load/agents (default 0.85); in (0,1).
	MaxOccupancy float64 `yaml:"max_occupancy"`
	// DefaultHandleTime is the starting average handle time (talk + after-call
	// work) of every skill before calls are seen (default 300s).
	DefaultHandleTime time.Duration `yaml:"default_handle_time"`
	// DefaultAfterCallWork is the starting after-call-work estimate added to
	// talk time (default 30s); learned from agents' ACW periods.
	DefaultAfterCallWork time.Duration `yaml:"default_after_call_work"`
	// HandleTimeAlpha is no longer used (handle_time_window replaced the
	// moving average); still accepted so existing files load. In (0,1].
	HandleTimeAlpha float64 `yaml:"handle_time_alpha"`
	// HandleTimeWindow is how many recent calls the handle-time, ring and
	// after-call-work estimates average (default 20, at most 256); the
	// starting value weighs as two calls, so the estimate follows the feed
	// within about this many calls.
	HandleTimeWindow int `yaml:"handle_time_window"`
	// SkillHandleTimes seeds the handle time (ring + talk + after-call work)
	// of named skills, e.g. from workforce data; others start at
	// default_handle_time.
	SkillHandleTimes map[string]time.Duration `yaml:"skill_handle_times"`
	// ArrivalWindow is the time constant of the arrival-rate moving average
	// (default 2m). The headroom gate also reads arrivals averaged over one
	// handle time (at most this window) when they are lower.
	ArrivalWindow time.Duration `yaml:"arrival_window"`
	// WaitingHorizon is the time within which calls already waiting must be
	// answered; they use waiting/horizon calls per minute of headroom
	// (default 1m).
	WaitingHorizon time.Duration `yaml:"waiting_horizon"`
	// WaitingTimeout forgets a waiting call never answered or ended (default
	// 15m); also how long finished call ids are remembered.
	WaitingTimeout time.Duration `yaml:"waiting_timeout"`
	// BidWhileQueueLate keeps bidding when the oldest waiting call has waited
	// longer than service_level.answer_time; by default (false) such a skill
	// gets Factor 0 (no headroom) until the queue catches up.
	BidWhileQueueLate bool `yaml:"bid_while_queue_late"`
	// StaleAfter is the deadman: no agent-state event for this long and every
	// skill reads State Stale, Factor 0 (default 30s).
	StaleAfter time.Duration `yaml:"stale_after"`
	// DefaultAgentTTL drops an agent not heard from for this long when its
	// events carry no ttl_seconds (default 300s).
	DefaultAgentTTL time.Duration `yaml:"default_agent_ttl"`
	// RebuildInterval is the least time between snapshot rebuilds after a
	// change (default 20ms): a change reaches bids within about this.
	RebuildInterval time.Duration `yaml:"rebuild_interval"`
	// RefreshInterval rebuilds even without events, so decaying arrival
	// rates, commitments, expiries and the deadman show (default 1s).
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// Factor shapes the capacity factor from headroom.
	Factor FactorConfig `yaml:"factor"`
	// Premium decides when a top-proficiency agent counts as free.
	Premium PremiumConfig `yaml:"premium"`
	// MaxSkills bounds the skills tracked (default 1000). Only skills a
	// campaign uses are tracked; skill names seen only in events are not.
	MaxSkills int `yaml:"max_skills"`
	// MaxAgents bounds the agent table (default 100000). When it is full,
	// expired and unstaffed agents are evicted; if none can be, a new agent
	// is not tracked (callbid_capacity_ignored_events_total{reason="agent_table_full"}).
	MaxAgents int `yaml:"max_agents"`
	// MaxCalls bounds the call ids remembered (waiting calls and recently
	// finished ones, default 100000); beyond it new call ids are ignored.
	MaxCalls int `yaml:"max_calls"`
	// MaxSeqJump is the largest step an agent's seq may take from the last
	// applied one (default 1000000): a counter moves by one per change, so a
	// larger jump is a corrupt or hostile record that would outrank every
	// later event; it is rejected, unless the next event continues from it.
	MaxSeqJump int64 `yaml:"max_seq_jump"`
	// Channels is the capacity of chat, sms and callback agents (channels.go).
	Channels ChannelsConfig `yaml:"channels"`
}

// ServiceLevel is "Target of calls answered within AnswerTime".
type ServiceLevel struct {
	Target     float64       `yaml:"target"`      // default 0.80; in (0,1)
	AnswerTime time.Duration `yaml:"answer_time"` // default 20s
}

// FactorConfig is the ramp from headroom (calls/min) to factor:
// 0 at or below MinHeadroom, 1 at or above FullHeadroom, linear between.
type FactorConfig struct {
	MinHeadroom  float64 `yaml:"min_headroom"`  // default 0; ≥ 0
	FullHeadroom float64 `yaml:"full_headroom"` // default 1 call/min; > min_headroom
}

// PremiumConfig says when View.PremiumFree is set: at least MinAvailable
// agents at or above the campaign's premium proficiency are AVAILABLE. The
// bidder then applies the campaign's own premium_multiplier, once.
//
// Multiplier is deprecated: it was a global multiplier stacked on the
// campaign's. It is still accepted as 1 (the old default, which
// configs/production.yaml sets) so existing configs load; any other value is
// a config error, since capacity no longer prices anything.
type PremiumConfig struct {
	Multiplier   float64 `yaml:"multiplier"`    // deprecated: 0 (unset) or 1 only
	MinAvailable int     `yaml:"min_available"` // default 1
}

// DefaultConfig is the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{
		ServiceLevel:         ServiceLevel{Target: 0.80, AnswerTime: 20 * time.Second},
		MaxOccupancy:         0.85,
		DefaultHandleTime:    300 * time.Second,
		DefaultAfterCallWork: 30 * time.Second,
		HandleTimeAlpha:      0.05,
		HandleTimeWindow:     20,
		ArrivalWindow:        2 * time.Minute,
		WaitingHorizon:       time.Minute,
		WaitingTimeout:       15 * time.Minute,
		StaleAfter:           30 * time.Second,
		DefaultAgentTTL:      300 * time.Second,
		RebuildInterval:      20 * time.Millisecond,
		RefreshInterval:      time.Second,
		Factor:               FactorConfig{MinHeadroom: 0, FullHeadroom: 1},
		Premium:              PremiumConfig{MinAvailable: 1},
		MaxSkills:            1000,
		MaxAgents:            100_000,
		MaxCalls:             100_000,
		MaxSeqJump:           1_000_000,
		Channels: ChannelsConfig{Chat: SessionsConfig{SessionsPerAgent: 3}, SMS: SessionsConfig{SessionsPerAgent: 5},
			Callback: CallbackConfig{Window: 30 * time.Minute}, SessionTimeout: time.Hour},
	}
}

// SetDefaults fills zero fields from DefaultConfig.
func (c *Config) SetDefaults() {
	d := DefaultConfig()
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setF(&c.ServiceLevel.Target, d.ServiceLevel.Target)
	setD(&c.ServiceLevel.AnswerTime, d.ServiceLevel.AnswerTime)
	setF(&c.MaxOccupancy, d.MaxOccupancy)
	setD(&c.DefaultHandleTime, d.DefaultHandleTime)
	setD(&c.DefaultAfterCallWork, d.DefaultAfterCallWork)
	setF(&c.HandleTimeAlpha, d.HandleTimeAlpha)
	if c.HandleTimeWindow == 0 {
		c.HandleTimeWindow = d.HandleTimeWindow
	}
	setD(&c.ArrivalWindow, d.ArrivalWindow)
	setD(&c.WaitingHorizon, d.WaitingHorizon)
	setD(&c.WaitingTimeout, d.WaitingTimeout)
	setD(&c.StaleAfter, d.StaleAfter)
	setD(&c.DefaultAgentTTL, d.DefaultAgentTTL)
	setD(&c.RebuildInterval, d.RebuildInterval)
	setD(&c.RefreshInterval, d.RefreshInterval)
	if c.Factor.FullHeadroom == 0 && c.Factor.MinHeadroom == 0 {
		c.Factor.FullHeadroom = d.Factor.FullHeadroom
	}
	if c.Premium.MinAvailable == 0 {
		c.Premium.MinAvailable = d.Premium.MinAvailable
	}
	if c.MaxSkills == 0 {
		c.MaxSkills = d.MaxSkills
	}
	if c.MaxAgents == 0 {
		c.MaxAgents = d.MaxAgents
	}
	if c.MaxCalls == 0 {
		c.MaxCalls = d.MaxCalls
	}
	if c.MaxSeqJump == 0 {
		c.MaxSeqJump = d.MaxSeqJump
	}
	c.Channels.SetDefaults()
}

// Validate reports every problem with its field path relative to "capacity".
// Zero fields are valid: they take their defaults.
func (c *Config) Validate() error {
	v := *c
	v.SetDefaults()
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{path}, args...)...))
	}
	open01 := func(path string, x float64) {
		if !(x > 0 && x < 1) {
			bad(path, "%v must be between 0 and 1 (exclusive)", x)
		}
	}
	positive := func(path string, d, max time.Duration) {
		if d <= 0 || d > max {
			bad(path, "%v must be positive and at most %v", d, max)
		}
	}
	open01("service_level.target", v.ServiceLevel.Target)
	positive("service_level.answer_time", v.ServiceLevel.AnswerTime, time.Hour)
	open01("max_occupancy", v.MaxOccupancy)
	positive("default_handle_time", v.DefaultHandleTime, 24*time.Hour)
	positive("default_after_call_work", v.DefaultAfterCallWork, 24*time.Hour)
	if v.DefaultAfterCallWork > 0 && v.DefaultAfterCallWork >= v.DefaultHandleTime {
		bad("default_after_call_work", "%v must be shorter than default_handle_time %v (handle time includes it)",
			v.DefaultAfterCallWork, v.DefaultHandleTime)
	}
	if !(v.HandleTimeAlpha > 0 && v.HandleTimeAlpha <= 1) {
		bad("handle_time_alpha", "%v must be in (0,1]", v.HandleTimeAlpha)
	}
	if v.HandleTimeWindow < 1 || v.HandleTimeWindow > maxHandleWindow {
		bad("handle_time_window", "%d must be between 1 and %d calls", v.HandleTimeWindow, maxHandleWindow)
	}
	for name, d := range v.SkillHandleTimes {
		positive("skill_handle_times."+name, d, 24*time.Hour)
	}
	positive("arrival_window", v.ArrivalWindow, 24*time.Hour)
	positive("waiting_horizon", v.WaitingHorizon, 24*time.Hour)
	positive("waiting_timeout", v.WaitingTimeout, 24*time.Hour)
	positive("stale_after", v.StaleAfter, 24*time.Hour)
	positive("default_agent_ttl", v.DefaultAgentTTL, 7*24*time.Hour)
	positive("rebuild_interval", v.RebuildInterval, time.Minute)
	positive("refresh_interval", v.RefreshInterval, time.Hour)
	if v.RebuildInterval > 0 && v.StaleAfter > 0 && v.StaleAfter <= v.RebuildInterval {
		bad("stale_after", "%v must be longer than rebuild_interval %v", v.StaleAfter, v.RebuildInterval)
	}
	if v.RebuildInterval > 0 && v.RefreshInterval > 0 && v.RefreshInterval < v.RebuildInterval {
		bad("refresh_interval", "%v must not be shorter than rebuild_interval %v", v.RefreshInterval, v.RebuildInterval)
	}
	if !(v.Factor.MinHeadroom >= 0) {
		bad("factor.min_headroom", "%v must be 0 or more calls per minute", v.Factor.MinHeadroom)
	}
	if !(v.Factor.FullHeadroom > v.Factor.MinHeadroom) || v.Factor.FullHeadroom > 1e6 {
		bad("factor.full_headroom", "%v must be above factor.min_headroom %v (calls per minute)",
			v.Factor.FullHeadroom, v.Factor.MinHeadroom)
	}
	if v.Premium.Multiplier != 0 && v.Premium.Multiplier != 1 {
		bad("premium.multiplier", "%v: the global premium multiplier is gone; set the campaigns' skill.premium_multiplier instead (only 1 is still accepted)", v.Premium.Multiplier)
	}
	if v.Premium.MinAvailable < 1 {
		bad("premium.min_available", "%d must be at least 1 agent", v.Premium.MinAvailable)
	}
	if v.MaxSkills < 1 || v.MaxSkills > 1_000_000 {
		bad("max_skills", "%d must be between 1 and 1000000", v.MaxSkills)
	}
	if v.MaxAgents < 1 || v.MaxAgents > 10_000_000 {
		bad("max_agents", "%d must be between 1 and 10000000", v.MaxAgents)
	}
	if v.MaxCalls < 1 || v.MaxCalls > 10_000_000 {
		bad("max_calls", "%d must be between 1 and 10000000", v.MaxCalls)
	}
	if v.MaxSeqJump < 1 {
		bad("max_seq_jump", "%d must be at least 1", v.MaxSeqJump)
	}
	errs = append(errs, v.Channels.Validate())
	return errors.Join(errs...)
}
