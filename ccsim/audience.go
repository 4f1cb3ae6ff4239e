package ccsim

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Audience. The people who saw a won creative: for a share of the numbers
// (or keys) callbid leases on a win notice (Won), one of them dials the
// number — with its extension — or opens the chat after a delay, through
// Offer, so the call is attributed and qualified like any other and the
// hit rates learn from it. Won is called from the notice path of another
// goroutine: it only queues the win under a small mutex; Step drains the
// queue, draws whether and when the person calls (with the simulator's
// seeded generator, so a run is reproducible given the order of wins),
// and offers the calls that are due.

// AudienceConfig is simulator.audience: who calls the won tracking numbers.
type AudienceConfig struct {
	// CallsPerWin is the share of won numbers someone calls (0-1) for a
	// publisher not in Publishers; 0 (the default): no audience.
	CallsPerWin float64 `yaml:"calls_per_win"`
	// Publishers overrides CallsPerWin per publisher id.
	Publishers map[string]float64 `yaml:"publishers"`
	// Delay is the mean time from the win to the call (exponential, at
	// least MinDelay, at most MaxDelay); default 30s.
	Delay    time.Duration `yaml:"delay"`
	MinDelay time.Duration `yaml:"min_delay"` // default 2s
	MaxDelay time.Duration `yaml:"max_delay"` // default 10m
}

// maxAudienceQueue bounds the wins waiting for Step and the calls waiting
// for their time: a flood of notices drops wins (counted), it does not grow
// memory.
const maxAudienceQueue = 10_000

func (c *AudienceConfig) setDefaults() {
	def(&c.Delay, 30*time.Second)
	def(&c.MinDelay, 2*time.Second)
	def(&c.MaxDelay, 10*time.Minute)
}

func (c *AudienceConfig) validate(add func(string, ...any)) {
	share := func(path string, v float64) {
		if !(v >= 0 && v <= 1) {
			add("%s: %g is outside 0-1", path, v)
		}
	}
	share("audience.calls_per_win", c.CallsPerWin)
	for _, p := range slices.Sorted(maps.Keys(c.Publishers)) {
		if p == "" {
			add("audience.publishers: a publisher id must not be empty")
			continue
		}
		share(fmt.Sprintf("audience.publishers.%s", p), c.Publishers[p])
	}
	dur := func(path string, v time.Duration) {
		if v < 0 || v > 24*time.Hour {
			add("%s: %s is outside 0-24h", path, v)
		}
	}
	dur("audience.delay", c.Delay)
	dur("audience.min_delay", c.MinDelay)
	dur("audience.max_delay", c.MaxDelay)
	if c.MinDelay > 0 && c.MaxDelay > 0 && c.MinDelay > c.MaxDelay {
		add("audience.min_delay: %s is above audience.max_delay %s", c.MinDelay, c.MaxDelay)
	}
}

// rate is the share of publisher's won numbers that are called.
func (c *AudienceConfig) rate(publisher string) float64 {
	if r, ok := c.Publishers[publisher]; ok {
		return r
	}
	return c.CallsPerWin
}

func (c *AudienceConfig) enabled() bool {
	if c.CallsPerWin > 0 {
		return true
	}
	for _, r := range c.Publishers {
		if r > 0 {
			return true
		}
	}
	return false
}

// won is one leased number, as Won heard it.
type won struct {
	number, ext, skill, channel, publisher string
}

// dial is a call the audience will place at at.
type dial struct {
	at time.Time
	won
}

type audience struct {
	mu    sync.Mutex
	inbox []won // wins not yet seen by Step; guarded by mu
	spare []won // Step's swap buffer (Step's goroutine only)
	due   []dial

	wins, calls, dropped atomic.Uint64
}

// AudienceStats counts what the audience did.
type AudienceStats struct {
	// Wins is the leases heard, Calls the calls and chats placed, Dropped
	// the wins ignored because the queue was full or the skill unknown.
	Wins, Calls, Dropped uint64
}

// Won tells the audience that number (with ext, "" for none) was leased
// on a win for skill, channel ("" or "voice" for a call, "chat" for a key)
// and publisher. It never blocks on the simulation and is safe from any
// goroutine; it matches numbers.Pools.OnLease.
func (s *Sim) Won(number, ext, skill, channel, publisher string) {
	a := &s.aud
	if !s.cfg.Audience.enabled() {
		return
	}
	a.wins.Add(1)
	a.mu.Lock()
	if len(a.inbox) >= maxAudienceQueue {
		a.mu.Unlock()
		a.dropped.Add(1)
		return
	}
	a.inbox = append(a.inbox, won{number: number, ext: ext, skill: skill, channel: channel, publisher: publisher})
	a.mu.Unlock()
}

// AudienceStats returns the audience's counts; safe from any goroutine.
func (s *Sim) AudienceStats() AudienceStats {
	return AudienceStats{Wins: s.aud.wins.Load(), Calls: s.aud.calls.Load(), Dropped: s.aud.dropped.Load()}
}

// stepAudience draws the calls of the wins heard since the last step and
// offers those that are due; called by Step before it starts the offers.
func (s *Sim) stepAudience() {
	a, cfg := &s.aud, &s.cfg.Audience
	a.mu.Lock()
	in := a.inbox
	a.inbox = a.spare[:0]
	a.mu.Unlock()
	for _, w := range in {
		if s.rng.Float64() >= cfg.rate(w.publisher) {
			continue
		}
		if len(a.due) >= maxAudienceQueue {
			a.dropped.Add(1)
			continue
		}
		d := min(max(s.exp(cfg.Delay), cfg.MinDelay), cfg.MaxDelay)
		c := dial{at: s.now.Add(d), won: w}
		at, _ := slices.BinarySearchFunc(a.due, c.at, func(x dial, t time.Time) int { return x.at.Compare(t) })
		// after calls due at the same time, so ties keep the order of wins
		for at < len(a.due) && a.due[at].at.Equal(c.at) {
			at++
		}
		a.due = slices.Insert(a.due, at, c)
	}
	clear(in)
	a.spare = in[:0]
	n := 0
	for n < len(a.due) && !a.due[n].at.After(s.now) {
		c := &a.due[n]
		if s.offer(c.skill, c.channel, c.number, c.ext) {
			a.calls.Add(1)
		} else {
			a.dropped.Add(1)
		}
		n++
	}
	if n > 0 {
		clear(a.due[:n])
		a.due = slices.Delete(a.due, 0, n)
	}
}

// audienceMetrics are callbid_ccsim_audience_*_total.
func (s *Sim) audienceMetrics() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_ccsim_audience_wins_total", Help: "SIMULATED audience: leased tracking numbers it heard of."},
			func() float64 { return float64(s.aud.wins.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_ccsim_audience_calls_total", Help: "SIMULATED audience: calls and chats it placed to won tracking numbers and keys."},
			func() float64 { return float64(s.aud.calls.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_ccsim_audience_dropped_total", Help: "SIMULATED audience: wins ignored (queue full or unknown skill)."},
			func() float64 { return float64(s.aud.dropped.Load()) }),
	}
}
