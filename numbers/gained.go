package numbers

import (
	"context"
	"sync/atomic"
	"time"
)

// A partition this instance gains in a rebalance may hold records it has not
// read yet: what the previous owner did in its last moments (a hold that
// ended without a record, the number reserved and leased again). Until the
// lease consumer has handled the partition up to its end offset at
// assignment, this instance treats the partition's numbers as another
// instance's and more: it reserves none of them, and a win or a restore that
// would lease one is refused (WinCollision; Ownership().RefusedUnread counts
// them), since its copy may be older than the number's latest lease
// (takeover_test.go). Without a LeaseReader (tests, one instance) ownership
// starts at once.

// LeaseReader is the lease log consumer as ownership needs it
// (kafkaio.Consumer).
type LeaseReader interface {
	// EndOffsets lists the current end offsets of the given partitions.
	EndOffsets(ctx context.Context, partitions []int) (map[int]int64, error)
	// Handled reports whether every record of the partition below end has
	// been handed to the handler (ApplyLeaseEvent).
	Handled(partition int, end int64) bool
}

// ReadGainedWith makes ownership of a gained partition wait for r to have
// read it (see above). Set it before the consumer group assigns partitions.
func (p *Pools) ReadGainedWith(r LeaseReader) { p.gainedReader = r }

// markUnread flags the partitions of o not owned in the previous non-empty
// assignment (last) as unread; the caller holds sharedQ.mu and publishes o
// afterwards. It returns the flagged partitions.
func (p *Pools) markUnread(o *ownership, last []int) []int {
	if p.gainedReader == nil || len(o.owned) == 0 {
		return nil
	}
	var gained []int
	for _, k := range o.owned {
		if k >= 0 && k < o.partitions && !contains(last, k) {
			gained = append(gained, k)
		}
	}
	if len(gained) == 0 {
		return nil
	}
	o.unread = make([]atomic.Bool, o.partitions)
	for _, k := range gained {
		o.unread[k].Store(true)
	}
	o.nUnread.Store(int32(len(gained)))
	return gained
}

func contains(s []int, k int) bool {
	for _, x := range s {
		if x == k {
			return true
		}
	}
	return false
}

// awaitGained clears o's unread partitions as the consumer reads them up to
// their end offsets now; it gives up when o is replaced. Runs on its own
// goroutine, one per assignment that gains partitions.
func (p *Pools) awaitGained(o *ownership, parts []int) {
	r := p.gainedReader
	var ends map[int]int64
	for attempt := 0; ; attempt++ {
		if p.own.Load() != o {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var err error
		ends, err = r.EndOffsets(ctx, parts)
		cancel()
		if err == nil {
			break
		}
		if attempt%10 == 0 {
			p.log.Warn().Err(err).Ints("partitions", parts).
				Msg("cannot list the end offsets of gained lease partitions; their numbers stay unreserved until they are read")
		}
		time.Sleep(time.Duration(min(attempt+1, 10)) * 100 * time.Millisecond)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if p.own.Load() != o {
			return
		}
		for _, k := range parts {
			if o.isUnread(k) && r.Handled(k, ends[k]) {
				o.setRead(k)
				p.log.Info().Int("partition", k).Int64("end_offset", ends[k]).
					Msg("gained lease partition read up to its end offset at assignment; reserving its numbers")
			}
		}
		if o.nUnread.Load() == 0 {
			p.unpark()
			if p.afterGainedRead != nil {
				p.afterGainedRead()
			}
			return
		}
		<-tick.C
	}
}

// isUnread reports whether partition k waits to be read.
func (o *ownership) isUnread(k int) bool { return o.nUnread.Load() != 0 && o.unread[k].Load() }

// setRead ends partition k's wait.
func (o *ownership) setRead(k int) {
	if o.unread[k].CompareAndSwap(true, false) {
		o.nUnread.Add(-1)
	}
}

// unreadEntry reports whether entry i is in a gained partition not read yet.
func (o *ownership) unreadEntry(i int32) bool {
	return o != nil && o.nUnread.Load() != 0 && o.has(i) && o.unread[o.partOf[i]].Load()
}

// mine reports whether this instance may reserve entry i: owned, and its
// partition read.
func (o *ownership) mine(i int32) bool { return o.has(i) && !o.unreadEntry(i) }
