package numbers

import "sync"

// With shared pools the start-up quarantine (see quarantine) applies to the
// numbers this instance gains: the partitions of its first assignment after
// the lease log is replayed, and on every later assignment the partitions it
// did not own in its previous one. Their previous owner — a crashed instance,
// this process before a restart, or a live instance the group took them from
// — may have reserved the numbers at the head of its free lists in its last
// few ms without the hold reaching the lease log; those entries, and holds
// the log shows as expired, are held for one hold time, so a late win for
// them is restored from its token instead of colliding with a new bid.
// Numbers it kept owning are not touched: their holds are in its own memory.

// sharedQuarantine is that bookkeeping; mu also orders SetOwnership against
// ReplayDone, so an assignment that arrives while the log is replayed is
// quarantined exactly once, when the replay ends.
type sharedQuarantine struct {
	mu       sync.Mutex
	replayed bool     // ReplayDone has run (or the pools never paused)
	last     []uint64 // bit i: entry i was owned in the last non-empty assignment
	// lastOwn: the last non-empty assignment.
	lastOwn *ownership
	// quarantinedGained counts the entries held by this quarantine.
	quarantinedGained uint64
}

// storeOwnership publishes assignment o (shared pools), quarantining the
// numbers it gains first, so Reserve never sees them free. It returns the
// partitions gained that wait to be read (gained.go).
func (p *Pools) storeOwnership(o *ownership) []int {
	q := &p.sharedQ
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.replayed || !p.Replaying() {
		p.quarantineGainedLocked(o)
	}
	unread := p.markUnread(o, q.lastOwn)
	if len(o.owned) > 0 {
		q.lastOwn = o
	}
	p.own.Swap(o).retire() // a wait for the partitions it gained ends
	return unread
}

// replayDoneShared is ReplayDone's part with shared pools: the assignment
// that came during the replay is quarantined now.
func (p *Pools) replayDoneShared() {
	q := &p.sharedQ
	q.mu.Lock()
	defer q.mu.Unlock()
	q.replayed = true
	if o := p.own.Load(); o != nil {
		p.quarantineGainedLocked(o)
	}
}

// quarantineGainedLocked holds, in every shard, the entries of o that were
// not in the last non-empty assignment and that the previous owner would have
// reserved next; the caller holds sharedQ.mu. An empty assignment (a
// rebalance in progress) changes nothing. Nothing is held while no other
// process has written a lease record (an empty log at start and no other
// instance since): then no other process has reserved any number.
func (p *Pools) quarantineGainedLocked(o *ownership) {
	if o == nil || o.numbers == 0 {
		return
	}
	q := &p.sharedQ
	gained := make([]uint64, len(o.bits))
	gainedAny := false
	for w := range o.bits {
		gained[w] = o.bits[w]
		if w < len(q.last) {
			gained[w] &^= q.last[w]
		}
		gainedAny = gainedAny || gained[w] != 0
	}
	q.last = append(q.last[:0], o.bits...)
	p.durable.mu.Lock()
	others := p.durable.seenGen
	p.durable.mu.Unlock()
	if !gainedAny || !others {
		return
	}
	t := p.clockNow().UnixNano()
	n := 0
	has := func(i int32) bool { return gained[i/64]&(1<<(i%64)) != 0 }
	for pi := range p.pools {
		pl := &p.pools[pi]
		for k := range pl.shards {
			s := &pl.shards[k]
			s.mu.Lock()
			free := 0
			for _, st := range [...]state{stFree, stParked} {
				for i := s.lists[st].head; i >= 0; i = p.entries[i].next {
					if has(i) {
						free++
					}
				}
			}
			maxFresh := min(quarantineFresh, free/8)
			fresh := 0
			// Parked entries first: Reserve parked them when it met them at
			// the head of the free list, so they come before what is left
			// there, as on the previous owner's free list.
			for _, st := range [...]state{stParked, stFree} {
				for i := s.lists[st].head; i >= 0; {
					next := p.entries[i].next
					if has(i) && p.holdBack(s, i, t, &fresh, maxFresh) {
						n++
					}
					i = next
				}
			}
			s.mu.Unlock()
		}
	}
	q.quarantinedGained += uint64(n)
	if n > 0 {
		p.log.Info().Int("numbers", n).Ints("owned", o.owned).
			Msg("lease partitions gained; holding for one hold time the numbers their previous owner may have reserved unlogged")
	}
}
