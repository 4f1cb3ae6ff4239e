package numbers

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/events"

	"github.com/callbid/callbid/kafkaio"
)

// Several callbid instances share the pools by Kafka partition ownership:
// the consumer group on the lease log (the wiring's kafkaio.PoolGroup) assigns
// each instance a set of the lease topic's partitions, and an instance
// reserves only numbers whose lease key the producer's balancer (murmur2, as
// the Java client) puts on a partition it owns. Every instance still reads
// the whole lease log, so each keeps a replica of every number's state and
// answers calls and notices for any number. Without SetOwnership (one
// instance, the default) an instance owns every number.
//
// A free number an instance does not own is parked (stParked, a free
// entry on its own list) the first time Reserve meets it at the head of a
// free list, so Reserve never walks past it again; SetOwnership puts parked
// entries it now owns back on the free list.

// ownership is one immutable assignment (behind Pools.own).
type ownership struct {
	partitions int      // of the lease topic
	owned      []int    // sorted partition ids
	bits       []uint64 // bit i: entry i's lease key maps to an owned partition
	numbers    int      // entries owned
	partOf     []uint16 // entry i's lease partition
	// unread: partitions gained by this assignment that the lease consumer
	// has not read up to their end offset yet (gained.go); nUnread counts
	// them. Nil when none was.
	unread  []atomic.Bool
	nUnread atomic.Int32
	// wait bounds the wait for the unread partitions; stopWait ends it
	// when a newer assignment replaces this one (retire). Nil when none
	// was gained.
	wait     context.Context
	stopWait context.CancelFunc
}

func (o *ownership) has(i int32) bool { return o == nil || o.bits[i/64]&(1<<(i%64)) != 0 }

// ownerMargin: a number this instance does not own is leased by a notice
// here only while its hold has this much time left, so the owner (whose
// clock may differ, and whose next hold record may still be on its way)
// cannot have reserved it again; later notices are collisions.
const ownerMargin = int64(2e9)

// PartitionOf is the lease-topic partition of a lease key among n
// partitions: the producer's balancer, so it matches where the record goes.
func PartitionOf(key []byte, n int) int {
	return kafkaio.Partitioner(n)(key)
}

// SetOwnership tells the pools which of the lease topic's partitions this
// instance owns (the consumer group's assignment). partitions 0 means "not
// shared": every number is owned (the default). An empty owned list (a
// rebalance in progress, or not in the group yet) means no number is
// reserved until the next assignment. Safe to call from any goroutine.
func (p *Pools) SetOwnership(partitions int, owned []int) {
	if partitions <= 0 {
		p.own.Swap(nil).retire()
		p.unpark()
		return
	}
	o := &ownership{partitions: partitions, owned: slices.Sorted(slices.Values(owned))}
	mine := make([]bool, partitions)
	for _, k := range owned {
		if k >= 0 && k < partitions {
			mine[k] = true
		}
	}
	o.bits = make([]uint64, (len(p.entries)+63)/64)
	o.partOf = make([]uint16, len(p.entries))
	partitionOf := kafkaio.Partitioner(partitions)
	var key []byte
	for i := range p.entries {
		e164, ext := p.numberOf(int32(i))
		key = appendLeaseKey(key[:0], e164, ext)
		k := partitionOf(key)
		o.partOf[i] = uint16(k)
		if mine[k] {
			o.bits[i/64] |= 1 << (i % 64)
			o.numbers++
		}
	}
	unread := p.storeOwnership(o) // quarantines the numbers gained (quarantine_shared.go)
	p.unpark()
	if len(unread) > 0 {
		p.log.Info().Ints("partitions", unread).
			Msg("lease partitions gained; their numbers wait until the lease log is read up to its end offset")
		p.startGained(o, unread)
	}
	p.log.Info().Int("partitions", partitions).Ints("owned", o.owned).Int("numbers_owned", o.numbers).
		Msg("lease partitions assigned; reserving only the numbers of these partitions")
}

// owns reports whether this instance may reserve entry i (owned, and its
// partition read since it was gained: gained.go).
func (p *Pools) owns(i int32) bool { return p.own.Load().mine(i) }

// newerThanReplica reports whether generation gen of a number another
// instance owns is newer than what this replica has read of it (nothing at
// all: the entry's generation is this process's own start value, which says
// nothing about the owner's clock); the caller holds the shard lock.
func (p *Pools) newerThanReplica(i int32, gen uint32) bool {
	return p.replayed[i/64]&(1<<(i%64)) == 0 || int32(gen-p.entries[i].gen) > 0
}

