package numbers

import (
	"errors"
	"fmt"
	"time"
)

// Defaults applied by New (and by Config.SetDefaults) to zero fields.
const (
	DefaultHold              = 15 * time.Second
	DefaultLease             = 30 * time.Minute
	DefaultCooldown          = 30 * time.Minute
	DefaultTargetUtilization = 0.75
	DefaultCallTTL           = 24 * time.Hour
	DefaultMaxCalls          = 100_000
	DefaultSpamThreshold     = 2
	DefaultSpamExpiry        = 7 * 24 * time.Hour
	DefaultDurableTimeout    = 2 * time.Second
	DefaultLeaseLogStall     = time.Second

	// Exhaustion policies.
	PolicyNoBid    = "nobid"
	PolicyFallback = "fallback"

	maxExt = 999_999_999 // extensions have at most 9 digits

	// maxEntries bounds the flat entry array (about 140 bytes each plus the
	// attribution strings): 16M entries is about 3 GB.
	maxEntries = 1 << 24
)

// Config is the numbers section of the config file (yaml key "numbers").
type Config struct {
	Pools []PoolConfig `yaml:"pools"`
	// CallsToken is the bearer token POST /v1/calls requires. The root config
	// fills it from CALLBID_CALLS_TOKEN; empty rejects every call with 401.
	CallsToken string `yaml:"calls_token"`
	// Twilio lets /v1/calls take Twilio's signed voice webhook.
	Twilio TwilioConfig `yaml:"twilio"`
	// Blocklist holds callers whose calls are answered accept:false.
	Blocklist BlocklistConfig `yaml:"blocklist"`
	// CallTTL is deprecated and ignored by the service, where a call id is
	// remembered as long as its record (call_records.retention). Pools used
	// alone keep their calls this long in event time (zero:
	// DefaultCallTTL).
	CallTTL time.Duration `yaml:"call_ttl"`
	// MaxCalls is deprecated: the root config reads it as
	// call_records.max_records. Pools used alone keep at most this many
	// call records (zero: DefaultMaxCalls), the oldest evicted first.
	MaxCalls int `yaml:"max_calls"`
	// DurableTimeout bounds how long a win or billing notice waits for its
	// lease record to be acknowledged by Kafka before answering 503 (the
	// exchange retries; the number stays leased and the record is retried).
	// Zero selects DefaultDurableTimeout (2s).
	DurableTimeout time.Duration `yaml:"durable_timeout"`
	// LeaseLogStall: when the oldest lease record not yet acknowledged is
	// older than this, or the last write of the lease log failed, no number
	// is reserved (the lease log cannot be written) and /readyz says so.
	// Zero selects DefaultLeaseLogStall (1s).
	LeaseLogStall time.Duration `yaml:"lease_log_stall"`
}

// BlocklistConfig is the caller blocklist: configured callers plus callers
// reported as SPAM on cc.outcome.v1.
type BlocklistConfig struct {
	Callers []string `yaml:"callers"`
	// SpamThreshold is how many SPAM outcomes (distinct calls) block a caller.
	// Zero selects DefaultSpamThreshold.
	SpamThreshold int `yaml:"spam_threshold"`
	// SpamExpiry is how long a SPAM block lasts after the last report. Zero
	// selects DefaultSpamExpiry.
	SpamExpiry time.Duration `yaml:"spam_expiry"`
}

