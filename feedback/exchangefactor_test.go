package feedback

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/hitrate"
	"github.com/callbid/callbid/openrtb"
	"github.com/rs/zerolog"
)

// TestExchangeFactorFromCalls is the partners control as a campaign
// manager meets it: one campaign, one publisher, two exchanges; exchange
// A's won impressions bring 3× the calls of B's. Bids go through
// bidder.Decide with the feed's hit rates as its ExchangeFactors, wins
// and attributions through the feed's handlers, so within the run A's
// bids rise above B's, and /admin/rates shows why.
func TestExchangeFactorFromCalls(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 3))
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	f := mustNew(t, Config{MinTalkTime: time.Second}, []Campaign{{ID: "camp", Skill: "sales", PriorCallRate: 0.04, PriorClose: 0.1}}, nil, nil)
	f.clock = clock
	b, err := bidder.New(bidder.Config{
		Server: bidder.ServerConfig{NoticeBaseURL: "https://bid.example.com", NoticeSecret: "exchange-factor-secret-0123456789"},
		Campaigns: []bidder.CampaignConfig{{ID: "camp", AdvertiserDomain: "sales.example", AdCategories: []string{"IAB13-7"},
			Skill: bidder.SkillConfig{Name: "sales"}, ValuePerCall: 40_000_000, ExpectedCallRate: 0.04, MaxCPM: 5_000_000_000,
			Creatives:  []bidder.CreativeConfig{{ID: "c", Type: "banner", W: 300, H: 250, Template: `<a href="{{tel_uri}}">Call {{number}}</a>`}},
			NumberPool: "pool"}},
	}, bidder.Deps{Reserver: &clReserver{}, ExchangeFactors: f.HitRates(), Now: clock}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	req := &openrtb.Request{ID: "r", Inventory: openrtb.InventorySite, SiteOrAppID: "site", Domain: "news.example", PublisherID: "pub",
		Device: openrtb.Device{IP: "203.0.113.9", Type: 2, Country: "USA"},
		Imps:   []openrtb.Imp{{ID: "1", Banner: true, Formats: []openrtb.Format{{W: 300, H: 250}}}}}
	rate := map[string]float64{"A": 0.06, "B": 0.02} // calls per won impression: A brings 3× B's

	type call struct {
		at  time.Time
		att events.Attribution
	}
	var pending []call
	bids := map[string][]float64{}
	const step, minutes = 10 * time.Second, 240
	n := 0
	for now = t0; now.Before(t0.Add(minutes * time.Minute)); now = now.Add(step) {
		kept := pending[:0]
		for _, c := range pending {
			if c.at.After(now) {
				kept = append(kept, c)
				continue
			}
			_ = f.HandleAttribution(&c.att)
			f.applyCall(&events.Call{CallID: c.att.CallID, EventType: events.CallEnded, OccurredAt: now, TalkMS: 60_000})
		}
		pending = kept
		for _, ex := range []string{"A", "B"} {
			res := b.Decide(req, ex, now)
			if len(res.Bids) != 1 {
				t.Fatalf("%s at %s: no bid (%s)", ex, now.Sub(t0), res.Cause)
			}
			bids[ex] = append(bids[ex], res.Bids[0].Price)
			n++
			id := res.Bids[0].ID
			f.applyImpression(&events.Impression{BidID: id, Kind: "win", CampaignID: "camp", PublisherID: "pub", Exchange: ex,
				Skill: "sales", PriceMicros: int64(res.Bids[0].Price * 1e6), Currency: "USD", At: now}, InProcess)
			if rng.Float64() < rate[ex] {
				d := time.Duration(rng.ExpFloat64() * float64(time.Minute))
				pending = append(pending, call{at: now.Add(d), att: events.Attribution{CallID: "call-" + id, DNIS: "+18005550100",
					StartedAt: now.Add(d), Match: "exact", Accepted: true, CampaignID: "camp", PublisherID: "pub",
					Exchange: ex, BidID: id, WonAt: now, Skill: "sales", TalkMS: 60_000}})
			}
		}
		f.tick(now)
	}
	per := len(bids["A"])
	first := func(ex string) float64 { return mean(bids[ex][:per/120]) } // the first 2 minutes
	last := func(ex string) float64 { return mean(bids[ex][per*7/8:]) }  // the last 30 minutes
	early, late := first("A")/first("B"), last("A")/last("B")
	t.Logf("bid A/B: first 2 min %.3f, last 30 min %.3f (A %.2f, B %.2f CPM)", early, late, last("A"), last("B"))
	if math.Abs(early-1) > 0.05 {
		t.Errorf("A/B bids %.3f in the first 2 minutes, want about 1 (little evidence: shrunk to 1)", early)
	}
	if late < 1.5 {
		t.Errorf("A/B bids %.3f in the last 30 minutes, want ≥ 1.5 (A brings 3× the calls)", late)
	}
	if last("A") <= first("A") || last("B") >= first("B") {
		t.Errorf("A's bids went %.2f → %.2f, B's %.2f → %.2f: want A up, B down", first("A"), last("A"), first("B"), last("B"))
	}
	got := map[string]hitrate.ExchangeRate{}
	for _, r := range f.HitRates().Rates(hitrate.RatesQuery{Campaign: "camp", Now: now}).Exchanges {
		got[r.Exchange] = r
	}
	if got["A"].Factor <= 1 || got["B"].Factor >= 1 || got["A"].CallsPerWin < 2*got["B"].CallsPerWin {
		t.Fatalf("rates view %+v: want A above 1 and B below, A's calls per win ≈ 3× B's", got)
	}
}
