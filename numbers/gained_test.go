package numbers

import (
	"context"
	"slices"
	"testing"
	"time"
)

// waitGained returns once every wait for gained partitions has ended; it
// fails the test when one is still running after d (a wait that ignores
// its signals).
func waitGained(t *testing.T, p *Pools, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { p.gained.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: the wait for the gained partitions is still running after %s", what, d)
	}
}

// gainedPools is one instance of shared pools whose gained partitions wait
// for r, under ctx.
func gainedPools(t *testing.T, ctx context.Context, r *fakeLeaseReader) *Pools {
	t.Helper()
	p := mustNew(t, onePool(8), nil)
	p.ReadGainedWith(ctx, r)
	p.gained.backoff = func(int) time.Duration { return 0 }
	return p
}

// TestGainedWaitRetriesEndOffsets: listing the end offsets fails twice
// (the broker away); the wait retries, then reserves the partitions as the
// consumer reads them, one by one, with nothing but the consumer's
// progress to wake it.
func TestGainedWaitRetriesEndOffsets(t *testing.T) {
	r := &fakeLeaseReader{end: map[int]int64{0: 5, 1: 9}, handled: map[int]int64{}, failEnds: 2}
	p := gainedPools(t, t.Context(), r)
	read := make(chan int, 2)
	p.gained.onRead = func(k int) { read <- k }
	p.SetOwnership(2, []int{0, 1})
	if o := p.Ownership(); !slices.Equal(o.Unread, []int{0, 1}) {
		t.Fatalf("ownership %+v, want both partitions unread", o)
	}
	if _, ok := p.Reserve(0, testClaim(1), t0); ok {
		t.Fatal("reserved before any gained partition was read")
	}
	r.setHandled(1, 9)
	// Partition 1 is read: it is reserved from while 0 still waits.
	if k := <-read; k != 1 {
		t.Fatalf("partition %d read, want 1", k)
	}
	if o := p.Ownership(); !slices.Equal(o.Unread, []int{0}) {
		t.Errorf("ownership %+v, want partition 0 still unread", o)
	}
	r.setHandled(0, 5)
	if k := <-read; k != 0 {
		t.Fatalf("partition %d read, want 0", k)
	}
	if o := p.Ownership(); len(o.Unread) != 0 {
		t.Errorf("ownership %+v after both partitions were read", o)
	}
	if _, ok := p.Reserve(0, testClaim(2), t0); !ok {
		t.Error("no reservation once every gained partition was read")
	}
	r.mu.Lock()
	calls := r.endCalls
	r.mu.Unlock()
	if calls != 3 {
		t.Errorf("EndOffsets called %d times, want 3 (two failures, then the list)", calls)
	}
	waitGained(t, p, 10*time.Second, "both partitions read")
}

// TestGainedWaitEndsAtShutdown: the wait ends as soon as ReadGainedWith's
// context ends, both while it retries EndOffsets (the old code slept up to
// a second between attempts, and never stopped) and while it waits for the
// consumer; the partitions stay unread.
func TestGainedWaitEndsAtShutdown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failEnds int
	}{{"listing end offsets", 1 << 30}, {"waiting for the consumer", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			r := &fakeLeaseReader{end: map[int]int64{0: 5, 1: 9}, handled: map[int]int64{}, failEnds: tc.failEnds}
			ctx, cancel := context.WithCancel(t.Context())
			p := gainedPools(t, ctx, r)
			p.gained.backoff = func(int) time.Duration { return time.Hour }
			p.SetOwnership(2, []int{0, 1})
			cancel()
			waitGained(t, p, 10*time.Second, "shutdown")
			if o := p.Ownership(); !slices.Equal(o.Unread, []int{0, 1}) {
				t.Errorf("ownership %+v, want both partitions still unread", o)
			}
		})
	}
}

// TestGainedWaitEndsWhenReplaced: a newer assignment ends the wait of the
// one it replaces (the old code polled for that every 10 ms).
func TestGainedWaitEndsWhenReplaced(t *testing.T) {
	r := &fakeLeaseReader{end: map[int]int64{0: 5, 1: 9}, handled: map[int]int64{}}
	p := gainedPools(t, t.Context(), r)
	p.SetOwnership(2, []int{0, 1})
	p.SetOwnership(2, nil) // a rebalance starts: nothing owned
	waitGained(t, p, 10*time.Second, "replaced by an empty assignment")
	p.SetOwnership(2, []int{1})
	p.SetOwnership(0, nil) // not shared any more
	waitGained(t, p, 10*time.Second, "replaced by no sharing")
}

// TestUnreadAcrossARebalance: a partition gained and not read yet when a
// rebalance starts (an empty assignment) stays unread when the next
// assignment gives it back; it used to count as owned since before, so its
// numbers were reserved unread.
func TestUnreadAcrossARebalance(t *testing.T) {
	r := &fakeLeaseReader{end: map[int]int64{0: 5, 1: 9}, handled: map[int]int64{}}
	p := gainedPools(t, t.Context(), r)
	read := make(chan int, 2)
	p.gained.onRead = func(k int) { read <- k }
	p.SetOwnership(2, []int{0, 1})
	r.setHandled(1, 9)
	if k := <-read; k != 1 {
		t.Fatalf("partition %d read, want 1", k)
	}
	p.SetOwnership(2, nil)
	waitGained(t, p, 10*time.Second, "a rebalance")
	p.SetOwnership(2, []int{0, 1})
	if o := p.Ownership(); !slices.Equal(o.Unread, []int{0}) {
		t.Errorf("ownership %+v after the rebalance, want partition 0 still unread", o)
	}
	r.setHandled(0, 5)
	if k := <-read; k != 0 {
		t.Fatalf("partition %d read, want 0", k)
	}
	waitGained(t, p, 10*time.Second, "partition 0 read")
	if o := p.Ownership(); len(o.Unread) != 0 {
		t.Errorf("ownership %+v, want every partition read", o)
	}
}
