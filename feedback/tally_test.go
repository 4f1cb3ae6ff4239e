package feedback

import (
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// TestBidCountersSurviveRestart: bids and matching requests counted on the
// bid path come back in a new process by replaying callbid.bids.v1, in the
// report, the stats and the open demand interval; a process following the
// topic live does not count its own records twice.
func TestBidCountersSurviveRestart(t *testing.T) {
	cfg := Config{DemandInterval: time.Hour}
	f1, pub, now := newTest(t, cfg)
	f1.mu.Lock()
	f1.demandLocked(*now) // open the demand interval, as Run does
	f1.mu.Unlock()
	at := now.Add(10 * time.Minute)
	for i := range 30 {
		f1.RecordSeen("mortgage", "ex-a", at)
		pubID := "pub-1"
		if i%3 == 0 {
			pubID = "pub-2"
		}
		f1.RecordBid("c1", "mortgage", pubID, "ex-a", 2_000_000, at)
	}
	for range 12 {
		f1.RecordSeen("mortgage", "ex-b", at) // seen, not bid
	}
	f1.drain()
	f1.flushTally(at)
	f1.flushTally(at) // nothing new: nothing published
	msgs := pub.topic(events.TopicBids)
	if len(msgs) != 1 {
		t.Fatalf("%d tally records published, want 1", len(msgs))
	}

	// Following its own topic live changes nothing.
	for _, m := range msgs {
		f1.HandleBids(m)
	}
	want, err := f1.BuildReport(time.Time{}, time.Time{}, "publisher")
	if err != nil {
		t.Fatal(err)
	}
	if st := f1.Stats(); st.Bids != 30 || st.Seen != 42 || want.Total.Bids != 30 {
		t.Fatalf("own records counted twice: stats bids %d seen %d, report bids %d", st.Bids, st.Seen, want.Total.Bids)
	}

	// A new process replays the topic before its first demand tick.
	f2, _, now2 := newTest(t, cfg)
	*now2 = at.Add(time.Minute)
	for _, m := range msgs {
		f2.HandleBids(m)
	}
	f2.HandleBids(kafkaio.Message{Topic: events.TopicBids, Value: []byte("{not json")})
	f2.mu.Lock()
	f2.demandLocked(*now2)
	seen, bids := f2.demand.acc["mortgage"].seen, f2.demand.acc["mortgage"].bids
	f2.mu.Unlock()
	got, err := f2.BuildReport(time.Time{}, time.Time{}, "publisher")
	if err != nil {
		t.Fatal(err)
	}
	if st := f2.Stats(); st.Bids != 30 || st.Seen != 42 {
		t.Errorf("after replay: stats bids %d seen %d, want 30 and 42", st.Bids, st.Seen)
	}
	if seen != 42 || bids != 30 {
		t.Errorf("after replay: open demand interval seen %d bids %d, want 42 and 30", seen, bids)
	}
	if len(got.Rows) != len(want.Rows) || got.Total.Bids != want.Total.Bids {
		t.Fatalf("report after replay %+v, want %+v", got.Rows, want.Rows)
	}
	for i := range want.Rows {
		if got.Rows[i].Key != want.Rows[i].Key || got.Rows[i].Bids != want.Rows[i].Bids {
			t.Errorf("row %d: %s %d bids, want %s %d", i, got.Rows[i].Key, got.Rows[i].Bids, want.Rows[i].Key, want.Rows[i].Bids)
		}
	}
	if st := f2.Stats(); st.Malformed[events.TopicBids+"/bad_json"] != 1 {
		t.Errorf("malformed tally not counted: %v", st.Malformed)
	}
}
