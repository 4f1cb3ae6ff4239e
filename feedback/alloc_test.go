//go:build !race

package feedback

import (
	"testing"
	"time"
)

// The bid-path reads must not allocate.
func TestBidPathAllocs(t *testing.T) {
	f := benchFeedback(t)
	f.records = newRecordRing(1 << 16)
	now := time.Now()
	pub := string([]byte("pub-1234")) // not a constant: as from a request
	cases := map[string]func(){
		"HitRate":     func() { sink += f.HitRates().HitRate("c17", pub) },
		"HitRateMiss": func() { sink += f.HitRates().HitRate("c17", "unknown") },
		"Pacing":      func() { m, _ := f.Pacer().Pacing("s7"); sink += m },
		"RecordSeen":  func() { f.RecordSeen("s7", "exchange-1", now) },
		"RecordBid":   func() { f.RecordBid("c17", "s7", pub, "exchange-1", 1, 0, now) },
		"Admit":       func() { sinkB = f.Pacer().Admit("s7") },
		"Spend":       func() { sink += f.Pacer().Charge("c17", "s7", pub, "exchange-1") },
		"SpendMiss":   func() { sink += f.Pacer().Charge("c17", "s7", "unknown", "unknown-exchange") },
	}
	for name, fn := range cases {
		if n := testing.AllocsPerRun(1000, fn); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
	if d := f.Stats().RecordsDropped; d != 0 {
		t.Fatalf("queue dropped %d during the guard", d)
	}
}
