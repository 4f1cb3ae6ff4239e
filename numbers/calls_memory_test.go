package numbers

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/callbid/callbid/callrecords"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/feedback"
	"github.com/rs/zerolog"
)

// TestCallRecordMemory measures the heap of call records as the service
// keeps them: one store shared by numbers and feedback, 100,000 calls each
// attributed exactly to a lease (numbers), handed to feedback as the
// in-process tee does, then ended and given a final SALE outcome. Leases
// and the sticky caller table are not counted (they are per number, not per
// call). go test ./numbers -run CallRecordMemory -v
func TestCallRecordMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 leases and calls")
	}
	const n = 100_000
	p := mustNew(t, extPool(n), nil)
	recs, err := callrecords.New(callrecords.Config{MaxRecords: n})
	if err != nil {
		t.Fatal(err)
	}
	p.UseCallRecords(recs)
	fb, err := feedback.New(feedback.Config{}, []feedback.Campaign{{ID: "camp-mortgage", Skill: "mortgage", PriorCallRate: 0.02, ValuePerCall: 40e6}}, nil, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	fb.UseCallRecords(recs)
	res := make([]Reservation, n)
	for k := range res {
		res[k] = leaseOne(t, p, k, t0)
	}
	ids, anis := make([][]byte, n), make([][]byte, n)
	for k := range ids {
		ids[k] = fmt.Appendf(nil, "CA%032x", k) // a Twilio CallSid
		anis[k] = fmt.Appendf(nil, "+1415%07d", k)
	}
	start := t0.Add(time.Minute)
	p.clockNow = func() time.Time { return start }
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for k, r := range res {
		p.attribute(nil, ids[k], []byte(r.E164), []byte(r.Ext), anis[k], start.UnixNano(), start.UnixNano())
		rec := <-p.attrQ
		v, err := json.Marshal(rec.ev) // what the tee decodes
		if err != nil {
			t.Fatal(err)
		}
		var a events.Attribution
		if err := events.DecodeAttribution(v, &a); err != nil {
			t.Fatal(err)
		}
		_ = fb.HandleAttribution(&a)
		id := string(ids[k])
		_ = fb.HandleCall(&events.Call{CallID: id, EventType: events.CallEnded, OccurredAt: start.Add(3 * time.Minute), TalkMS: 170_000})
		_ = fb.HandleOutcome(&events.Outcome{CallID: id, Disposition: events.DispositionSale, IsFinal: true,
			Revenue: events.Money{AmountMicros: 250e6, Currency: "USD"}, OccurredAt: start.Add(4 * time.Minute)})
	}
	p.calls.mu.Lock()
	clear(p.calls.sticky) // per lease, not per call
	p.calls.mu.Unlock()
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := recs.Stats()
	if st.Records != n || st.Parts != [2]int{n, n} || st.Evicted != 0 {
		t.Fatalf("store %+v", st)
	}
	if p.Stats().Calls[MatchExact] != n {
		t.Fatalf("calls %v", p.Stats().Calls)
	}
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	t.Logf("%d calls in one store (numbers' and feedback's parts, the attribution once): %.0f B of heap per call record", n, per)
	runtime.KeepAlive(ids)
	runtime.KeepAlive(fb)
}
