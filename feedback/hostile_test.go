package feedback

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// TestCallDated9999BeforeAndAfterReplay: one cc.call.v1 event dated 9999
// used to move the call feed's mark to 9999, so retention dropped every call
// record and a 60 s call with a $250 sale counted nothing — on every replay
// too. It is rejected by the one decoder (future_time), and even handed
// past it, it cannot move the mark beyond now.
func TestCallDated9999BeforeAndAfterReplay(t *testing.T) {
	won := t0.Add(-time.Hour)
	records := []kafkaio.Message{
		imp("b1", "p1", "x1", 2_000_000, won),
		{Topic: events.TopicCall, Value: []byte(`{"call_id":"junk","event_type":"ENDED","occurred_at":"9999-12-31T23:59:59Z","talk_ms":1}`), Time: won},
		attr("k1", "b1", "p1", "x1", won, won.Add(5*time.Minute)),
		ended("k1", time.Minute, won.Add(7*time.Minute)),
		outcome("k1", "SALE", true, 250_000_000, won.Add(10*time.Minute)),
	}
	for _, run := range []string{"first consumption", "replay after a restart"} {
		f, _, now := newTest(t, Config{})
		for _, m := range records {
			var err error
			switch m.Topic {
			case events.TopicImpressions:
				f.HandleImpression(m)
			case events.TopicAttribution:
				feedAttr(f, m)
			case events.TopicCall:
				err = feedCall(f, m)
			case events.TopicOutcome:
				err = feedOutcome(f, m)
			}
			if m.Time.Equal(won) && events.Reason(err) != events.ReasonFutureTime {
				t.Fatalf("%s: call dated 9999: %v", run, err)
			}
		}
		f.tick(*now)
		rep, err := buildReport(f, time.Time{}, time.Time{}, "campaign")
		if err != nil {
			t.Fatal(err)
		}
		if tot := rep.Total; tot.Calls != 1 || tot.QualifiedCalls != 1 || tot.Sales != 1 || tot.Revenue != 250 {
			t.Fatalf("%s: totals %+v, want 1 call, 1 qualified, 1 sale, $250", run, tot)
		}
	}
	// Defence in depth: a far-future time handed straight to the handler
	// moves the mark no further than now.
	f, _, now := newTest(t, Config{})
	f.HandleCall(&events.Call{CallID: "junk", EventType: events.CallEnded, OccurredAt: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)})
	if f.callMark.After(*now) {
		t.Fatalf("call mark %v after now %v", f.callMark, *now)
	}
}

// TestCallRecordsCapped: 50,000 distinct call ids keep at most max_calls
// records; the counts they added stay. The heap they hold is reported
// (go test ./feedback -run CallRecordsCapped -v).
func TestCallRecordsCapped(t *testing.T) {
	f, _, now := newTest(t, Config{MaxCalls: 5_000})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	at := now.Add(-time.Hour)
	for i := range 50_000 {
		*now = now.Add(time.Millisecond)
		id := "call-" + strconv.Itoa(i)
		f.applyAttribution(&events.Attribution{CallID: id, DNIS: "+18005550100", StartedAt: at, Match: "exact", Accepted: true,
			CampaignID: "c1", PublisherID: "p1", Exchange: "x1", BidID: "b-" + id, WonAt: at.Add(-time.Minute), Skill: "mortgage"})
		f.applyCall(&events.Call{CallID: id, EventType: events.CallEnded, OccurredAt: at.Add(time.Minute), TalkMS: 60_000})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := f.recs.Stats().Records; n > 5_000 {
		t.Fatalf("%d call records kept, max_calls 5,000", n)
	}
	if ev := f.Stats(); f.recs.Stats().Evicted < 45_000 || ev.Unattributed != 0 {
		t.Fatalf("evicted %d", f.recs.Stats().Evicted)
	}
	rep, err := buildReport(f, time.Time{}, time.Time{}, "campaign")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Calls != 50_000 || rep.Total.QualifiedCalls != 50_000 {
		t.Fatalf("totals %+v: evicted records' counts were lost", rep.Total)
	}
	t.Logf("50,000 call ids with max_calls 5,000: %d records, heap %+.1f MB", f.recs.Stats().Records,
		float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1e6)
}
