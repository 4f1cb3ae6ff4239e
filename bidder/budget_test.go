package bidder

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// TestReplaySpendAfterRestart: a restarted bidder counts today's bills of the
// process before it, so a campaign does not get its daily budget twice; its
// own bills, other days' bills, wins and malformed records change nothing.
func TestReplaySpendAfterRestart(t *testing.T) {
	e := newEnv(t, baseConfig(), 10)
	e.b.started = e.now // this process started now
	rec := func(kind string, at time.Time, micros int64) kafkaio.Message {
		v, err := json.Marshal(events.Impression{BidID: "b-" + at.String(), Kind: kind, CampaignID: "mortgage",
			PublisherID: "pub-1", Exchange: "ex", Skill: "mortgage", PriceMicros: micros, Currency: "USD", At: at})
		if err != nil {
			t.Fatal(err)
		}
		return kafkaio.Message{Topic: events.TopicImpressions, Value: v}
	}
	for _, m := range []kafkaio.Message{
		rec("bill", e.now.Add(-time.Minute), 2_500_000),      // earlier process, today: counts
		rec("bill", e.now.Add(-2*time.Second), 1_000_000),    // earlier process, today: counts
		rec("bill", e.now.Add(time.Minute), 9_000_000),       // this process: counted live already
		rec("bill", e.now.Add(-30*time.Hour), 9_000_000),     // another budget day
		rec("win", e.now.Add(-time.Minute), 9_000_000),       // a win is not spend
		{Topic: events.TopicImpressions, Value: []byte("{")}, // malformed
	} {
		e.b.ReplaySpend(m)
	}
	if got := e.b.budgets.get("mortgage").spentOn(dayIndex(e.now)); got != 3_500_000 {
		t.Fatalf("replayed spend %d CPM micros, want 3500000", got)
	}
}

// TestReplayDedupesRetriedBills: the issue's "budget $3,200 against a report
// of $1,600". Bills applied by the process before a restart are replayed from
// callbid.impressions.v1; the exchange then retries one of them (and the log
// holds one bill twice): the budget counts each bid once, equal to the sum
// of distinct bills a report shows.
func TestReplayDedupesRetriedBills(t *testing.T) {
	before := newEnv(t, baseConfig(), 0)
	var bids []openrtbBid
	for i := 0; i < 2; i++ {
		b := before.b.Decide(banner300(), "exA", before.now).Bids[0]
		bids = append(bids, openrtbBid{id: string([]byte(b.ID)), burl: b.BURL, nurl: b.NURL, lurl: b.LURL})
	}
	for _, b := range bids {
		if o, _ := before.b.applyNotice(noticeBill, []byte(tokenOf(t, b.burl)), []byte("1.5"), before.now); o != noticeApplied {
			t.Fatalf("bill before restart: %s", noticeOutcomeNames[o])
		}
	}
	report := before.b.budgets.get("mortgage").spentOn(dayIndex(before.now))
	log := append([]pubMsg(nil), before.pub.msgs...)
	log = append(log, before.pub.msgs[0]) // the same bill logged twice

	// Restart: same config and secret, a minute later.
	after := newEnv(t, baseConfig(), 0)
	after.now = before.now.Add(time.Minute)
	after.b.now = func() time.Time { return after.now }
	after.b.started = after.now
	for _, m := range log {
		after.b.ReplaySpend(kafkaio.Message{Topic: m.topic, Key: []byte(m.key), Value: []byte(m.value)})
	}
	budget := after.b.budgets.get("mortgage")
	if got := budget.spentOn(dayIndex(after.now)); got != report || report != 3_000_000 {
		t.Fatalf("after replay: budget %d, report %d CPM micros (want both 3000000)", got, report)
	}
	// The exchange retries both bills and a win after restart: duplicates.
	for _, b := range bids {
		if o, _ := after.b.applyNotice(noticeBill, []byte(tokenOf(t, b.burl)), []byte("1.5"), after.now); o != noticeDuplicate {
			t.Fatalf("bill retried after restart: %s, want duplicate", noticeOutcomeNames[o])
		}
	}
	if got := budget.spentOn(dayIndex(after.now)); got != report {
		t.Fatalf("after retries: budget %d, report %d", got, report)
	}
	if n := counterValue(after.b.m.replayedSpend); n != 2 {
		t.Fatalf("replayed %v bills, want 2", n)
	}
}

// TestReplayRemembersLosses: a loss logged before a restart still refuses a
// win of the same bid after it (no lease for a freed number).
func TestReplayRemembersLosses(t *testing.T) {
	before := newEnv(t, baseConfig(), 0)
	b := before.b.Decide(banner300(), "exA", before.now).Bids[0]
	if o, _ := before.b.applyNotice(noticeLoss, []byte(tokenOf(t, b.LURL)), nil, before.now); o != noticeApplied {
		t.Fatal(noticeOutcomeNames[o])
	}
	after := newEnv(t, baseConfig(), 0)
	for _, m := range before.pub.msgs {
		after.b.ReplaySpend(kafkaio.Message{Topic: m.topic, Key: []byte(m.key), Value: []byte(m.value)})
	}
	if o, _ := after.b.applyNotice(noticeWin, []byte(tokenOf(t, b.NURL)), nil, after.now); o != noticeConflict || len(after.res.wins) != 0 {
		t.Fatalf("win after a replayed loss: %s, wins %v", noticeOutcomeNames[o], after.res.wins)
	}
}

type openrtbBid struct{ id, nurl, burl, lurl string }
