package bidder

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
)

// TestReplaySpendAfterRestart: a restarted bidder counts today's bills of the
// process before it, so a campaign does not get its daily budget twice; its
// own bills, other days' bills, wins and malformed records change nothing.
func TestReplaySpendAfterRestart(t *testing.T) {
	e := newEnv(t, baseConfig(), 10)
	e.b.started = e.now // this process started now
	rec := func(kind string, at time.Time, micros int64) events.Message {
		v, err := json.Marshal(events.Impression{BidID: "b-" + at.String(), Kind: kind, CampaignID: "mortgage",
			PublisherID: "pub-1", Exchange: "ex", Skill: "mortgage", PriceMicros: micros, Currency: "USD", At: at})
		if err != nil {
			t.Fatal(err)
		}
		return events.Message{Topic: events.TopicImpressions, Value: v}
	}
	for _, m := range []events.Message{
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
