package pacing

import (
	"math"
	"testing"
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/hitrate"
)

type fixedHeadroom struct{ perMin float64 }

func (h *fixedHeadroom) Load(string) (capacity.Load, bool) {
	return capacity.Load{LambdaMax: h.perMin}, true
}

// fixedRates prices every bid at one rate, with the default time-to-call
// distribution of a fresh hit-rate model.
type fixedRates struct {
	rate  float64
	delay *hitrate.Delay
}

func (r *fixedRates) CallsPerWin(string, string) float64 { return r.rate }
func (r *fixedRates) Arrival(string) *hitrate.Delay      { return r.delay }
func newFixedRates(t testing.TB, rate float64) *fixedRates {
	t.Helper()
	h, err := hitrate.New(hitrate.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixedRates{rate: rate, delay: h.Arrival("sales")}
}

type fixedShare float64

func (s fixedShare) Share() float64 { return float64(s) }

// bought runs pacers side by side for 3 minutes, a request every 50 ms
// to each, ticking every second; every 5th bid of each wins, and every
// pacer hears of every win (as instances do through the impressions
// topic). It returns the expected calls they bought together.
func bought(t *testing.T, shares ...float64) float64 {
	t.Helper()
	cfg := Config{}
	var ps []*Pacer
	for _, s := range shares {
		p, err := New(cfg, []string{"sales"}, &fixedHeadroom{perMin: 10}, newFixedRates(t, 0.05))
		if err != nil {
			t.Fatal(err)
		}
		p.ShareWith(fixedShare(s))
		ps = append(ps, p)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	bids := make([]int, len(ps))
	for i := 1; i <= 180*20; i++ {
		now = now.Add(50 * time.Millisecond)
		for k, p := range ps {
			if i%20 == 1 {
				p.Tick(now)
			}
			if !p.Admit("sales") {
				continue
			}
			p.Bid("x1", "sales", now.UnixNano(), p.Charge("c1", "sales", "p1", "x1"))
			if bids[k]++; bids[k]%5 == 0 {
				for j, q := range ps {
					q.Win("sales", "x1", now, now, 0.05, j == k)
				}
			}
		}
	}
	var sum float64
	for _, p := range ps {
		sum += p.View().Skills[0].Bought
	}
	return sum
}

// TestSharedInstancesBuyWhatOneWould: two instances that each own half of
// the number pools (numbers.Pools.Share 0.5) together buy about the
// expected calls one instance alone buys (issue 13), not twice as many.
func TestSharedInstancesBuyWhatOneWould(t *testing.T) {
	alone := bought(t, 1)
	pair := bought(t, 0.5, 0.5)
	if alone == 0 || math.Abs(pair-alone) > 0.1*alone {
		t.Fatalf("two instances at share 0.5 bought %.2f expected calls, one alone %.2f: want within 10%%", pair, alone)
	}
	t.Logf("expected calls bought in 3 min: alone %.2f, two instances at share 0.5 %.2f", alone, pair)
}

// TestShareZeroBuysNothing: an instance that owns no partition yet (shared
// pools before the first assignment) buys nothing.
func TestShareZeroBuysNothing(t *testing.T) {
	if n := bought(t, 0); n > 0.2 {
		t.Fatalf("an instance with share 0 bought %.2f expected calls", n)
	}
}
