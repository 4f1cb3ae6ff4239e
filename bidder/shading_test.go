package bidder

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/callbid/callbid/openrtb"
)

// firstPriceExchange is a simulated first-price exchange whose highest
// competing bid is log-normal (median 4.00 CPM, σ 0.5): the bidder wins when
// its bid beats it, pays its bid, and is told the outcome by notice.
type firstPriceExchange struct {
	rng      *rand.Rand
	median   float64
	sigma    float64
	tellMin  bool // send ${AUCTION_MIN_TO_WIN} and the winner's price on losses
	auctions int
	wins     int
	surplus  float64
	paid     float64
}

func (x *firstPriceExchange) competitor() float64 {
	return x.median * math.Exp(x.sigma*x.rng.NormFloat64())
}

// cdf is the true P(competitor < p).
func (x *firstPriceExchange) cdf(p float64) float64 {
	return 0.5 * math.Erfc(-math.Log(p/x.median)/(x.sigma*math.Sqrt2))
}

// bestSurplus is the expected surplus per auction of the best fixed bid.
func (x *firstPriceExchange) bestSurplus(value float64) (bid, surplus float64) {
	for p := 0.01; p < value; p += 0.001 {
		if u := (value - p) * x.cdf(p); u > surplus {
			bid, surplus = p, u
		}
	}
	return bid, surplus
}

func fmtPrice(p float64) []byte { return strconv.AppendFloat(nil, p, 'f', 6, 64) }

// run plays n auctions (or until wins reach untilWins > 0).
func (x *firstPriceExchange) run(t *testing.T, e *testEnv, value float64, n, untilWins int) {
	t.Helper()
	for i := 0; i < n && (untilWins == 0 || x.wins < untilWins); i++ {
		req := banner300()
		req.AT = 1
		req.Imps[0].BidFloor = 0.05
		e.now = e.now.Add(10 * time.Millisecond)
		r := e.b.Decide(req, "fpx", e.now)
		if len(r.Bids) != 1 {
			t.Fatalf("auction %d: no bid (%s)", i, r.Cause)
		}
		bid := r.Bids[0]
		if bid.Price > value+1e-9 || bid.Price < 0.05 {
			t.Fatalf("auction %d: bid %g outside [floor 0.05, value %g]", i, bid.Price, value)
		}
		m := x.competitor()
		x.auctions++
		var mtw []byte
		if x.tellMin {
			mtw = fmtPrice(m)
		}
		if bid.Price > m {
			x.wins++
			x.surplus += value - bid.Price
			x.paid += bid.Price
			e.b.applyNoticeFull(noticeWin, []byte(tokenOf(t, bid.NURL)), fmtPrice(bid.Price), nil, mtw, e.now)
		} else {
			var winner []byte
			if x.tellMin {
				winner = fmtPrice(m)
			}
			e.b.applyNoticeFull(noticeLoss, []byte(tokenOf(t, bid.LURL)), winner, nil, mtw, e.now)
		}
	}
}

func shadingEnv(t *testing.T, disabled bool) *testEnv {
	cfg := baseConfig()
	cfg.Campaigns = cfg.Campaigns[1:2] // auto: base 3.00 …
	cfg.Campaigns[0].BaseCPM, cfg.Campaigns[0].MaxCPM = 10_000_000, 20_000_000
	cfg.Shading.Disabled = disabled
	return newEnv(t, cfg, 0)
}

// TestShadingFirstPriceAcceptance: the acceptance test. Against a
// first-price exchange with a known competing-bid distribution, within
// 5,000 auctions the shaded bids earn ≥ 90% of the best possible surplus,
// and the mean clearing price is ≥ 30% below unshaded bids' at the same
// number of wins.
func TestShadingFirstPriceAcceptance(t *testing.T) {
	const value, n = 10.0, 5000
	for _, seed := range []uint64{7, 21, 99} {
		for _, tell := range []bool{true, false} {
			name := "min-to-win told"
			if !tell {
				name = "wins and bids only"
			}
			t.Run(name+"/seed "+strconv.FormatUint(seed, 10), func(t *testing.T) { shadingRun(t, seed, tell, value, n) })
		}
	}
}

