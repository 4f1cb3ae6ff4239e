package hitrate

import (
	"strings"
	"testing"
	"time"
)

// TestCallsPerWinFromCautiousPrior: a publisher with no evidence is priced
// at the cautious rate (above the campaign's prior), one with evidence at
// its own posterior; neither read allocates.
func TestCallsPerWinFromCautiousPrior(t *testing.T) {
	h, err := New(Config{CautiousCallRate: 0.05}, []Campaign{{ID: "c1", Skill: "sales", PriorCallRate: 0.01}})
	if err != nil {
		t.Fatal(err)
	}
	if r := h.CallsPerWin("c1", "new"); r != 0.05 {
		t.Fatalf("new publisher priced at %v, want the cautious 0.05", r)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i := range 400 {
		at := now.Add(-3*time.Hour + time.Duration(i)*time.Second)
		h.Win("c1", "p1", "", at, now)
		if i%10 == 0 { // 10% call rate
			h.AddCall(Contribution{Campaign: "c1", Publisher: "p1", At: at.Add(time.Minute), Calls: 1, Qualified: 1}, 1)
		}
	}
	h.Rebuild(now)
	if r := h.CallsPerWin("c1", "p1"); r < 0.08 || r > 0.11 {
		t.Fatalf("publisher with 400 wins and 40 calls priced at %.4f, want near 0.1", r)
	}
	if f := h.HitRate("c1", "p1"); f <= 1 {
		t.Fatalf("hit-rate factor %.2f for a publisher at 10× the prior, want > 1", f)
	}
	if !raceEnabled {
		pub := string([]byte("p1"))
		if n := testing.AllocsPerRun(100, func() {
			_ = h.HitRate("c1", pub)
			_ = h.CallsPerWin("c1", pub)
			_ = h.Arrival("sales").At(30)
		}); n != 0 {
			t.Fatalf("%.0f allocations per bid-path read, want 0", n)
		}
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	c := Config{MinFactor: 5, MaxFactor: 2, PriorStrength: -1}
	c.TimeToCall.DefaultMean = 3 * time.Hour
	err := c.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"min_factor:", "prior_strength:", "time_to_call.default_mean:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not name %s", err, want)
		}
	}
}