// PoolConfig is one tracking-number pool.
type PoolConfig struct {
	ID      string   `yaml:"id"`
	Numbers []string `yaml:"numbers"`
	// Extensions adds one entry per number+extension in [From, To].
	Extensions []ExtensionRange `yaml:"extensions"`
	// Hold, Lease and Cooldown: zero selects the defaults (15s, 30m, 30m).
	Hold     time.Duration `yaml:"hold"`
	Lease    time.Duration `yaml:"lease"`
	Cooldown time.Duration `yaml:"cooldown"`
	// Exhaustion is "nobid" (default) or "fallback".
	Exhaustion string `yaml:"exhaustion"`
	// Fallback lists per campaign the fixed numbers used when the pool is
	// exhausted and Exhaustion is "fallback".
	Fallback []FallbackConfig `yaml:"fallback"`
	// TargetUtilization is the utilization the admin sizing aims at (0,1];
	// zero selects 0.75.
	TargetUtilization float64 `yaml:"target_utilization"`
	// Channel is voice (default: numbers) or chat, sms, callback: a pool of
	// tracking keys (keys.go).
	Channel string `yaml:"channel"`
	// Keys generates a chat, sms or callback pool's keys.
	Keys KeysConfig `yaml:"keys"`
}

// ExtensionRange is one number with an extension range; each number+ext is
// one pool entry.
type ExtensionRange struct {
	Number string `yaml:"number"`
	From   int    `yaml:"from"`
	To     int    `yaml:"to"`
}

// FallbackConfig lists a campaign's fallback numbers; each campaign ×
// publisher bucket maps to one of them deterministically.
type FallbackConfig struct {
	CampaignID string   `yaml:"campaign_id"`
	Numbers    []string `yaml:"numbers"`
}

// ValidE164 reports whether s is an E.164 number: "+", a non-zero digit and
// 8 to 15 digits in all (shorter strings are service codes, not DIDs).
func ValidE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Validate reports every problem with its field path relative to "numbers".
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Pools) == 0 {
		add("pools: at least one pool is required")
	}
	seenPool := map[string]int{}
	// owner of each number (or number+ext range) across every pool.
	type span struct {
		path     string
		from, to int // -1,-1 for a plain number
	}
	owners := map[string][]span{}
	claim := func(path, num string, from, to int) {
		for _, o := range owners[num] {
			plain := o.from < 0 || from < 0
			if plain || (from <= o.to && o.from <= to) {
				add("%s: %q is already used by %s", path, num, o.path)
				return
			}
		}
		owners[num] = append(owners[num], span{path, from, to})
	}
	var total int64
	for i := range c.Pools {
		p := &c.Pools[i]
		pp := fmt.Sprintf("pools[%d]", i)
		if p.ID == "" {
			add("%s.id: is empty", pp)
		} else if j, dup := seenPool[p.ID]; dup {
			add("%s.id: %q is already used by pools[%d]", pp, p.ID, j)
		} else {
			seenPool[p.ID] = i
		}
		p.validateChannel(pp, add)
		if len(p.entries()) == 0 && len(p.Extensions) == 0 {
			add("%s: pool has no numbers and no extensions", pp)
		}
		for j, n := range p.entries() {
			path := fmt.Sprintf("%s.numbers[%d]", pp, j)
			if msg := p.badEntry(n); msg != "" {
				add("%s: %q %s", path, n, msg)
				continue
			}
			claim(path, n, -1, -1)
			total++
		}
		for j, x := range p.Extensions {
			path := fmt.Sprintf("%s.extensions[%d]", pp, j)
			ok := true
			if !ValidE164(x.Number) {
				add("%s.number: %q is not an E.164 number", path, x.Number)
				ok = false
			}
			if x.From < 0 || x.To < 0 || x.From > maxExt || x.To > maxExt {
				add("%s: extensions must be 0-%d, got %d-%d", path, maxExt, x.From, x.To)
				ok = false
			} else if x.From > x.To {
				add("%s: from %d is greater than to %d", path, x.From, x.To)
				ok = false
			}
			if ok {
				claim(path, x.Number, x.From, x.To)
				total += int64(x.To-x.From) + 1
			}
		}
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"hold", p.Hold}, {"lease", p.Lease}, {"cooldown", p.Cooldown}} {
			if d.v < 0 {
				add("%s.%s: %s is negative", pp, d.name, d.v)
			}
		}
		switch p.Exhaustion {
		case "", PolicyNoBid:
		case PolicyFallback:
			if len(p.Fallback) == 0 {
				add("%s.fallback: exhaustion policy %q needs at least one campaign's fallback numbers", pp, PolicyFallback)
			}
		default:
			add("%s.exhaustion: unknown policy %q (want %q or %q)", pp, p.Exhaustion, PolicyNoBid, PolicyFallback)
		}
		for j, f := range p.Fallback {
			fp := fmt.Sprintf("%s.fallback[%d]", pp, j)
			if f.CampaignID == "" {
				add("%s.campaign_id: is empty", fp)
			}
			if len(f.Numbers) == 0 {
				add("%s.numbers: is empty", fp)
			}
			for k, n := range f.Numbers {
				path := fmt.Sprintf("%s.numbers[%d]", fp, k)
				if !ValidE164(n) {
					add("%s: %q is not an E.164 number", path, n)
					continue
				}
				claim(path, n, -1, -1)
			}
		}
		if p.TargetUtilization < 0 || p.TargetUtilization > 1 {
			add("%s.target_utilization: %g is outside (0,1]", pp, p.TargetUtilization)
		}
	}
	if total > maxEntries {
		add("pools: %d entries in all; at most %d are supported", total, maxEntries)
	}
	for i, n := range c.Blocklist.Callers {
		if n == "" {
			add("blocklist.callers[%d]: is empty", i)
		}
	}
	if c.Blocklist.SpamThreshold < 0 {
		add("blocklist.spam_threshold: %d is negative", c.Blocklist.SpamThreshold)
	}
	if c.Blocklist.SpamExpiry < 0 {
		add("blocklist.spam_expiry: %s is negative", c.Blocklist.SpamExpiry)
	}
	errs = append(errs, c.Twilio.validate()...)
	if c.CallTTL < 0 {
		add("call_ttl: %s is negative", c.CallTTL)
	}
	if c.MaxCalls < 0 || c.MaxCalls > 100_000_000 {
		add("max_calls: %d must be 0 (default %d) to 100000000", c.MaxCalls, DefaultMaxCalls)
	}
	if c.DurableTimeout < 0 || c.DurableTimeout > time.Minute {
		add("durable_timeout: %s is outside 0-1m", c.DurableTimeout)
	}
	if c.LeaseLogStall < 0 || c.LeaseLogStall > time.Minute {
		add("lease_log_stall: %s is outside 0-1m", c.LeaseLogStall)
	}
	return errors.Join(errs...)
}

