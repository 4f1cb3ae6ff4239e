package numbers

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestNewOwnerFollowsThePreviousOwnersLease is the sequence behind a
// TestSharedPoolsThreeInstances failure (cmd/callbid): instance A owns the
// number's partition, reserves it for bid 1 (the hold record reaches B's
// replica), gets the loss (an owner frees its hold without a record: the
// replicas keep the hold until it ends), reserves the same number for bid 2
// and leases it on bid 2's win. A rebalance moves the partition to B before
// B has read that lease record. B, now the owner, must apply it: the number
// is bid 2's for the lease, and B must neither attribute its calls to bid 1
// nor reserve it again when bid 1's replicated hold ends.
func TestNewOwnerFollowsThePreviousOwnersLease(t *testing.T) {
	// The bids come well after both instances started, so bid 1's
	// generation (the clock's) is ahead of B's base: to B it is a live
	// instance's, not an earlier process's.
	now := time.Now().Add(time.Minute)
	c := newCluster(t, 2, onePool(1), now)
	a, b := c.pools[0], c.pools[1]
	num := plainNumbers(1)[0]
	part := PartitionOf([]byte(num), 2)
	a.SetOwnership(2, []int{part})
	b.SetOwnership(2, []int{1 - part})

	r1, ok := a.Reserve(0, testClaim(1), now)
	if !ok {
		t.Fatal("bid 1: no number")
	}
	c.deliver() // bid 1's hold reaches B
	a.Loss(r1.Ref, now.Add(time.Millisecond))
	r2, ok := a.Reserve(0, testClaim(2), now.Add(2*time.Millisecond))
	if !ok || refIndex(r2.Ref) != refIndex(r1.Ref) {
		t.Fatalf("bid 2: %v %v, want the number bid 1 lost", r2, ok)
	}
	if w := a.Win(r2.Ref, false, now.Add(3*time.Millisecond)); w != WinLeased {
		t.Fatalf("bid 2's win at the owner: %v", w)
	}
	// The rebalance: A gives the partition up, B gains it, then B's
	// consumer reads bid 2's lease record.
	a.SetOwnership(2, nil)
	b.SetOwnership(2, []int{0, 1})
	c.deliver()

	i := refIndex(r2.Ref)
	if st, gen := b.stateOf(i), b.entries[i].gen; st != stLeased || gen != uint32(r2.Ref) {
		t.Errorf("new owner: %s generation %d, want leased generation %d (bid 2)", stateNames[st], gen, uint32(r2.Ref))
	}
	// Bid 1's hold would have ended: the number stays bid 2's.
	later := now.Add(20 * time.Second)
	b.Sweep(later)
	if r, ok := b.Reserve(0, testClaim(3), later); ok && !r.Fallback {
		t.Errorf("the new owner reserved %s again during bid 2's lease", r.E164)
	}
	ans := b.Attribute(&CallRequest{CallID: []byte("c1"), DNIS: []byte(num), ANI: []byte("+14155550100"),
		StartedAt: now.Add(time.Second).UnixNano()}, nil)
	if !bytes.Contains(ans.JSON, []byte(`"bid_id":"bid-2"`)) {
		t.Errorf("a call at the new owner: %s, want bid 2's attribution", ans.JSON)
	}
}

