package events

import (
	"testing"
	"time"
)

// The decoders a consumer runs per record, on a typical record of each
// topic that is followed at a high rate: allocations are the strings of one
// record (one per record), the rest is parse time.
// go test ./events -run XXX -bench Decode -benchmem
func BenchmarkDecode(b *testing.B) {
	l := sampleLease()
	imp := Impression{BidID: "b1", Kind: ImpressionWin, CampaignID: "c", PublisherID: "pub-7", Exchange: "x",
		PriceMicros: 2_500_000, Currency: "USD", At: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), IPHash: 3}
	lim := Limits{}
	bench := func(name string, value []byte, decode func([]byte) error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			for b.Loop() {
				if err := decode(value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	agent := NewDecoder[AgentState]()
	bench("AgentState", []byte(`{"agent_id":"acme:agent-123","seq":48211,"event_type":"STATE_CHANGE",`+
		`"occurred_at":"2026-11-23T12:00:00Z","routing_state":"AVAILABLE","skills":[{"name":"mortgage","proficiency":4.0},`+
		`{"name":"refinance","proficiency":2.5}],"channels":["voice","chat"],"ttl_seconds":300}`),
		func(v []byte) error { _, err := agent.Decode(v, lim); return err })
	call := NewDecoder[Call]()
	bench("Call", []byte(`{"call_id":"c-8812731","event_type":"ENDED","dnis":"+18005550123","ext":"","ani":"+14155550188",`+
		`"occurred_at":"2026-11-23T12:00:00Z","queue":"mortgage-us","skill":"mortgage","agent_id":"acme:agent-123",`+
		`"queue_wait_ms":1200,"talk_ms":300000,"end_reason":"CUSTOMER_HANGUP"}`),
		func(v []byte) error { _, err := call.Decode(v, lim); return err })
	out := NewDecoder[Outcome]()
	bench("Outcome", []byte(`{"call_id":"c-8812731","disposition":"SALE","is_final":true,`+
		`"revenue":{"amount_micros":5000000,"currency":"USD"},"occurred_at":"2026-11-23T12:00:00Z"}`),
		func(v []byte) error { _, err := out.Decode(v, lim); return err })
	im := NewDecoder[Impression]()
	bench("Impression", AppendImpression(nil, &imp), func(v []byte) error { _, err := im.Decode(v, lim); return err })
	lease := NewDecoder[Lease]()
	bench("Lease", AppendLease(nil, &l), func(v []byte) error { _, err := lease.Decode(v, lim); return err })
	var ls Lease
	bench("DecodeLease", AppendLease(nil, &l), func(v []byte) error { return DecodeLease(v, &ls) })
}
