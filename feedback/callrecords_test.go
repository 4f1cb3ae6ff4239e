package feedback

import (
	"testing"
	"time"

	"github.com/callbid/callbid/callrecords"
	"github.com/callbid/callbid/events"
)

// TestSharedCallRecord: with the store shared with numbers, the attribution
// numbers made here is held once (feedback reads the record's, not its own
// copy); one from another instance is copied; the record's retention and
// cap drop feedback's part with numbers', keeping the counts.
func TestSharedCallRecord(t *testing.T) {
	f, _, now := newTest(t, Config{})
	recs, err := callrecords.New(callrecords.Config{Retention: 24 * time.Hour, MaxRecords: 3})
	if err != nil {
		t.Fatal(err)
	}
	f.UseCallRecords(recs)
	started := t0.Add(-time.Hour)
	mine := &events.Attribution{CallID: "here", DNIS: "+18005550100", StartedAt: started, Match: "exact", Accepted: true,
		CampaignID: "c1", PublisherID: "p1", Exchange: "x1", BidID: "b1", WonAt: started.Add(-time.Minute), Skill: "mortgage"}
	// numbers attributes the call and keeps its part and the attribution
	recs.Put("here", callrecords.Numbers, "numbers' part", started.UnixNano())
	recs.SetAttribution("here", mine)
	read := *mine // what the tee decodes from numbers' published record
	f.applyAttribution(&read)
	other := read
	other.CallID, other.BidID = "elsewhere", "b2"
	f.applyAttribution(&other)
	f.mu.Lock()
	here, _ := recs.Get("here", callrecords.Feedback).(*callRec)
	there, _ := recs.Get("elsewhere", callrecords.Feedback).(*callRec)
	f.mu.Unlock()
	if here == nil || here.attr != mine {
		t.Fatal("the attribution numbers holds is copied, not shared")
	}
	if there == nil || there.attr == &other || there.attr.BidID != "b2" {
		t.Fatal("another instance's attribution is not feedback's own copy")
	}
	f.applyCall(&events.Call{CallID: "here", EventType: events.CallEnded, OccurredAt: started.Add(4 * time.Minute), TalkMS: 120_000})
	f.applyOutcome(&events.Outcome{CallID: "here", Disposition: "SALE", IsFinal: true, OccurredAt: started.Add(5 * time.Minute),
		Revenue: events.Money{AmountMicros: 9e6, Currency: "USD"}})
	if mine.Disposition != "" || recs.Get("here", callrecords.Numbers) != "numbers' part" {
		t.Fatal("feedback changed numbers' attribution or part")
	}

	// retention: a call a day later expires both parts of "here"
	*now = t0.Add(24 * time.Hour)
	f.applyCall(&events.Call{CallID: "late", EventType: events.CallOffered, OccurredAt: *now})
	f.tick(*now)
	if recs.Get("here", callrecords.Numbers) != nil || recs.Get("here", callrecords.Feedback) != nil {
		t.Fatal("a call past the retention is kept")
	}
	if s := recs.Stats(); s.Expired != 2 || s.Records != 1 {
		t.Fatalf("store %+v", s)
	}
	rep, err := buildReport(f, time.Time{}, time.Time{}, "campaign")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Calls != 2 || rep.Total.Sales != 1 {
		t.Fatalf("expired calls' counts lost: %+v", rep.Total)
	}
}
