package feedback

import (
	"math"
	"strconv"
	"testing"
	"time"
)

// bought reads a skill's cumulative expected calls bought.
func bought(f *Feedback, skill string) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gateMap[skill].bought
}

// TestParticipationPacesExpectedCalls drives the bucket as the bid path
// would (a request every 50 ms, winning every bid) and checks the expected
// calls bought per minute against target × budget, the slow start, and the
// stop after a drop while calls bought earlier are still due.
func TestParticipationPacesExpectedCalls(t *testing.T) {
	cfg := Config{}
	cfg.Pacing.HeadroomGross = true
	f, _, now := newTest(t, cfg)
	h := f.headroom.(*fixedHeadroom)
	h.perMin = 10 // B = 10 calls/min → 9 at target 0.9
	start := *now
	n, skipped := 0, 0
	var at10, at120, at180 float64
	step := 50 * time.Millisecond
	for i := 1; i <= 240*20; i++ {
		*now = now.Add(step)
		if f.Admit("mortgage") {
			n++
			f.RecordBid("c1", "mortgage", "p1", "x1", 1_000_000, *now)
			f.HandleImpression(imp("b"+strconv.Itoa(n), "p1", "x1", 1_000_000, *now))
		} else {
			skipped++
		}
		if i%20 == 0 {
			f.drain()
			f.tick(*now)
		}
		switch now.Sub(start) {
		case 10 * time.Second:
			at10 = bought(f, "mortgage")
		case 120 * time.Second:
			at120 = bought(f, "mortgage")
		case 180 * time.Second:
			at180 = bought(f, "mortgage")
			h.perMin = 2 // a drop to 1.8 calls/min at target
		}
	}
	at240 := bought(f, "mortgage")
	// Slow start: the first 10 s stay well under the 1.5 calls the full
	// rate would buy (level 0.25 doubling every 5 s, plus a 2 s burst).
	if at10 > 1.2 {
		t.Errorf("first 10 s bought %.2f expected calls; want slow start under 1.2", at10)
	}
	if r := at180 - at120; math.Abs(r-9)/9 > 0.15 {
		t.Errorf("steady minute bought %.2f expected calls; want 9 ± 15%%", r)
	}
	// After the drop the calls bought in the last minutes are still due: the
	// bucket buys less than the new 1.8/min until they have arrived.
	if r := at240 - at180; r > 1.8 {
		t.Errorf("minute after the drop bought %.2f expected calls; want ≤ 1.8", r)
	}
	if skipped == 0 {
		t.Error("no request was skipped")
	}
	t.Logf("bids %d skipped %d; bought %.2f (0–10 s) %.2f (120–180 s) %.2f (after drop)", n, skipped, at10, at180-at120, at240-at180)
}
