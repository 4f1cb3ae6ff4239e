package feedback

import (
	"testing"
	"time"

	"github.com/callbid/callbid/kafkaio"
	"github.com/rs/zerolog"
)

// FuzzHandlers feeds arbitrary bytes to every handler: nothing panics, and
// whatever is accepted keeps the report consistent (no negative counts).
func FuzzHandlers(f *testing.F) {
	for _, m := range scenario() {
		f.Add(uint8(0), m.Value)
	}
	f.Add(uint8(1), []byte(`{"call_id":"k","disposition":"SPAM","is_final":true,"occurred_at":"2026-01-01T00:00:00Z"}`))
	f.Add(uint8(2), []byte(`{"call_id":"k","event_type":"ENDED","talk_ms":-5,"occurred_at":"2026-01-01T00:00:00Z"}`))
	f.Add(uint8(3), []byte(`{"bid_id":"b","kind":"win","campaign_id":"c1","at":"0001-01-01T00:00:00Z","price_micros":9223372036854775807}`))
	f.Add(uint8(0), []byte(`null`))
	fb := New(Config{}, []Campaign{{ID: "c1", Skill: "s"}}, &fixedHeadroom{perMin: 1}, &capPub{}, zerolog.Nop())
	defer fb.traffic.close()
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		m := kafkaio.Message{Value: b}
		switch which % 4 {
		case 0:
			feedAttr(fb, m)
		case 1:
			feedOutcome(fb, m)
		case 2:
			feedCall(fb, m)
		case 3:
			fb.HandleImpression(m)
		}
		fb.tick(time.Now())
		rep, err := fb.BuildReport(time.Time{}, time.Time{}, "publisher")
		if err != nil {
			t.Fatal(err)
		}
		if tt := rep.Total; tt.Calls < 0 || tt.QualifiedCalls < 0 || tt.Sales < 0 || tt.Wins < 0 || tt.QualifiedCalls > tt.Calls {
			t.Fatalf("inconsistent totals %+v", tt)
		}
	})
}
