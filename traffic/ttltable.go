package traffic

import (
	"sync"
	"sync/atomic"
)

// ttlTable is a bounded map from a device hash to a value with an expiry:
// the devices the bid path refuses, each with its block reason. The bid
// path reads it on every request, so it must not feed an admission policy
// the way a ristretto Get does (see Filter): reads here are atomic loads.
//
// Layout: a power-of-two array of 8-slot buckets; a key lives in the
// bucket its hash names. Readers (the bid path) take no lock: they load a
// slot's key, value and expiry and the key again, and use the value only
// when the key did not change. Writers (the feed's goroutines) take mu and
// give a new key a slot by clearing the key, writing value and expiry, then
// the key. A full bucket gives the slot that expires first to the new key:
// the table never grows (the memory bound of max_entries), and what it
// forgets first is what was about to end anyway.
type ttlTable struct {
	slots []ttlSlot
	mask  uint64 // bucket count − 1
	live  atomic.Int64
	mu    sync.Mutex // writers only
}

type ttlSlot struct {
	key atomic.Uint64 // 0: empty
	val atomic.Int64
	exp atomic.Int64 // unix nanos; the entry is gone from then on
}

const bucketSlots = 8

// newTTLTable holds about n entries (at least one bucket). The slots hold
// no pointers, so the GC never scans them, and pages never written stay
// untouched.
func newTTLTable(n int64) *ttlTable {
	buckets := uint64(1)
	for int64(buckets*bucketSlots) < n {
		buckets <<= 1
	}
	return &ttlTable{slots: make([]ttlSlot, buckets*bucketSlots), mask: buckets - 1}
}

func (t *ttlTable) bucket(key uint64) []ttlSlot {
	// Fibonacci hashing spreads keys that are themselves hashes or small
	// integers (tests) alike.
	b := (key * 0x9e3779b97f4a7c15 >> 32) & t.mask
	return t.slots[b*bucketSlots : (b+1)*bucketSlots]
}

// empty reports whether no entry was ever written: the bid path then skips
// the clock read (most bidders never see a SPAM outcome).
func (t *ttlTable) empty() bool { return t.live.Load() == 0 }

// get returns key's value if it is present and unexpired at now (unix
// nanos). Safe for any goroutine, no lock, no allocation.
func (t *ttlTable) get(key uint64, now int64) (int64, bool) {
	if key == 0 {
		return 0, false
	}
	b := t.bucket(key)
	for i := range b {
		s := &b[i]
		if s.key.Load() != key {
			continue
		}
		v, e := s.val.Load(), s.exp.Load()
		if s.key.Load() != key || now >= e {
			return 0, false
		}
		return v, true
	}
	return 0, false
}

// update sets key's entry to fn(old value, old expiry, present) at now;
// fn returns the new value and expiry. Writers only.
func (t *ttlTable) update(key uint64, now int64, fn func(val, exp int64, ok bool) (int64, int64)) {
	if key == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucket(key)
	victim := -1
	for i := range b {
		s := &b[i]
		k := s.key.Load()
		if k == key {
			v, e := s.val.Load(), s.exp.Load()
			v, e = fn(v, e, now < e)
			s.val.Store(v)
			s.exp.Store(e)
			return
		}
		switch {
		case k == 0 || now >= s.exp.Load():
			if victim < 0 || b[victim].key.Load() != 0 && now < b[victim].exp.Load() {
				victim = i
			}
		case victim < 0 || now < b[victim].exp.Load() && s.exp.Load() < b[victim].exp.Load():
			victim = i
		}
	}
	s := &b[victim]
	if s.key.Load() == 0 {
		t.live.Add(1)
	}
	v, e := fn(0, 0, false)
	s.key.Store(0)
	s.val.Store(v)
	s.exp.Store(e)
	s.key.Store(key)
}
