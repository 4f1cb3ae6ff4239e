package numbers

import (
	"bytes"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// cluster is n Pools with one config sharing one lease log (a fakePub read
// in order by every instance, as the lease topic consumer does).
type cluster struct {
	log    *fakePub
	pools  []*Pools
	cursor []int
}

func newCluster(t *testing.T, n int, cfg Config, now time.Time) *cluster {
	c := &cluster{log: &fakePub{}, cursor: make([]int, n)}
	for range n {
		p := mustNew(t, cfg, c.log)
		p.clockNow = func() time.Time { return now }
		c.pools = append(c.pools, p)
	}
	return c
}

// deliver hands every lease record not yet read to every instance.
func (c *cluster) deliver() {
	for _, p := range c.pools {
		p.LogHolds()
	}
	msgs := c.log.topic(events.TopicLeases)
	for k, p := range c.pools {
		for ; c.cursor[k] < len(msgs); c.cursor[k]++ {
			m := msgs[c.cursor[k]]
			p.ApplyLeaseEvent(kafkaio.Message{Topic: m.topic, Key: m.key, Value: m.value})
		}
	}
}

// TestSharedPoolsNeverHandOutANumberTwice: three instances own two lease
// partitions each of six; each reserves only its own numbers, a win taken
// by a non-owner leases the number everywhere through the log, and after
// an instance dies its partitions' holds are still won from any instance.
func TestSharedPoolsNeverHandOutANumberTwice(t *testing.T) {
	now := time.Now()
	c := newCluster(t, 3, onePool(300), now)
	const parts = 6
	for k, p := range c.pools {
		p.SetOwnership(parts, []int{2 * k, 2*k + 1})
	}
	total := 0
	for _, p := range c.pools {
		o := p.Ownership()
		if !o.Shared || len(o.Owned) != 2 {
			t.Fatalf("ownership %+v", o)
		}
		total += o.NumbersOwned
	}
	if total != 300 {
		t.Fatalf("instances own %d numbers together, want all 300 exactly once", total)
	}
	holder := map[int32]int{}
	var refs [3][]Ref
	for round := 0; round < 400; round++ {
		k := round % 3
		r, ok := c.pools[k].Reserve(0, testClaim(round), now)
		if !ok {
			continue
		}
		i := refIndex(r.Ref)
		if h, dup := holder[i]; dup {
			t.Fatalf("number %s reserved by instance %d and %d", r.E164, h, k)
		}
		if !c.pools[k].owns(i) || PartitionOf([]byte(r.E164), parts)/2 != k {
			t.Fatalf("instance %d reserved %s of partition %d", k, r.E164, PartitionOf([]byte(r.E164), parts))
		}
		holder[i] = k
		refs[k] = append(refs[k], r.Ref)
	}
	if len(holder) != 300 {
		t.Fatalf("%d numbers reserved, want every one of 300 (each by its owner)", len(holder))
	}
	c.deliver()

	// A win for instance 0's hold reaches instance 1: leased there, logged,
	// and the owner (and instance 2) apply it.
	ref := refs[0][0]
	if r := c.pools[1].Win(ref, false, now.Add(time.Second)); r != WinLeased {
		t.Fatalf("win at a non-owner: %v, want leased", r)
	}
	c.deliver()
	for k, p := range c.pools {
		if st := p.stateOf(refIndex(ref)); st != stLeased {
			t.Fatalf("instance %d sees state %s after the win, want leased", k, stateNames[st])
		}
	}
	// A retry at the owner, or at a third instance, is a duplicate.
	if r := c.pools[0].Win(ref, false, now.Add(2*time.Second)); r != WinDuplicate {
		t.Fatalf("retried win at the owner: %v", r)
	}
	if r := c.pools[2].Win(ref, false, now.Add(2*time.Second)); r != WinDuplicate {
		t.Fatalf("retried win at a third instance: %v", r)
	}
	// A loss at a non-owner frees the owner's hold through the log.
	lost := refs[0][1]
	c.pools[2].Loss(lost, now.Add(time.Second))
	c.deliver()
	if st := c.pools[0].stateOf(refIndex(lost)); st != stFree {
		t.Fatalf("owner sees %s after a loss at another instance, want free", stateNames[st])
	}

	// Instance 2 dies: the others take its partitions; its holds stay
	// valid and are won from instance 0, which now owns them.
	c.pools[0].SetOwnership(parts, []int{0, 1, 4})
	c.pools[1].SetOwnership(parts, []int{2, 3, 5})
	won := refs[2][0]
	if r := c.pools[0].Win(won, true, now.Add(3*time.Second)); r != WinLeased && r != WinDuplicate {
		t.Fatalf("win for the dead instance's hold: %v", r)
	}
	c.deliver()
	if st := c.pools[1].stateOf(refIndex(won)); st != stLeased {
		t.Fatalf("instance 1 sees %s, want leased", stateNames[st])
	}
	// Nothing is free while every number is held or leased: the new owners
	// reserve nothing of the dead instance's numbers until its holds end.
	for k := 0; k < 2; k++ {
		for range 10 {
			if r, ok := c.pools[k].Reserve(0, testClaim(1), now.Add(4*time.Second)); ok && refIndex(r.Ref) != refIndex(lost) {
				t.Fatalf("instance %d reserved %s, held elsewhere", k, r.E164)
			}
		}
	}
	// After the holds end, instance 1 reserves a number of partition 5.
	later := now.Add(time.Minute)
	got5 := false
	for range 200 {
		r, ok := c.pools[1].Reserve(0, testClaim(2), later)
		if !ok {
			break
		}
		if p := PartitionOf([]byte(r.E164), parts); p != 2 && p != 3 && p != 5 {
			t.Fatalf("instance 1 reserved a number of partition %d", p)
		}
		if PartitionOf([]byte(r.E164), parts) == 5 {
			got5 = true
		}
	}
	if !got5 {
		t.Fatal("instance 1 never reserved a number of the partition it took over")
	}
}

// TestLateWinAtNonOwnerIsCollision: a non-owner does not lease a hold that
// may have ended at its owner (clock skew, lag): the owner may have handed
// the number to a new bid.
func TestLateWinAtNonOwnerIsCollision(t *testing.T) {
	now := time.Now()
	c := newCluster(t, 2, onePool(64), now)
	c.pools[0].SetOwnership(2, []int{0})
	c.pools[1].SetOwnership(2, []int{1})
	r, ok := c.pools[0].Reserve(0, testClaim(1), now)
	if !ok {
		t.Fatal("no reservation")
	}
	c.deliver()
	if w := c.pools[1].Win(r.Ref, false, now.Add(14*time.Second)); w != WinCollision {
		t.Fatalf("win 1s before the hold ends, at a non-owner: %v, want collision", w)
	}
	if w := c.pools[0].Win(r.Ref, false, now.Add(14*time.Second)); w != WinLeased {
		t.Fatalf("the same win at the owner: %v, want leased", w)
	}
}

// TestWinBeforeHoldRecordArrives: a win reaching a non-owner before the
// owner's hold record does is restored from the notice token and the owner
// applies it (same generation).
func TestWinBeforeHoldRecordArrives(t *testing.T) {
	now := time.Now()
	c := newCluster(t, 2, onePool(64), now)
	c.pools[0].SetOwnership(2, []int{0})
	c.pools[1].SetOwnership(2, []int{1})
	cl := testClaim(1)
	r, _ := c.pools[0].Reserve(0, cl, now)
	c.pools[0].LogHolds()
	if w := c.pools[1].Win(r.Ref, false, now.Add(time.Second)); w != WinStale {
		t.Fatalf("win before the hold record: %v, want stale", w)
	}
	if w, _ := c.pools[1].Restore(r.Ref, cl, now, false, now.Add(time.Second)); w != WinRestored {
		t.Fatalf("restore at the non-owner: %v", w)
	}
	c.deliver()
	if st := c.pools[0].stateOf(refIndex(r.Ref)); st != stLeased {
		t.Fatalf("owner sees %s, want leased", stateNames[st])
	}
}

// TestSingleInstanceOwnsAll: without SetOwnership nothing is parked.
func TestSingleInstanceOwnsAll(t *testing.T) {
	p := mustNew(t, onePool(40), nil)
	if o := p.Ownership(); o.Shared || o.NumbersOwned != 40 || p.Share() != 1 {
		t.Fatalf("%+v", o)
	}
	for k := range 40 {
		if _, ok := p.Reserve(0, testClaim(k), time.Now()); !ok {
			t.Fatalf("reservation %d refused", k)
		}
	}
}

// TestLeaseBeforeItsHoldRecord: the owner's hold record can reach the log
// after the lease record another instance wrote for the same reservation;
// no replica goes back from the lease to the hold.
func TestLeaseBeforeItsHoldRecord(t *testing.T) {
	now := time.Now()
	c := newCluster(t, 3, onePool(64), now)
	for k, p := range c.pools {
		p.SetOwnership(3, []int{k})
	}
	cl := testClaim(1)
	r, _ := c.pools[0].Reserve(0, cl, now)
	// The win reaches instance 1 before any hold record is written.
	if w := c.pools[1].Win(r.Ref, false, now.Add(time.Millisecond)); w != WinStale {
		t.Fatalf("win: %v", w)
	}
	if w, _ := c.pools[1].Restore(r.Ref, cl, now, false, now.Add(time.Millisecond)); w != WinRestored {
		t.Fatalf("restore: %v", w)
	}
	c.deliver() // the lease record, then the owner's hold record (deliver logs holds first)
	c.pools[0].LogHolds()
	c.deliver()
	for k, p := range c.pools {
		if st := p.stateOf(refIndex(r.Ref)); st != stLeased {
			t.Fatalf("instance %d sees %s, want leased", k, stateNames[st])
		}
	}
	// Compaction keeps the last record of the key: it must be the lease,
	// so an instance that starts later replays the lease.
	msgs := c.log.topic(events.TopicLeases)
	last := msgs[len(msgs)-1]
	if !bytes.Contains(last.value, []byte(`"st":"leased"`)) {
		t.Fatalf("last lease record of the number: %s", last.value)
	}
	late := mustNew(t, onePool(64), nil)
	late.SetOwnership(3, nil)
	for _, m := range msgs {
		late.ApplyLeaseEvent(kafkaio.Message{Topic: m.topic, Key: m.key, Value: m.value})
	}
	if st := late.stateOf(refIndex(r.Ref)); st != stLeased {
		t.Fatalf("an instance replaying the log sees %s", stateNames[st])
	}
}

// TestOtherHoldsReachTheHook: with shared pools, every hold record another
// instance writes (a bid) reaches OnOtherHold once at each other instance,
// with its campaign and time; an instance's own holds and a lease do not.
func TestOtherHoldsReachTheHook(t *testing.T) {
	now := time.Now()
	c := newCluster(t, 2, onePool(64), now)
	c.pools[0].SetOwnership(2, []int{0})
	c.pools[1].SetOwnership(2, []int{1})
	type heard struct {
		campaign string
		at       time.Time
	}
	var got [2][]heard
	for k, p := range c.pools {
		p.OnOtherHold(func(campaign, skill, publisher, exchange string, at, _ time.Time) {
			got[k] = append(got[k], heard{campaign, at})
		})
	}
	cl := testClaim(1)
	r, ok := c.pools[0].Reserve(0, cl, now)
	if !ok {
		t.Fatal("no number reserved")
	}
	c.deliver()
	if len(got[0]) != 0 || len(got[1]) != 1 || got[1][0].campaign != cl.CampaignID || !got[1][0].at.Equal(now) {
		t.Fatalf("after one hold of instance 0: instance 0 heard %v, instance 1 %v", got[0], got[1])
	}
	if w := c.pools[0].Win(r.Ref, false, now); w != WinLeased {
		t.Fatalf("win: %v", w)
	}
	c.deliver()
	if len(got[1]) != 1 {
		t.Fatalf("the lease record reached the hook: %v", got[1])
	}
}
