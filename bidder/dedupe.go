package bidder

import (
	"sync"
	"time"
)

// dedupe remembers which notices were applied so a retried win or bill
// changes state once. Each shard keeps two generations of keys: a key lives
// between ttl and 2×ttl (or until a generation fills up), which bounds memory
// to 2 × shards × max entries.
type dedupe struct {
	ttl    time.Duration
	max    int
	shards [16]dedupeShard
}

type dedupeShard struct {
	mu       sync.Mutex
	cur, old map[uint64]struct{}
	rotated  time.Time
}

func newDedupe(ttl time.Duration, maxPerShard int) *dedupe {
	d := &dedupe{ttl: ttl, max: maxPerShard}
	for i := range d.shards {
		d.shards[i].cur = map[uint64]struct{}{}
	}
	return d
}

// first records key and reports whether it was new.
func (d *dedupe) first(key uint64, now time.Time) bool {
	sh := &d.shards[key%uint64(len(d.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.rotated.IsZero() {
		sh.rotated = now
	}
	if now.Sub(sh.rotated) > d.ttl || len(sh.cur) >= d.max {
		sh.old, sh.cur, sh.rotated = sh.cur, make(map[uint64]struct{}, len(sh.cur)), now
	}
	if _, ok := sh.cur[key]; ok {
		return false
	}
	if _, ok := sh.old[key]; ok {
		return false
	}
	sh.cur[key] = struct{}{}
	return true
}
