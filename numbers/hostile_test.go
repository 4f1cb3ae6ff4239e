package numbers

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// TestEndedIn2100BeforeAndAfterRestart: an ENDED event dated 2100 for the
// call that ended a lease is rejected (future_time): it does not hold the
// number in cooldown, writes no lease record, and after a restart (lease log
// and call topic replayed) the number is free again after its cooldown.
func TestEndedIn2100BeforeAndAfterRestart(t *testing.T) {
	pub := &fakePub{}
	p1 := mustNew(t, onePool(1), pub)
	r := leaseOne(t, p1, 1, t0)
	start := t0.Add(5 * time.Minute)
	p1.clockNow = func() time.Time { return start }
	offered := kafkaio.Message{Value: fmt.Appendf(nil, `{"call_id":"k","event_type":"OFFERED","dnis":%q,"ani":"+14155550188","occurred_at":%q}`,
		r.E164, start.Format(time.RFC3339)), Time: start}
	ended := kafkaio.Message{Value: fmt.Appendf(nil, `{"call_id":"k","event_type":"ENDED","dnis":%q,"occurred_at":"2100-01-01T00:00:00Z","talk_ms":60000}`,
		r.E164), Time: start.Add(time.Minute)}
	if err := feedCall(p1, offered); err != nil {
		t.Fatal(err)
	}
	leaseRecords := len(pub.topic(events.TopicLeases))
	if err := feedCall(p1, ended); events.Reason(err) != events.ReasonFutureTime {
		t.Fatalf("ENDED in 2100: %v", err)
	}
	if n := len(pub.topic(events.TopicLeases)); n != leaseRecords {
		t.Fatalf("the rejected ENDED wrote %d lease records", n-leaseRecords)
	}
	p1.Sweep(start.Add(31 * time.Minute))
	if st := p1.stateOf(refIndex(r.Ref)); st != stFree {
		t.Fatalf("before restart: %s 31 min after the call, want free", stateNames[st])
	}

	// Restart a year later: replay the lease log, then the call topic.
	later := start.AddDate(1, 0, 0)
	p2 := mustNew(t, onePool(1), &fakePub{})
	p2.clockNow = func() time.Time { return start.Add(time.Minute) }
	for _, m := range pub.topic(events.TopicLeases) {
		p2.ApplyLeaseEvent(kafkaio.Message{Topic: events.TopicLeases, Key: m.key, Value: m.value})
	}
	if err := feedCall(p2, offered); err != nil {
		t.Fatal(err)
	}
	if err := feedCall(p2, ended); events.Reason(err) != events.ReasonFutureTime {
		t.Fatalf("ENDED in 2100 on replay: %v", err)
	}
	p2.Sweep(later)
	if st := p2.stateOf(refIndex(r.Ref)); st != stFree {
		t.Fatalf("after restart: %s, want free", stateNames[st])
	}
}

// TestCallIDReusedForAnotherNumber: a voice platform reusing a call_id for a
// call to another number gets that number's attribution (a new call), never
// the first call's; a repeat of the same call still gets the same answer.
func TestCallIDReusedForAnotherNumber(t *testing.T) {
	p := mustNew(t, onePool(2), nil)
	r1 := leaseOne(t, p, 1, t0)
	r2 := leaseOne(t, p, 2, t0)
	at := t0.Add(time.Minute)
	p.clockNow = func() time.Time { return at }
	_, a1, _ := doCall(t, p, "tok", callBody("same", r1.E164, "", "+14155550188", at))
	_, a2, _ := doCall(t, p, "tok", callBody("same", r2.E164, "", "+14155550199", at))
	if a1.Attribution == nil || a2.Attribution == nil || a1.Attribution.BidID != testClaim(1).BidID || a2.Attribution.BidID != testClaim(2).BidID {
		t.Fatalf("first %+v\nreused %+v", a1.Attribution, a2.Attribution)
	}
	// Through the event path too, with a number callbid does not own.
	if err := feedCall(p, kafkaio.Message{Value: []byte(`{"call_id":"same","event_type":"OFFERED","dnis":"+19995550000","occurred_at":"2026-11-23T12:01:00Z"}`)}); err != nil {
		t.Fatal(err)
	}
	_, a3, _ := doCall(t, p, "tok", callBody("same", "+19995550000", "", "", at))
	if a3.Match != MatchNone || a3.Attribution != nil {
		t.Fatalf("reused id for an unknown number: %+v", a3)
	}
	_, again, _ := doCall(t, p, "tok", callBody("same", "+19995550000", "", "", at))
	if st := p.Stats(); st.ReusedCallIDs != 2 || st.DuplicateCalls != 2 || again.Match != MatchNone {
		t.Fatalf("reused %d duplicates %d, again %+v", st.ReusedCallIDs, st.DuplicateCalls, again)
	}
}

// TestCallTableCapped: 200,000 distinct call ids within call_ttl keep at
// most max_calls records (oldest forgotten first); the heap they hold is
// reported (go test ./numbers -run CallTableCapped -v).
func TestCallTableCapped(t *testing.T) {
	cfg := onePool(10)
	cfg.MaxCalls = 10_000
	p := mustNew(t, cfg, nil)
	at := t0
	p.clockNow = func() time.Time { return at }
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 200_000 {
		p.attribute(nil, fmt.Appendf(nil, "call-%07d", i), []byte("+19995550000"), nil, []byte("+14155550188"), at.UnixNano(), at.UnixNano())
		select {
		case <-p.attrQ:
		default:
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := p.Stats()
	if st.CallsTracked != 10_000 || st.CallsEvicted != 190_000 || p.calls.recs.Stats().Records != 10_000 {
		t.Fatalf("tracked %d evicted %d records %d", st.CallsTracked, st.CallsEvicted, p.calls.recs.Stats().Records)
	}
	if p.calls.record("call-0199999") == nil {
		t.Fatal("the newest call was evicted")
	}
	t.Logf("200,000 call ids with max_calls 10,000: heap %+.1f MB (%.0f B per tracked call)",
		float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1e6, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/10_000)
	runtime.KeepAlive(p)
}
