//go:build !race

package bidder

import "testing"

// TestAllocsExchangeFactor: the learned factor costs the decision no
// allocation (an interface call with two strings).
func TestAllocsExchangeFactor(t *testing.T) {
	e := newEnvFactors(t, fakeFactors{"mortgage/good": 1.5})
	s := e.b.snap.Load()
	ex := s.exchange([]byte("good"))
	req := banner300()
	d := e.b.getDecision()
	e.b.decide(d, s, req, ex, e.now)
	if len(d.Bids) != 1 {
		t.Fatalf("no bid: %s", d.Cause)
	}
	if n := testing.AllocsPerRun(200, func() { e.b.decide(d, s, req, ex, e.now) }); n != 0 {
		t.Errorf("%.1f allocations per decision, want 0", n)
	}
}
