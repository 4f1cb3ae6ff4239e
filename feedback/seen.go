package feedback

import (
	"sync"
	"sync/atomic"
	"time"
)

// seenCounter counts one skill's requests seen since the last fold, and the
// latest request's time. The bid path adds to it; the aggregator swaps it.
type seenCounter struct {
	n  atomic.Int64
	at atomic.Int64 // unix nanoseconds of the latest request counted
}

// seenCounters is the per-skill table behind RecordSeen. The bid path reads
// an immutable map behind an atomic pointer (a skill's first request copies
// it under mu); it used to send a record per matching skill and request
// through the records channel, which with the fold's lock and map lookups
// per request cost more than the count was worth.
type seenCounters struct {
	tab atomic.Pointer[map[string]*seenCounter]
	mu  sync.Mutex // serialises copy-on-write of tab
}

// add counts one request of skill at t.
func (c *seenCounters) add(skill string, t time.Time) {
	if tab := c.tab.Load(); tab != nil {
		if s, ok := (*tab)[skill]; ok {
			s.n.Add(1)
			s.at.Store(t.UnixNano())
			return
		}
	}
	c.mu.Lock()
	old := c.tab.Load()
	next := make(map[string]*seenCounter, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	s := next[skill]
	if s == nil {
		s = &seenCounter{}
		next[skill] = s
	}
	c.tab.Store(&next)
	c.mu.Unlock()
	s.n.Add(1)
	s.at.Store(t.UnixNano())
}

// fold hands each skill's count since the last fold to fn with the latest
// request's time (the whole count lands in that request's report hour and
// demand interval: a fold every few milliseconds moves at most that much
// across a boundary).
func (c *seenCounters) fold(fn func(skill string, at, n int64)) {
	tab := c.tab.Load()
	if tab == nil {
		return
	}
	for skill, s := range *tab {
		if n := s.n.Swap(0); n > 0 {
			fn(skill, s.at.Load(), n)
		}
	}
}
