package numbers

import (
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// TestSharedQuarantineOnTakeover: an instance reserves numbers and dies
// before its holds reach the lease log; the instance that takes its
// partition over holds back the numbers it would have reserved next, and
// only those of the partition it gained.
func TestSharedQuarantineOnTakeover(t *testing.T) {
	now := time.Now()
	// The hold-back is at most min(8, gained free/8) numbers per shard, and
	// Reserve starts at a random shard: with 400 numbers (12 shards, 2 per
	// shard) three of the six unlogged holds met in one shard about one run
	// in six. 16,384 numbers give 64 shards of 128 gained numbers, 8 each.
	c := newCluster(t, 2, onePool(16384), now)
	const parts = 2
	c.pools[0].SetOwnership(parts, []int{0})
	c.pools[1].SetOwnership(parts, []int{1})
	// Instance 0 bids; its first holds reach the log (so instance 1 has
	// read records of another process), its last ones do not.
	logged := map[int32]bool{}
	for k := range 4 {
		r, ok := c.pools[0].Reserve(0, testClaim(k), now)
		if !ok {
			t.Fatal("no reservation")
		}
		logged[refIndex(r.Ref)] = true
	}
	c.deliver()
	unlogged := map[int32]bool{}
	for k := range 6 {
		r, ok := c.pools[0].Reserve(0, testClaim(100+k), now)
		if !ok {
			t.Fatal("no reservation")
		}
		unlogged[refIndex(r.Ref)] = true
	}
	// Instance 1 bid on its own partition meanwhile (parking instance 0's
	// numbers it met).
	var own []int32
	for k := range 5 {
		r, ok := c.pools[1].Reserve(0, testClaim(200+k), now)
		if !ok {
			t.Fatal("no reservation")
		}
		own = append(own, refIndex(r.Ref))
	}

	// Instance 0 dies (kill -9): its unlogged holds are lost with it. The
	// group gives instance 1 both partitions, after an empty generation.
	at := now.Add(time.Second)
	c.pools[1].clockNow = func() time.Time { return at }
	c.pools[1].SetOwnership(parts, nil)
	c.pools[1].SetOwnership(parts, []int{0, 1})
	q := c.pools[1].sharedQ.quarantinedGained
	if q == 0 {
		t.Fatal("nothing quarantined on taking a partition over")
	}
	for i := range c.pools[1].entries {
		i := int32(i)
		if logged[i] || c.pools[1].stateOf(i) != stHeld || !c.pools[1].owns(i) {
			continue
		}
		if p := PartitionOf([]byte(c.pools[1].keyString(i)), parts); p != 0 && !containsIdx(own, i) {
			t.Fatalf("entry %s of kept partition %d quarantined", c.pools[1].keyString(i), p)
		}
	}
	// Within the hold time, instance 1 hands out none of the numbers
	// instance 0 held without logging.
	for k := range 150 {
		r, ok := c.pools[1].Reserve(0, testClaim(300+k), at)
		if !ok {
			break
		}
		if unlogged[refIndex(r.Ref)] {
			t.Fatalf("reservation %d: %s, held by the dead instance in its last ms", k, r.E164)
		}
	}
	// A rebalance that keeps the same partitions quarantines nothing more.
	c.pools[1].SetOwnership(parts, nil)
	c.pools[1].SetOwnership(parts, []int{0, 1})
	if got := c.pools[1].sharedQ.quarantinedGained; got != q {
		t.Fatalf("quarantined %d more on a rebalance that kept the partitions", got-q)
	}
}

// TestSharedQuarantineAfterRestart: a restarted instance whose assignment
// arrives while it replays the lease log quarantines the assignment once,
// when the replay ends; a fresh cluster (empty log) quarantines nothing.
func TestSharedQuarantineAfterRestart(t *testing.T) {
	now := time.Now()
	c := newCluster(t, 1, onePool(200), now)
	c.pools[0].SetOwnership(2, []int{0, 1})
	if n := c.pools[0].sharedQ.quarantinedGained; n != 0 {
		t.Fatalf("a fresh cluster quarantined %d numbers", n)
	}
	for k := range 3 {
		if _, ok := c.pools[0].Reserve(0, testClaim(k), now); !ok {
			t.Fatal("no reservation")
		}
	}
	c.deliver()
	unlogged := map[int32]bool{}
	for k := range 3 {
		r, _ := c.pools[0].Reserve(0, testClaim(10+k), now)
		unlogged[refIndex(r.Ref)] = true
	}

	// The process restarts: a new instance id, the group assigns before
	// the log is replayed.
	p := mustNew(t, onePool(200), c.log)
	at := now.Add(time.Second)
	p.clockNow = func() time.Time { return at }
	p.PauseUntilReplayed()
	p.SetOwnership(2, []int{0, 1})
	if n := p.sharedQ.quarantinedGained; n != 0 {
		t.Fatalf("quarantined %d numbers before the replay ended", n)
	}
	for _, m := range c.log.topic(events.TopicLeases) {
		p.ApplyLeaseEvent(kafkaio.Message{Topic: m.topic, Key: m.key, Value: m.value})
	}
	p.ReplayDone()
	if p.sharedQ.quarantinedGained == 0 {
		t.Fatal("nothing quarantined when the replay ended")
	}
	for k := range 100 {
		r, ok := p.Reserve(0, testClaim(100+k), at)
		if !ok {
			break
		}
		if unlogged[refIndex(r.Ref)] {
			t.Fatalf("reservation %d: %s, held by the previous process in its last ms", k, r.E164)
		}
	}
}

func containsIdx(s []int32, i int32) bool {
	for _, x := range s {
		if x == i {
			return true
		}
	}
	return false
}
