package pacing

import (
	"math"
	"testing"
	"time"
)

// TestOtherBidsAreHeldUntilSettled: another instance's bids (its hold
// records) count as held calls in flight at their expected calls, its wins
// settle them, the notice window ends them, and a bid replayed from long
// ago changes nothing.
func TestOtherBidsAreHeldUntilSettled(t *testing.T) {
	p, err := New(Config{}, []string{"sales"}, &fixedHeadroom{perMin: 10}, newFixedRates(t, 0.05))
	if err != nil {
		t.Fatal(err)
	}
	p.ShareWith(fixedShare(0.5))
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	p.Tick(now)
	held := func() float64 { return p.View().Skills[0].Held }
	p.OtherBid("c1", "sales", "p1", "x1", now.Add(-time.Hour), now) // replayed
	for range 10 {
		p.OtherBid("c1", "sales", "p1", "x1", now, now)
	}
	now = now.Add(time.Second)
	p.Tick(now)
	// p_win 1 (the prior) × 0.05 calls per win, ten bids.
	if h := held(); math.Abs(h-0.5) > 1e-9 {
		t.Fatalf("ten bids of another instance: held %.4f expected calls, want 0.5", h)
	}
	p.Win("sales", "x1", now, now, 0.05, false)
	p.Win("sales", "x1", now, now, 0.05, false)
	now = now.Add(time.Second)
	p.Tick(now)
	if h := held(); math.Abs(h-0.4) > 1e-9 {
		t.Fatalf("after two of them won: held %.4f, want 0.4", h)
	}
	if b := p.View().Skills[0].Bought; b != 0 {
		t.Fatalf("expected_calls_bought %.4f counts another instance's bids", b)
	}
	now = now.Add(p.cfg.Participation.NoticeWindow + time.Second)
	p.Tick(now)
	if h := held(); h != 0 {
		t.Fatalf("after the notice window: held %.4f, want 0", h)
	}
}

// TestOtherBidsInWinProbability: two instances each see every win; with
// the other's bids counted, each one's p_win is wins over all bids, not
// over its own (which read twice the true rate).
func TestOtherBidsInWinProbability(t *testing.T) {
	pwin := func(counted bool) float64 {
		cfg := Config{}
		a, err := New(cfg, []string{"sales"}, nil, newFixedRates(t, 0.05))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		for i := 1; i <= 2000; i++ {
			now = now.Add(50 * time.Millisecond)
			if i%20 == 1 {
				a.Tick(now)
			}
			if i%2 == 0 {
				a.Bid("x1", "sales", now.UnixNano(), 0.05)
			} else if counted {
				a.OtherBid("c1", "sales", "p1", "x1", now, now)
			}
			if i%5 == 0 { // one bid in five wins, at either instance
				a.Win("sales", "x1", now, now, 0.05, i%2 == 0)
			}
		}
		a.Tick(now.Add(time.Minute))
		return a.View().Exchanges[0].WinProb
	}
	with, without := pwin(true), pwin(false)
	if math.Abs(with-0.2) > 0.03 {
		t.Fatalf("p_win with the other instance's bids counted: %.3f, want about 0.2", with)
	}
	if without < 0.35 {
		t.Fatalf("p_win over this instance's bids alone: %.3f; the test no longer shows what counting the other's fixes", without)
	}
	t.Logf("p_win at a true 0.2: %.3f with the other instance's bids, %.3f without", with, without)
}