func shadingRun(t *testing.T, seed uint64, tell bool, value float64, n int) {
	{
		{
			x := &firstPriceExchange{rng: rand.New(rand.NewPCG(seed, 11)), median: 4, sigma: 0.5, tellMin: tell}
			bestBid, best := x.bestSurplus(value)
			// Exploration draws from the process-wide bid sequence, which
			// other tests (and -count repetitions) move: start it at a
			// value of this seed's own, so the run is the same in any
			// order (it failed 2 of 30 shuffled repetitions otherwise).
			bidSeq.Store(seed << 32)
			e := shadingEnv(t, false)
			x.run(t, e, value, n, 0)
			ratio := x.surplus / (best * float64(n))
			shadedMean := x.paid / float64(x.wins)

			u := &firstPriceExchange{rng: rand.New(rand.NewPCG(seed, 11)), median: 4, sigma: 0.5, tellMin: tell}
			u.run(t, shadingEnv(t, true), value, 10*n, x.wins)
			unshadedMean := u.paid / float64(u.wins)
			fall := 1 - shadedMean/unshadedMean
			t.Logf("best fixed bid %.2f (surplus %.3f/auction); shaded: %d wins, surplus %.0f = %.1f%% of best %.0f, mean clearing %.2f; "+
				"unshaded: %d wins in %d auctions, mean clearing %.2f; clearing price falls %.1f%%",
				bestBid, best, x.wins, x.surplus, 100*ratio, best*float64(n), shadedMean, u.wins, u.auctions, unshadedMean, 100*fall)
			if ratio < 0.9 {
				t.Errorf("shaded surplus %.1f%% of the best possible, want ≥ 90%%", 100*ratio)
			}
			if fall < 0.3 {
				t.Errorf("mean clearing price falls %.1f%%, want ≥ 30%%", 100*fall)
			}
			if d := math.Abs(float64(u.wins-x.wins)) / float64(x.wins); d > 0.1 {
				t.Errorf("win counts differ by %.0f%%", 100*d)
			}
			// Second price is never shaded, whatever was learned.
			req := banner300()
			req.AT = 2
			if r := e.b.Decide(req, "fpx", e.now); len(r.Bids) != 1 || r.Bids[0].Price != value {
				t.Errorf("second-price bid %v, want the value %g", r.Bids, value)
			}
		}
	}
}

// TestShadingRespectsFloorAndValue: never below the floor nor above the
// value; a curve with too little evidence bids the value.
func TestShadingRespectsFloorAndValue(t *testing.T) {
	e := shadingEnv(t, false)
	req := banner300()
	req.AT = 1
	if r := e.b.Decide(req, "fpx", e.now); r.Bids[0].Price != 10 {
		t.Fatalf("no evidence: bid %g, want the value 10", r.Bids[0].Price)
	}
	x := &firstPriceExchange{rng: rand.New(rand.NewPCG(1, 2)), median: 4, sigma: 0.5, tellMin: true}
	x.run(t, e, 10, 1000, 0)
	req.Imps[0].BidFloor = 8
	if r := e.b.Decide(req, "fpx", e.now); len(r.Bids) != 1 || r.Bids[0].Price < 8 || r.Bids[0].Price > 10 {
		t.Fatalf("floor 8: bid %v, want in [8, 10]", r.Bids)
	}
	req.Imps[0].BidFloor = 0.01
	if r := e.b.Decide(req, "fpx", e.now); r.Bids[0].Price >= 9 {
		t.Fatalf("learned market: bid %g, want shaded", r.Bids[0].Price)
	}
	// Another exchange has learned nothing: full value.
	if r := e.b.Decide(req, "other-fpx", e.now); r.Bids[0].Price != 10 {
		t.Fatalf("unlearned exchange: bid %g, want 10", r.Bids[0].Price)
	}
	cfg := baseConfig()
	cfg.Shading = ShadingConfig{MinObservations: -1, MinFactor: 2, Memory: -1}
	err := cfg.Validate()
	for _, want := range []string{"shading.min_observations: must not be negative", "shading.min_factor: must be in [0, 1]",
		"shading.memory: must not be negative"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	_ = openrtb.Request{}
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0) }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestShadeCellsOwnTheirKeys: the decoder's strings view the request body,
// and fasthttp reuses that buffer for the connection's next request. A
// shading cell keyed by such a view changed its key under the map: the
// cell could no longer be found, every later bid on the pair copied the
// map to add another (88 MB/s of garbage in a 42,500 req/s bench run) and
// the pair's curve never gathered evidence.
func TestShadeCellsOwnTheirKeys(t *testing.T) {
	h, e := benchSetup(t, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
	body := readBody(t, "testdata/requests/own/realistic-2kb.json")
	ctx := newBidCtx(body, "/openrtb2/bid?exchange=fpx")
	pubs := []string{"pub-771", "pub-772", "pub-773"}
	for round := 0; round < 3; round++ {
		for _, pub := range pubs {
			// SetBody overwrites the same buffer, as a keep-alive connection's
			// next request does.
			ctx.Request.SetBody(bytes.Replace(body, []byte(`"pub-771"`), []byte(`"`+pub+`"`), 1))
			runBid(h, ctx)
			if code := ctx.Response.StatusCode(); code != 200 {
				t.Fatalf("round %d %s: status %d, want a bid", round, pub, code)
			}
		}
	}
	for _, pub := range pubs {
		if p, ex := e.b.shade.lookup("fpx", pub); p == nil || ex == nil {
			t.Errorf("no shading cell for fpx × %s after bids on it", pub)
		} else if n := p.obs.Load(); n != 3 {
			t.Errorf("fpx × %s counted %d bids, want 3", pub, n)
		}
	}
	if e.b.shade.count != len(pubs)+1 {
		t.Errorf("%d cells for one exchange and %d publishers, want %d", e.b.shade.count, len(pubs), len(pubs)+1)
	}
}
