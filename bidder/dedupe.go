package bidder

import (
	"sync"
	"time"
)

// dedupe remembers, per bid id, which notice kinds were applied, so a retried
// win or bill changes state once and a notice that contradicts an earlier
// one is refused: a win or bill after the bid's loss (the loss freed the
// number; leasing it again could take it from another impression), or a loss
// after its win or bill. Entries come from live notices and from the
// impressions topic replayed at start (markReplayed), so a bill retried after
// a restart is not counted again.
//
// Each shard keeps two generations of entries: an entry lives between ttl
// and 2×ttl (or until a generation fills up), which bounds memory to
// 2 × shards × max entries. Notices are far rarer than bids; a shard mutex
// is fine here and never on the bid path.
type dedupe struct {
	ttl    time.Duration
	max    int
	shards [16]dedupeShard
}

type dedupeShard struct {
	mu       sync.Mutex
	cur, old map[uint64]uint8 // bid key → bit mask of applied kinds
	rotated  time.Time
}

// dedupeResult is what apply decided.
type dedupeResult uint8

const (
	dedupeFirst     dedupeResult = iota // apply it
	dedupeDuplicate                     // this kind was applied already
	dedupeConflict                      // contradicts an earlier notice of the bid
)

func newDedupe(ttl time.Duration, maxPerShard int) *dedupe {
	d := &dedupe{ttl: ttl, max: maxPerShard}
	for i := range d.shards {
		d.shards[i].cur = map[uint64]uint8{}
	}
	return d
}

func kindBit(k noticeKind) uint8 { return 1 << k }

// lock returns key's shard locked, rotated when due.
func (d *dedupe) lock(key uint64, now time.Time) *dedupeShard {
	sh := &d.shards[key%uint64(len(d.shards))]
	sh.mu.Lock()
	if sh.rotated.IsZero() {
		sh.rotated = now
	}
	if now.Sub(sh.rotated) > d.ttl || len(sh.cur) >= d.max {
		sh.old, sh.cur, sh.rotated = sh.cur, make(map[uint64]uint8, len(sh.cur)), now
	}
	return sh
}

// apply records a notice of kind for the bid key unless it is a duplicate
// or a conflict, atomically with the check.
func (d *dedupe) apply(key uint64, kind noticeKind, now time.Time) dedupeResult {
	sh := d.lock(key, now)
	defer sh.mu.Unlock()
	seen := sh.cur[key] | sh.old[key]
	switch {
	case seen&kindBit(kind) != 0:
		return dedupeDuplicate
	case kind == noticeLoss && seen&(kindBit(noticeWin)|kindBit(noticeBill)) != 0,
		kind != noticeLoss && seen&kindBit(noticeLoss) != 0:
		return dedupeConflict
	}
	sh.cur[key] = seen | kindBit(kind)
	return dedupeFirst
}

// mark records kind for key without checks (replayed notices of an earlier
// process: they were applied then).
func (d *dedupe) mark(key uint64, kind noticeKind, now time.Time) {
	sh := d.lock(key, now)
	sh.cur[key] = sh.cur[key] | sh.old[key] | kindBit(kind)
	sh.mu.Unlock()
}

// unmark forgets kind for key: a notice recorded by apply whose effect then
// failed (say, its lease record could not be made durable and the exchange
// is told to retry) must not make the retry a duplicate.
func (d *dedupe) unmark(key uint64, kind noticeKind, now time.Time) {
	sh := d.lock(key, now)
	if m, ok := sh.cur[key]; ok {
		sh.cur[key] = m &^ kindBit(kind)
	}
	if m, ok := sh.old[key]; ok {
		sh.old[key] = m &^ kindBit(kind)
	}
	sh.mu.Unlock()
}
