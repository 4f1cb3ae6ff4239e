package pacing

import (
	"testing"
	"time"
)

// capHeadroom is fixedHeadroom with the λ_max fact slow start and the
// bucket watch read (capacity.Model's LambdaMax).
type capHeadroom struct{ fixedHeadroom }

func (h *capHeadroom) LambdaMax(string) float64 { return h.perMin }

// TestDropEmptiesBucketAtOnce: tokens earned under one staffing are not
// spent under a smaller one. After a drop of λ_max between two ticks the
// next bid is skipped and the bucket is empty; a small change (within
// participation.drop) leaves it alone.
func TestDropEmptiesBucketAtOnce(t *testing.T) {
	h := &capHeadroom{fixedHeadroom{perMin: 60}}
	// Ticks only, no bids: slow start ramps to full and the bucket fills
	// to its burst ceiling (2 s of 0.9 × 60 calls/min = 1.8 calls).
	p, now := tickedPacer(t, Config{}, h, 120)
	tokens := func() float64 { return p.View().Skills[0].Tokens }
	if tokens() < 1 {
		t.Fatalf("bucket holds %.2f calls after two minutes without bids; want it full", tokens())
	}
	h.perMin = 50 // within participation.drop (25%)
	if !p.Admit("sales") {
		t.Fatal("a 17% fall of λ_max skipped the bid; want the bucket kept")
	}
	h.perMin = 24 // 60 → 24: the staffing changed under the bucket
	if p.Admit("sales") {
		t.Fatal("bid admitted on tokens earned at λ_max 60 after a drop to 24")
	}
	if v := tokens(); v != 0 {
		t.Fatalf("bucket holds %.2f calls after the drop; want 0", v)
	}
	// The next tick refills at the new capacity, from slow start.
	now = now.Add(time.Second)
	p.Tick(now)
	if !p.Admit("sales") {
		t.Fatal("no bid after the tick that saw the drop")
	}
	if s := p.View().Skills[0]; s.SlowStarts < 2 || s.Tokens > 0.9*24/60*2 {
		t.Fatalf("after the drop: slow starts %d, bucket %.2f calls; want a restart and at most 2 s of the new refill", s.SlowStarts, s.Tokens)
	}
}

// BenchmarkAdmitFullBucket is Admit when the bucket has tokens, the path
// that also reads λ_max to check for a drop since the last tick.
func BenchmarkAdmitFullBucket(b *testing.B) {
	cfg := Config{}
	cfg.Participation.Burst = time.Hour
	p, _ := tickedPacer(b, cfg, &capHeadroom{fixedHeadroom{perMin: 1e6}}, 60)
	b.ReportAllocs()
	for b.Loop() {
		sinkAdmit = p.Admit("sales")
	}
}

var sinkAdmit bool

// tickedPacer builds a pacer for skill "sales" on capacity c at a 5 %
// call rate and ticks it once a second for the given seconds, without
// bids; it returns the pacer and the last tick's time.
func tickedPacer(tb testing.TB, cfg Config, c Capacity, seconds int) (*Pacer, time.Time) {
	tb.Helper()
	p, err := New(cfg, []string{"sales"}, c, newFixedRates(tb, 0.05))
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for range seconds {
		now = now.Add(time.Second)
		p.Tick(now)
	}
	return p, now
}
