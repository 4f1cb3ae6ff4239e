package hitrate

import (
	"math"
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
		h.Win("c1", "p1", "", "", at, now)
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

// TestExchangeFactor: with no evidence the factor is 1; an exchange whose
// wins bring 3× the calls of the other's rises above 1 and the other
// falls below, within exchange_factor's bounds; the read does not allocate.
func TestExchangeFactor(t *testing.T) {
	h, err := New(Config{}, []Campaign{{ID: "c1", Skill: "sales", PriorCallRate: 0.04}})
	if err != nil {
		t.Fatal(err)
	}
	if f := h.ExchangeFactor("c1", "A"); f != 1 {
		t.Fatalf("factor %v without evidence, want 1", f)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i := range 2000 {
		at := now.Add(-5*time.Hour + time.Duration(i)*5*time.Second)
		for _, ex := range []string{"A", "B"} {
			h.Win("c1", "p1", ex, "", at, now)
		}
		if i%50 < 3 { // A: 6% of its wins call
			h.AddCall(Contribution{Campaign: "c1", Publisher: "p1", Exchange: "A", At: at.Add(time.Minute), Calls: 1}, 1)
		}
		if i%50 == 0 { // B: 2%
			h.AddCall(Contribution{Campaign: "c1", Publisher: "p1", Exchange: "B", At: at.Add(time.Minute), Calls: 1}, 1)
		}
	}
	h.Rebuild(now)
	a, b := h.ExchangeFactor("c1", "A"), h.ExchangeFactor("c1", "B")
	// 120 calls vs 40 on 2000 wins each; campaign 4%: A (20+120)/(20+80) = 1.4, B (20+40)/100 = 0.6.
	if math.Abs(a-1.4) > 0.02 || math.Abs(b-0.6) > 0.02 {
		t.Fatalf("factors A %.3f, B %.3f, want 1.4 and 0.6", a, b)
	}
	v := h.Rates(RatesQuery{Now: now})
	if len(v.Exchanges) != 2 || v.Exchanges[0].Exchange != "A" || v.Exchanges[0].Factor != a || math.Abs(v.Exchanges[0].CallsPerWin-0.06) > 0.002 {
		t.Fatalf("rates view %+v", v.Exchanges)
	}
	if !raceEnabled {
		ex := string([]byte("A"))
		if n := testing.AllocsPerRun(100, func() { _ = h.ExchangeFactor("c1", ex) }); n != 0 {
			t.Fatalf("%.0f allocations per ExchangeFactor, want 0", n)
		}
	}
}

func TestExchangeConfigErrorsNameTheField(t *testing.T) {
	err := (&Config{ExchangeFactor: ExchangeConfig{MinFactor: 1.2, MaxFactor: 1.1, PriorStrength: -1}}).Validate()
	for _, want := range []string{"exchange_factor.prior_strength:", "exchange_factor.min_factor: 1.2 is above", "must include 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not say %s", err, want)
		}
	}
}

// TestExchangeFactorNotCreditedWithPublishers: exchange A sells only a
// publisher whose wins bring 3× the calls of the one B sells. The
// publishers' own hit-rate factors price that, so the exchange factors stay
// near 1 instead of paying for the publisher twice: A/B 1.36 here, where
// exchange calls per win alone would give (20+240)/(20+160) ÷
// (20+80)/(20+160) = 2.6. What remains is the publishers' rates shrunk
// toward the campaign's and the wins taken before the first evidence.
func TestExchangeFactorNotCreditedWithPublishers(t *testing.T) {
	h, err := New(Config{}, []Campaign{{ID: "c1", Skill: "sales", PriorCallRate: 0.04}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i := range 4000 {
		at := now.Add(-8*time.Hour + time.Duration(i)*5*time.Second)
		h.Win("c1", "good", "A", "", at, now)
		h.Win("c1", "poor", "B", "", at, now)
		if i%50 < 3 {
			h.AddCall(Contribution{Campaign: "c1", Publisher: "good", Exchange: "A", At: at.Add(time.Minute), Calls: 1}, 1)
		}
		if i%50 == 0 {
			h.AddCall(Contribution{Campaign: "c1", Publisher: "poor", Exchange: "B", At: at.Add(time.Minute), Calls: 1}, 1)
		}
		if i%100 == 99 {
			h.rebuildRatesLocked(now) // as the feed's Run loop would, between wins
		}
	}
	h.Rebuild(now.Add(time.Hour))
	a, b := h.ExchangeFactor("c1", "A"), h.ExchangeFactor("c1", "B")
	t.Logf("factors A %.3f, B %.3f", a, b)
	if a > 1.15 || b < 0.75 || a/b > 1.4 {
		t.Fatalf("factors A %.3f, B %.3f: want near 1 (the publishers explain the difference)", a, b)
	}
}