// TestNewOwnerWaitsForItsNewPartition: the previous owner A lets bid 1's
// hold end (no record: the replicas still show it), reserves the number
// again for bid 2 and leases it on bid 2's win. The rebalance gives the
// partition to B before B's consumer has read those records. A late win
// for bid 1 that reaches B then must not lease the number (bid 2 has it):
// until B has read the partition up to its end offset at assignment, B
// neither reserves, leases late nor restores that partition's numbers.
func TestNewOwnerWaitsForItsNewPartition(t *testing.T) {
	now := time.Now().Add(time.Minute)
	c := newCluster(t, 2, onePool(1), now)
	a, b := c.pools[0], c.pools[1]
	num := plainNumbers(1)[0]
	part := PartitionOf([]byte(num), 2)
	r := &fakeLeaseReader{end: map[int]int64{part: 7}, handled: map[int]int64{}}
	read := make(chan struct{}, 4)
	b.ReadGainedWith(t.Context(), r)
	b.gained.onRead = func(int) { read <- struct{}{} }
	a.SetOwnership(2, []int{part})
	b.SetOwnership(2, []int{1 - part})
	<-read // B's first partition: nothing to read (end offset 0)

	r1, ok := a.Reserve(0, testClaim(1), now)
	if !ok {
		t.Fatal("bid 1: no number")
	}
	c.deliver() // bid 1's hold reaches B
	later := now.Add(16 * time.Second)
	a.Sweep(later) // bid 1's hold ends at A, without a record
	r2, ok := a.Reserve(0, testClaim(2), later)
	if !ok || refIndex(r2.Ref) != refIndex(r1.Ref) {
		t.Fatalf("bid 2: %v %v, want the number bid 1 had", r2, ok)
	}
	if w := a.Win(r2.Ref, false, later.Add(time.Millisecond)); w != WinLeased {
		t.Fatalf("bid 2's win at the owner: %v", w)
	}
	// The rebalance, before B has read bid 2's records.
	a.SetOwnership(2, nil)
	b.SetOwnership(2, []int{0, 1})
	b.clockNow = func() time.Time { return later.Add(time.Second) }

	if w := b.Win(r1.Ref, false, later.Add(time.Second)); w == WinLeased || w == WinLate || w == WinRestored {
		t.Errorf("a late win for bid 1 at the new owner: %v, want it refused (bid 2 holds the number's lease)", w)
	}
	if w, _ := b.Restore(r1.Ref, testClaim(1), now, false, later.Add(time.Second)); w == WinLeased || w == WinLate || w == WinRestored {
		t.Errorf("restoring bid 1 at the new owner: %v, want it refused", w)
	}
	if res, ok := b.Reserve(0, testClaim(3), later.Add(time.Second)); ok && !res.Fallback {
		t.Errorf("the new owner reserved %s before reading its new partition", res.E164)
	}
	if o := b.Ownership(); !slices.Equal(o.Unread, []int{part}) {
		t.Errorf("ownership %+v, want partition %d unread", o, part)
	}

	// B's consumer reads the partition up to the end offset: bid 2's
	// lease applies, and B owns the partition fully.
	c.deliver()
	r.setHandled(part, 7)
	<-read
	if o := b.Ownership(); len(o.Unread) != 0 {
		t.Errorf("ownership %+v after the partition was read", o)
	}
	i := refIndex(r2.Ref)
	if st, gen := b.stateOf(i), b.entries[i].gen; st != stLeased || gen != uint32(r2.Ref) {
		t.Errorf("new owner: %s generation %d, want leased generation %d (bid 2)", stateNames[st], gen, uint32(r2.Ref))
	}
	if w := b.Win(r1.Ref, false, later.Add(2*time.Second)); w != WinCollision {
		t.Errorf("bid 1's win after the partition was read: %v, want collision", w)
	}
}

// fakeLeaseReader is the lease consumer as the pools see it: end offsets
// are fixed; the test moves what was handled, and WaitHandled wakes on
// that, as the consumer's dispatcher wakes its waiters. EndOffsets fails
// while failEnds is above 0 (each call takes one off).
type fakeLeaseReader struct {
	mu       sync.Mutex
	end      map[int]int64
	handled  map[int]int64
	moved    chan struct{} // closed when handled moves
	failEnds int
	endCalls int
}

func (f *fakeLeaseReader) EndOffsets(ctx context.Context, ids []int) (map[int]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.endCalls++
	if f.failEnds > 0 {
		f.failEnds--
		return nil, errors.New("the broker is away")
	}
	m := map[int]int64{}
	for _, id := range ids {
		m[id] = f.end[id]
	}
	return m, nil
}

func (f *fakeLeaseReader) WaitHandled(ctx context.Context, id int, end int64) error {
	for {
		f.mu.Lock()
		if f.handled[id] >= end {
			f.mu.Unlock()
			return nil
		}
		if f.moved == nil {
			f.moved = make(chan struct{})
		}
		moved := f.moved
		f.mu.Unlock()
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *fakeLeaseReader) setHandled(id int, off int64) {
	f.mu.Lock()
	f.handled[id] = off
	if f.moved != nil {
		close(f.moved)
		f.moved = nil
	}
	f.mu.Unlock()
}
