package bidder

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
)

const valueYAML = `
server: { notice_base_url: "https://bid.example.com", notice_secret: "0123456789abcdef0123456789abcdef" }
campaigns:
  - id: solar
    advertiser_domain: solar.example
    skill: { name: sales }
    expected_call_rate: 0.001          # calls per impression (the hit-rate prior)
    value_bidding: { enabled: true, close_rate: 0.2, revenue_per_sale: 100, prior_calls: 20, prior_sales: 5 }
    max_cpm: 100
    creatives:
      - { id: s-300x250, type: banner, w: 300, h: 250, template: '<a href="{{tel_uri}}">Call {{number}}</a>' }
    number_pool: pool-mortgage
`

// TestValueBiddingFollowsCloseRates: two publishers with the same call rate;
// callers from pub-good buy 4× as often (40% against 10% of calls, 100 per
// sale). Starting from the priors (20% close, 100 per sale: 20 CPM), the
// bids on pub-good rise and those on pub-poor fall within the run, until
// their ratio is near the true 4×.
func TestValueBiddingFollowsCloseRates(t *testing.T) {
	e := newEnv(t, parseYAMLConfig(t, valueYAML), 0)
	rng := rand.New(rand.NewPCG(3, 4))
	closeRate := map[string]float64{"pub-good": 0.4, "pub-poor": 0.1}
	bid := func(pub string) float64 {
		req := banner300()
		req.PublisherID = pub
		r := e.b.Decide(req, "default", e.now)
		if len(r.Bids) != 1 {
			t.Fatalf("%s: no bid (%s)", pub, r.Cause)
		}
		return r.Bids[0].Price
	}
	start := map[string]float64{"pub-good": bid("pub-good"), "pub-poor": bid("pub-poor")}
	if start["pub-good"] != 20 || start["pub-poor"] != 20 {
		t.Fatalf("priors: bids %v, want 20 each", start)
	}
	call := 0
	for i := 0; i < 4000; i++ {
		pub := "pub-good"
		if i%2 == 1 {
			pub = "pub-poor"
		}
		bid(pub)
		e.now = e.now.Add(100 * time.Millisecond)
		if rng.Float64() >= 0.2 { // the same call rate on both
			continue
		}
		call++
		id := "call-" + strconv.Itoa(call)
		a := events.Attribution{CallID: id, ANI: "+1415555" + strconv.Itoa(1000+call), StartedAt: e.now, Accepted: true,
			Match: "exact", CampaignID: "solar", PublisherID: pub}
		e.b.HandleAttribution(&a)
		e.b.HandleAttribution(&a) // a duplicate record counts once
		a.Disposition, a.IsFinal = events.DispositionNoSale, true
		if rng.Float64() < closeRate[pub] {
			a.Disposition, a.Revenue = events.DispositionSale, &events.Money{AmountMicros: 100_000_000, Currency: "USD"}
		}
		e.b.HandleAttribution(&a) // feedback's re-emission with the final outcome
		e.b.HandleAttribution(&a)
	}
	good, poor := bid("pub-good"), bid("pub-poor")
	t.Logf("bids from 20/20 at the start to %.2f (pub-good) and %.2f (pub-poor) after %d calls: ratio %.2f", good, poor, call, good/poor)
	if !(good > 1.6*start["pub-good"]) || !(poor < 0.7*start["pub-poor"]) {
		t.Errorf("bids should move towards 40 and 10: good %.2f, poor %.2f", good, poor)
	}
	if r := good / poor; r < 3 || r > 5 {
		t.Errorf("bid ratio %.2f, want near 4", r)
	}
	// A publisher never seen still bids at the priors.
	if p := bid("pub-new"); p != 20 {
		t.Errorf("new publisher: %g, want 20", p)
	}
}

func TestValueBiddingValidate(t *testing.T) {
	cfg := parseYAMLConfig(t, valueYAML)
	c := &cfg.Campaigns[0]
	c.ValueBidding.CloseRate, c.ValueBidding.RevenuePerSale, c.ExpectedCallRate = 2, 0, 0
	c.BaseCPM = 1_000_000
	err := cfg.Validate()
	for _, want := range []string{"campaigns[0].value_bidding: replaces value_per_call and base_cpm",
		"campaigns[0].value_bidding.close_rate: must be in (0, 1]", "campaigns[0].value_bidding.revenue_per_sale: must be positive",
		"campaigns[0].expected_call_rate: must be in (0, 1]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}
