package numbers

import (
	"bytes"
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