// SetDefaults sets zero fields to their defaults. The pools are copied
// first, so a caller's Pools slice is never written.
func (c *Config) SetDefaults() {
	pools := make([]PoolConfig, len(c.Pools))
	copy(pools, c.Pools)
	for i := range pools {
		p := &pools[i]
		if p.Hold == 0 {
			p.Hold = DefaultHold
		}
		if p.Lease == 0 {
			p.Lease = DefaultLease
		}
		if p.Cooldown == 0 {
			p.Cooldown = DefaultCooldown
		}
		if p.Exhaustion == "" {
			p.Exhaustion = PolicyNoBid
		}
		if p.TargetUtilization == 0 {
			p.TargetUtilization = DefaultTargetUtilization
		}
		p.Numbers, p.Keys = p.entries(), KeysConfig{} // a key pool's keys are its entries
	}
	c.Pools = pools
	if c.CallTTL == 0 {
		c.CallTTL = DefaultCallTTL
	}
	if c.MaxCalls == 0 {
		c.MaxCalls = DefaultMaxCalls
	}
	if c.Blocklist.SpamThreshold == 0 {
		c.Blocklist.SpamThreshold = DefaultSpamThreshold
	}
	if c.Blocklist.SpamExpiry == 0 {
		c.Blocklist.SpamExpiry = DefaultSpamExpiry
	}
	if c.DurableTimeout == 0 {
		c.DurableTimeout = DefaultDurableTimeout
	}
	if c.LeaseLogStall == 0 {
		c.LeaseLogStall = DefaultLeaseLogStall
	}
}
