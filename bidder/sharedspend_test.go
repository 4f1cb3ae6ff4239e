package bidder

import (
	"testing"

	"github.com/callbid/callbid/kafkaio"
)

// TestSharedSpendCountsEveryInstancesBills: two instances with the same
// config and secret bill the same budget (kafka.shared_pools). Each counts
// its own bills live and the other's from callbid.impressions.v1, once per
// bid id: its own records coming back, a record read twice and the
// exchange retrying a bill at the other instance add nothing.
func TestSharedSpendCountsEveryInstancesBills(t *testing.T) {
	a, b := newEnv(t, baseConfig(), 0), newEnv(t, baseConfig(), 0)
	b.now = a.now
	a.b.SharedSpend(true)
	b.b.SharedSpend(true)
	bill := func(e *testEnv) openrtbBid {
		x := e.b.Decide(banner300(), "exA", e.now).Bids[0]
		bid := openrtbBid{id: string([]byte(x.ID)), burl: x.BURL}
		if o, _ := e.b.applyNotice(noticeBill, []byte(tokenOf(t, bid.burl)), []byte("1.5"), e.now); o != noticeApplied {
			t.Fatalf("bill: %s", noticeOutcomeNames[o])
		}
		return bid
	}
	bill(a)
	bill(a)
	fromB := bill(b)
	feed := func(to *testEnv, from ...*testEnv) {
		for _, f := range from {
			for _, m := range f.pub.msgs {
				to.b.ReplaySpend(kafkaio.Message{Topic: m.topic, Key: []byte(m.key), Value: []byte(m.value)})
			}
		}
	}
	feed(a, a, b, b) // own records, and b's twice
	feed(b, a, b)
	for name, e := range map[string]*testEnv{"a": a, "b": b} {
		if got := e.b.budgets.get("mortgage").spentOn(dayIndex(e.now)); got != 4_500_000 {
			t.Fatalf("instance %s counts %d CPM micros, want 4500000 (three bills of 1.5)", name, got)
		}
	}
	// The exchange retries b's bill at a: a duplicate, not counted again.
	if o, _ := a.b.applyNotice(noticeBill, []byte(tokenOf(t, fromB.burl)), []byte("1.5"), a.now); o != noticeDuplicate {
		t.Fatalf("retried bill at the other instance: %s, want duplicate", noticeOutcomeNames[o])
	}
	if got := a.b.budgets.get("mortgage").spentOn(dayIndex(a.now)); got != 4_500_000 {
		t.Fatalf("after the retry: %d", got)
	}
}