// staleShared reports whether a lease record (generation gen, state st)
// would move this replica's entry i backwards (shared pools; the caller
// holds the shard lock). Several instances write records of one number — the
// owner its holds, any instance the lease it took a notice for — so the
// owner's hold record can land after another instance's lease record of the
// same reservation: a lease never goes back to its own hold, and an older
// generation never replaces a newer one this replica knows.
func (p *Pools) staleShared(i int32, gen uint32, st string) bool {
	e := &p.entries[i]
	known := p.replayed[i/64]&(1<<(i%64)) != 0 || e.flags&(fData|fLeased) != 0 || !p.previousProcess(e.gen)
	if !known {
		return false
	}
	if int32(gen-e.gen) < 0 {
		return true
	}
	return gen == e.gen && st == "held" && e.flags&fLeased != 0
}

// unpark puts parked entries this instance now owns back on the free list.
func (p *Pools) unpark() {
	o := p.own.Load()
	for pi := range p.pools {
		pl := &p.pools[pi]
		for k := range pl.shards {
			s := &pl.shards[k]
			s.mu.Lock()
			for i := s.lists[stParked].head; i >= 0; {
				next := p.entries[i].next
				if o.mine(i) {
					s.remove(p.entries, i)
					s.pushTail(p.entries, stFree, i)
				}
				i = next
			}
			s.mu.Unlock()
		}
	}
}

// Ownership is what /admin/pools shows about partition ownership.
type Ownership struct {
	Shared        bool  `json:"shared"`
	Partitions    int   `json:"partitions,omitempty"`
	Owned         []int `json:"owned_partitions"`
	NumbersOwned  int   `json:"numbers_owned"`
	NumbersTotal  int   `json:"numbers_total"`
	ParkedNumbers int   `json:"parked_numbers"`
	// Unread: gained partitions not read up to their end offset yet; their
	// numbers are not reserved, and wins that would lease them are refused
	// (RefusedUnread counts those, since start).
	Unread        []int  `json:"unread_partitions,omitempty"`
	RefusedUnread uint64 `json:"refused_unread"`
}

// Ownership returns the current assignment.
func (p *Pools) Ownership() Ownership {
	o := p.own.Load()
	st := Ownership{NumbersOwned: len(p.entries), NumbersTotal: len(p.entries), Owned: []int{}}
	if o != nil {
		st.Shared, st.Partitions, st.Owned, st.NumbersOwned = true, o.partitions, o.owned, o.numbers
		for _, k := range o.owned {
			if k >= 0 && k < o.partitions && o.isUnread(k) {
				st.Unread = append(st.Unread, k)
			}
		}
	}
	st.RefusedUnread = p.refusedUnread.Load()
	for pi := range p.pools {
		for k := range p.pools[pi].shards {
			s := &p.pools[pi].shards[k]
			s.mu.Lock()
			st.ParkedNumbers += int(s.count[stParked])
			s.mu.Unlock()
		}
	}
	return st
}

// Share is the fraction of the numbers this instance owns (1 unless
// shared): how much of the pools' — and so of the contact center's —
// capacity it may buy.
func (p *Pools) Share() float64 {
	o := p.own.Load()
	if o == nil || len(p.entries) == 0 {
		return 1
	}
	return float64(o.numbers) / float64(len(p.entries))
}

// OnOtherHold makes the lease consumer call fn for every hold record another
// instance writes while the pools are shared: each is one of its bids
// (campaign, skill, publisher, exchange, reserved at), which pacing counts
// in the calls in flight and the exchange's bids (pacing/others.go). Set
// it before the lease consumer starts; fn runs on its goroutine and must
// copy the strings it keeps.
func (p *Pools) OnOtherHold(fn func(campaign, skill, publisher, exchange string, at, now time.Time)) {
	p.onOtherHold = fn
}

// otherHold passes another instance's hold record on to OnOtherHold's fn.
// A hold without a campaign is a restart quarantine's, not a bid.
func (p *Pools) otherHold(v *events.Lease, now time.Time) {
	if p.onOtherHold == nil || v.State != events.LeaseHeld || v.Campaign == "" || p.own.Load() == nil {
		return
	}
	p.onOtherHold(v.Campaign, v.Skill, v.Publisher, v.Exchange, time.Unix(0, v.ReservedAt), now)
}
