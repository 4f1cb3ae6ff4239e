package bidder

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/events"
)

// Call caps: pay-per-call buyers cap the calls a campaign takes per hour,
// per day and at once. Calls are counted from callbid.attribution.v1 (an
// accepted call attributed to the campaign: the call started) and
// cc.call.v1 (ANSWERED starts a call in progress, ENDED ends it). Both
// consumers replay their topics from the beginning at start, so today's
// counts come back after a restart.
//
// Goroutines: HandleAttribution and HandleCall run on the two consumers'
// goroutines and share callTable.mu; the bid path reads only the atomic
// counters of a campaign's callCounter.

// CallCapsConfig is a campaign's call caps; 0 = no cap.
type CallCapsConfig struct {
	PerHour    int `yaml:"per_hour"`   // calls started in a clock hour of the campaign's time zone
	PerDay     int `yaml:"per_day"`    // calls started in the campaign's budget day
	Concurrent int `yaml:"concurrent"` // calls answered and not ended
	// RepeatWindow: a caller (ANI) calling the campaign again within it
	// counts once against per_hour and per_day; 0 counts every call.
	RepeatWindow time.Duration `yaml:"repeat_window"`
}

func (c *CallCapsConfig) validate(p string, add func(path, format string, args ...any)) {
	for name, v := range map[string]int{"per_hour": c.PerHour, "per_day": c.PerDay, "concurrent": c.Concurrent} {
		if v < 0 {
			add(p+".call_caps."+name, "must not be negative")
		}
	}
	if c.RepeatWindow < 0 {
		add(p+".call_caps.repeat_window", "must not be negative")
	}
	if c.PerHour > 0 && c.PerDay > 0 && c.PerHour > c.PerDay {
		add(p+".call_caps.per_hour", "is above per_day (%d)", c.PerDay)
	}
}

// callCounter is one campaign's call counts (kept across reloads by id).
type callCounter struct {
	hour, hourN atomic.Int64 // hour index (local day × 24 + hour) and its unique calls
	day, dayN   atomic.Int64 // budget day and its unique calls
	concurrent  atomic.Int64
	repeats     atomic.Int64 // calls not counted: the same caller within repeat_window
	loc         atomic.Pointer[time.Location]
	window      atomic.Int64 // repeat_window, ns
}

// capReached reports whether c's caps stop its bids in hour hourIdx of day.
func (cc *callCounter) capReached(c *campaign, hourIdx, day int64) bool {
	switch {
	case c.capConcurrent > 0 && cc.concurrent.Load() >= c.capConcurrent:
		return true
	case c.capHour > 0 && cc.hour.Load() == hourIdx && cc.hourN.Load() >= c.capHour:
		return true
	case c.capDay > 0 && cc.day.Load() == day && cc.dayN.Load() >= c.capDay:
		return true
	}
	return false
}

// callEntry is one call seen on either topic.
type callEntry struct {
	campaign   string
	answered   bool
	ended      bool
	inProgress bool // counted in concurrent
	seen       time.Time
}

// callTable follows calls from their attribution to their end.
type callTable struct {
	mu        sync.Mutex
	counters  map[string]*callCounter
	calls     map[string]*callEntry // by call id
	lastCall  map[callerKey]time.Time
	lastSweep time.Time
}

type callerKey struct{ campaign, ani string }

// Bounds: a call not ended after maxCallAge stops counting as in progress
// (its ENDED was lost); maxCalls bounds the table (oldest first out).
const (
	maxCallAge = 4 * time.Hour
	maxCalls   = 200_000
)

func newCallTable() *callTable {
	return &callTable{counters: map[string]*callCounter{}, calls: map[string]*callEntry{},
		lastCall: map[callerKey]time.Time{}}
}

func (t *callTable) counter(id string) *callCounter {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counterLocked(id)
}

func (t *callTable) counterLocked(id string) *callCounter {
	c, ok := t.counters[id]
	if !ok {
		c = &callCounter{}
		c.loc.Store(time.UTC)
		t.counters[id] = c
	}
	return c
}

