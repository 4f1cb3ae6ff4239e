package bidder

import (
	"math"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// fakeFactors is a hand-written ExchangeFactors: a factor per
// "campaign/exchange", 1 for the rest.
type fakeFactors map[string]float64

func (f fakeFactors) ExchangeFactor(campaignID, exchange string) float64 {
	if v, ok := f[campaignID+"/"+exchange]; ok {
		return v
	}
	return 1
}

func newEnvFactors(t *testing.T, f ExchangeFactors) *testEnv {
	t.Helper()
	e := newEnv(t, baseConfig(), 0)
	deps := e.b.deps
	deps.ExchangeFactors = f
	b, err := New(baseConfig(), deps, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	e.b = b
	return e
}

func TestExchangeFactorMultipliesTheBid(t *testing.T) {
	f := fakeFactors{"mortgage/good": 1.5, "mortgage/dead": 0, "mortgage/broken": math.NaN(), "mortgage/neg": -2}
	e := newEnvFactors(t, f)
	for _, c := range []struct {
		exchange string
		campaign string
		price    float64
	}{
		{"good", "mortgage", 6},   // 4.00 × 1.5
		{"other", "mortgage", 4},  // no learned factor: 1
		{"dead", "auto", 3},       // factor 0: mortgage stops bidding there; auto wins
		{"broken", "mortgage", 4}, // NaN is ignored
		{"neg", "mortgage", 4},    // so is a negative factor
	} {
		r := e.b.Decide(banner300(), c.exchange, e.now)
		if len(r.Bids) != 1 || r.Bids[0].CID != c.campaign || math.Abs(r.Bids[0].Price-c.price) > 1e-9 {
			t.Errorf("%s: bids %+v (cause %s), want %s at %g", c.exchange, r.Bids, r.Cause, c.campaign, c.price)
		}
	}
	// Without ExchangeFactors the price is the configured one.
	plain := newEnv(t, baseConfig(), 0)
	if r := plain.b.Decide(banner300(), "good", plain.now); len(r.Bids) != 1 || r.Bids[0].Price != 4 {
		t.Fatalf("nil ExchangeFactors: bids %+v, want mortgage at 4", r.Bids)
	}
}

func TestExchangeFactorInDebugAnswer(t *testing.T) {
	e := newEnvFactors(t, fakeFactors{"mortgage/good": 1.5})
	s := e.b.snap.Load()
	d := &decision{}
	e.b.decide(d, s, banner300(), s.exchange([]byte("good")), e.now)
	out := string(appendDebugExt([]byte(`{}`), d, s))
	if !strings.Contains(out, `{"id":"mortgage","result":"bid","price":6,"exchange_factor":1.5}`) ||
		!strings.Contains(out, `{"id":"auto","result":"outbid","price":3,"exchange_factor":1}`) {
		t.Fatalf("debug answer %s", out)
	}
	plain := newEnv(t, baseConfig(), 0)
	s = plain.b.snap.Load()
	d = &decision{}
	plain.b.decide(d, s, banner300(), s.exchange([]byte("good")), plain.now)
	if out := string(appendDebugExt([]byte(`{}`), d, s)); strings.Contains(out, "exchange_factor") {
		t.Fatalf("no ExchangeFactors, yet the debug answer shows one: %s", out)
	}
}
