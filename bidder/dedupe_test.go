package bidder

import (
	"testing"
	"time"
)

func TestDedupe(t *testing.T) {
	d := newDedupe(time.Minute, 4)
	now := testNow
	if !d.first(1, now) || d.first(1, now) {
		t.Fatal("a key is new once")
	}
	// Still remembered in the older generation after one rotation…
	if !d.first(17, now.Add(61*time.Second)) || d.first(1, now.Add(61*time.Second)) {
		t.Fatal("key forgotten after one rotation")
	}
	// …and forgotten after two.
	if !d.first(33, now.Add(123*time.Second)) || !d.first(1, now.Add(123*time.Second)) {
		t.Fatal("key kept past two generations")
	}
	// A full shard rotates early, so memory stays bounded.
	d = newDedupe(time.Hour, 4)
	for k := uint64(0); k < 100; k++ {
		d.first(k*16, now) // all in shard 0
	}
	sh := &d.shards[0]
	if len(sh.cur)+len(sh.old) > 8 {
		t.Fatalf("shard holds %d keys, bound is 8", len(sh.cur)+len(sh.old))
	}
}

func TestDedupeKinds(t *testing.T) {
	d := newDedupe(time.Hour, 1024)
	now := testNow
	if d.apply(1, noticeWin, now) != dedupeFirst || d.apply(1, noticeBill, now) != dedupeFirst {
		t.Fatal("win then bill of one bid are both first")
	}
	if d.apply(1, noticeBill, now) != dedupeDuplicate || d.apply(1, noticeLoss, now) != dedupeConflict {
		t.Fatal("repeated bill must be a duplicate, a loss after the win a conflict")
	}
	if d.apply(2, noticeLoss, now) != dedupeFirst || d.apply(2, noticeWin, now) != dedupeConflict ||
		d.apply(2, noticeBill, now) != dedupeConflict || d.apply(2, noticeLoss, now) != dedupeDuplicate {
		t.Fatal("after a loss: win and bill conflict, the loss repeats as a duplicate")
	}
	// A failed effect is forgotten so the retry applies.
	d.unmark(1, noticeBill, now)
	if d.apply(1, noticeBill, now) != dedupeFirst || d.apply(1, noticeWin, now) != dedupeDuplicate {
		t.Fatal("unmark must forget only the bill")
	}
	// Kinds survive a generation rotation.
	later := now.Add(61 * time.Minute)
	if d.apply(2, noticeWin, later) != dedupeConflict {
		t.Fatal("the loss was forgotten after one rotation")
	}
}