// HandleAttribution counts an accepted, attributed call against its
// campaign's hour and day (once per caller within the repeat window) and
// starts following it for the concurrent cap; value-based bidding learns
// calls, sales and revenue from it (value.go). Wire it to the
// callbid.attribution.v1 consumer; it never fails a record.
func (b *Bidder) HandleAttribution(a *events.Attribution) error {
	b.learnValue(a)
	if !a.Accepted || a.CampaignID == "" || a.CallID == "" || a.Disposition != "" || a.IsFinal {
		return nil // refused, unattributed, or feedback's re-emission with the outcome
	}
	t := b.calls
	now := b.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.calls[a.CallID]
	if ok && e.campaign != "" {
		return nil // a duplicate (or our own re-emission with an outcome)
	}
	if !ok {
		e = &callEntry{seen: now}
		if len(t.calls) < maxCalls { // full: counted, not followed
			t.calls[a.CallID] = e
		}
	}
	e.campaign = a.CampaignID
	cc := t.counterLocked(a.CampaignID)
	at := a.StartedAt
	if at.IsZero() {
		at = now
	}
	if w := time.Duration(cc.window.Load()); w > 0 && a.ANI != "" {
		k := callerKey{a.CampaignID, a.ANI}
		last, seen := t.lastCall[k]
		t.lastCall[k] = at
		if seen && at.Sub(last) < w && at.Sub(last) > -w {
			cc.repeats.Add(1)
			t.followLocked(e, cc, now)
			return nil
		}
	}
	l := at.In(cc.loc.Load())
	day := dayIndex(l)
	hour := day*24 + int64(l.Hour())
	bump(&cc.hour, &cc.hourN, hour)
	bump(&cc.day, &cc.dayN, day)
	t.followLocked(e, cc, now)
	t.sweepLocked(now)
	return nil
}

// bump adds a call to the window idx, resetting it when idx is newer; a
// call of an older window (a late or replayed record) is not counted.
func bump(win, n *atomic.Int64, idx int64) {
	switch cur := win.Load(); {
	case idx > cur:
		win.Store(idx)
		n.Store(1)
	case idx == cur:
		n.Add(1)
	}
}

// followLocked updates the concurrent count of e's campaign.
func (t *callTable) followLocked(e *callEntry, cc *callCounter, now time.Time) {
	want := e.answered && !e.ended && e.campaign != "" && now.Sub(e.seen) < maxCallAge
	if want != e.inProgress {
		e.inProgress = want
		if want {
			cc.concurrent.Add(1)
		} else {
			cc.concurrent.Add(-1)
		}
	}
}

// HandleCall follows cc.call.v1: ANSWERED puts an attributed call in
// progress, ENDED takes it out. Wire it to the cc.call.v1 consumer.
func (b *Bidder) HandleCall(c *events.Call) error {
	if c.EventType != events.CallAnswered && c.EventType != events.CallEnded {
		return nil
	}
	t := b.calls
	now := b.now()
	if now.Sub(c.OccurredAt) > maxCallAge {
		return nil // replayed history: long over
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.calls[c.CallID]
	if !ok {
		if len(t.calls) >= maxCalls {
			return nil // full of calls in progress: the sweep makes room
		}
		e = &callEntry{seen: now}
		t.calls[c.CallID] = e
	}
	if c.EventType == events.CallAnswered {
		e.answered = true
	} else {
		e.ended = true
	}
	if e.campaign != "" {
		t.followLocked(e, t.counterLocked(e.campaign), now)
	}
	t.sweepLocked(now)
	return nil
}

// sweepLocked forgets ended and stale calls and old callers, at most once
// a minute (or when forced by a time far ahead).
func (t *callTable) sweepLocked(now time.Time) {
	if now.Sub(t.lastSweep) < time.Minute {
		return
	}
	t.lastSweep = now
	for id, e := range t.calls {
		if now.Sub(e.seen) >= maxCallAge || (e.ended && now.Sub(e.seen) >= time.Hour) {
			if e.inProgress && e.campaign != "" {
				e.inProgress = false
				t.counterLocked(e.campaign).concurrent.Add(-1)
			}
			delete(t.calls, id)
		}
	}
	for k, at := range t.lastCall {
		if now.Sub(at) > 7*24*time.Hour {
			delete(t.lastCall, k)
		}
	}
}

// CallCounts is a campaign's current call counts (status and tests).
type CallCounts struct {
	Hour, Day, Concurrent, Repeats int64
}

// CallCounts returns the counts of campaign id (zero windows when other
// than the current hour and day of now).
func (b *Bidder) CallCounts(id string, now time.Time) CallCounts {
	cc := b.calls.counter(id)
	l := now.In(cc.loc.Load())
	day := dayIndex(l)
	out := CallCounts{Concurrent: cc.concurrent.Load(), Repeats: cc.repeats.Load()}
	if cc.hour.Load() == day*24+int64(l.Hour()) {
		out.Hour = cc.hourN.Load()
	}
	if cc.day.Load() == day {
		out.Day = cc.dayN.Load()
	}
	return out
}
