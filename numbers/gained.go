package numbers

import (
	"context"
	"errors"
	"sync"
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
//
// The wait runs on its own goroutine per assignment that gains partitions,
// and blocks on signals only: the lease consumer's progress (WaitHandled),
// the assignment being replaced, and the context given to ReadGainedWith
// (the process's shutdown).

// LeaseReader is the lease log consumer as ownership needs it
// (kafkaio.Consumer).
type LeaseReader interface {
	// EndOffsets lists the current end offsets of the given partitions.
	EndOffsets(ctx context.Context, partitions []int) (map[int]int64, error)
	// WaitHandled returns nil once every record of the partition below end
	// has been handed to the handler (ApplyLeaseEvent), or an error when
	// ctx ends or the reader stops first.
	WaitHandled(ctx context.Context, partition int, end int64) error
}

// gainedWait is what Pools keeps for those waits.
type gainedWait struct {
	reader LeaseReader
	ctx    context.Context // ends every wait (ReadGainedWith)
	wg     sync.WaitGroup  // the awaitGained goroutines
	// backoff is the pause before retry attempt n of EndOffsets
	// (gainedBackoff; tests shorten it).
	backoff func(attempt int) time.Duration
	// onRead is a test hook: gained partition k has been read.
	onRead func(k int)
}

// gainedBackoff: 100 ms more per failed attempt, at most 1 s.
func gainedBackoff(attempt int) time.Duration {
	return time.Duration(min(attempt+1, 10)) * 100 * time.Millisecond
}

// ReadGainedWith makes ownership of a gained partition wait for r to have
// read it (see above); when ctx ends, the waits end (the partitions stay
// unread). Set it before the consumer group assigns partitions.
func (p *Pools) ReadGainedWith(ctx context.Context, r LeaseReader) {
	p.gained.ctx, p.gained.reader = ctx, r
}

// markUnread flags the partitions of o not owned in the previous non-empty
// assignment (last), or still unread there, as unread, and gives o the
// context its wait runs under; the caller holds sharedQ.mu and publishes o
// afterwards. It returns the flagged partitions.
func (p *Pools) markUnread(o *ownership, last *ownership) []int {
	if p.gained.reader == nil || len(o.owned) == 0 {
		return nil
	}
	var gained []int
	for _, k := range o.owned {
		// A partition gained, or gained before a rebalance that ended the
		// wait for it (an empty assignment between two that hold it).
		if k >= 0 && k < o.partitions && (last == nil || !contains(last.owned, k) || last.isUnread(k)) {
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
	parent := p.gained.ctx
	if parent == nil {
		parent = context.Background()
	}
	o.wait, o.stopWait = context.WithCancel(parent)
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

// retire ends the wait of an assignment that was replaced.
func (o *ownership) retire() {
	if o != nil && o.stopWait != nil {
		o.stopWait()
	}
}

// startGained starts the wait for o's unread partitions parts.
func (p *Pools) startGained(o *ownership, parts []int) {
	p.gained.wg.Add(1)
	go func() {
		defer p.gained.wg.Done()
		p.awaitGained(o, parts)
	}()
}

// awaitGained clears o's unread partitions as the consumer reads them up to
// their end offsets now; it gives up when o is replaced or ReadGainedWith's
// context ends (o.wait).
func (p *Pools) awaitGained(o *ownership, parts []int) {
	ctx, r := o.wait, p.gained.reader
	defer o.stopWait()
	backoff := p.gained.backoff
	if backoff == nil {
		backoff = gainedBackoff
	}
	var ends map[int]int64
	for attempt := 0; ; attempt++ {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var err error
		ends, err = r.EndOffsets(lctx, parts)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		if attempt%10 == 0 {
			p.log.Warn().Err(err).Ints("partitions", parts).
				Msg("cannot list the end offsets of gained lease partitions; their numbers stay unreserved until they are read")
		}
		if !sleepCtx(ctx, backoff(attempt)) {
			return
		}
	}
	// One waiter per partition: each is reserved from as soon as it is
	// read, whatever the order the fetchers reach their ends.
	var wg sync.WaitGroup
	for _, k := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.WaitHandled(ctx, k, ends[k])
			switch {
			case err == nil:
				o.setRead(k)
				p.log.Info().Int("partition", k).Int64("end_offset", ends[k]).
					Msg("gained lease partition read up to its end offset at assignment; reserving its numbers")
				if p.own.Load() == o {
					p.unpark()
				}
				if p.gained.onRead != nil {
					p.gained.onRead(k)
				}
			case ctx.Err() == nil && !errors.Is(err, context.Canceled):
				p.log.Warn().Err(err).Int("partition", k).
					Msg("cannot wait for a gained lease partition to be read; its numbers stay unreserved until the next assignment")
			}
		}()
	}
	wg.Wait()
}

// sleepCtx waits d, or less when ctx ends first; it reports whether ctx
// is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
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
