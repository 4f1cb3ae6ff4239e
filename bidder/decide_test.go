package bidder

import (
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/openrtb"
	"github.com/prebid/openrtb/v20/openrtb3"
)

// want is the expected decision: the campaign (and price) of each bid, in
// imp order, or the no-bid cause.
type want struct {
	cause  Cause
	camps  []string
	prices []float64
	cur    string
	deal   string
}

func TestDecideRules(t *testing.T) {
	f := func(name string, cfgMut func(*Config), reqMut func(*openrtb.Request), setup func(*testEnv), w want) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			cfg := baseConfig()
			if cfgMut != nil {
				cfgMut(&cfg)
			}
			e := newEnv(t, cfg, 0)
			if setup != nil {
				setup(e)
			}
			req := banner300()
			if reqMut != nil {
				reqMut(req)
			}
			r := e.b.Decide(req, "default", e.now)
			checkResult(t, &r, w)
		})
	}
	camp := func(i int, m func(*CampaignConfig)) func(*Config) {
		return func(c *Config) { m(&c.Campaigns[i]) }
	}
	all := func(m func(*CampaignConfig)) func(*Config) {
		return func(c *Config) {
			for i := range c.Campaigns {
				m(&c.Campaigns[i])
			}
		}
	}

	// Baseline: mortgage (4.00) beats auto (3.00) and legal (2.00).
	f("best campaign", nil, nil, nil, want{camps: []string{"mortgage"}, prices: []float64{4}, cur: "USD"})

	// Geo.
	f("country excludes one", camp(0, func(c *CampaignConfig) { c.Targeting.Countries = []string{"CAN"} }), nil, nil,
		want{camps: []string{"auto"}, prices: []float64{3}})
	f("country matches case-insensitively", all(func(c *CampaignConfig) { c.Targeting.Countries = []string{"usa"} }), nil, nil,
		want{camps: []string{"mortgage"}})
	f("country excludes all", all(func(c *CampaignConfig) { c.Targeting.Countries = []string{"CAN"} }), nil, nil,
		want{cause: CauseNoMatch})
	f("no geo in request with geo targeting", all(func(c *CampaignConfig) { c.Targeting.Countries = []string{"USA"} }),
		func(r *openrtb.Request) { r.Device.Country = "" }, nil, want{cause: CauseNoMatch})
	f("region excludes", all(func(c *CampaignConfig) { c.Targeting.Regions = []string{"NY"} }), nil, nil,
		want{cause: CauseNoMatch})
	f("region matches", camp(0, func(c *CampaignConfig) { c.Targeting.Regions = []string{"ca", "NY"} }), nil, nil,
		want{camps: []string{"mortgage"}})

	// Categories and bcat.
	f("site category group matches subcategory", all(func(c *CampaignConfig) { c.Targeting.SiteCategories = []string{"IAB12"} }),
		func(r *openrtb.Request) { r.Cats = []string{"IAB12-3"} }, nil, want{camps: []string{"mortgage"}})
	f("site category excludes", camp(0, func(c *CampaignConfig) { c.Targeting.SiteCategories = []string{"IAB3"} }), nil, nil,
		want{camps: []string{"auto"}})
	f("app categories apply to apps", all(func(c *CampaignConfig) { c.Targeting.AppCategories = []string{"IAB15"} }),
		func(r *openrtb.Request) { r.Inventory = openrtb.InventoryApp; r.Cats = []string{"IAB9"} }, nil, want{cause: CauseNoMatch})
	f("app categories match", all(func(c *CampaignConfig) { c.Targeting.AppCategories = []string{"IAB15"} }),
		func(r *openrtb.Request) { r.Inventory = openrtb.InventoryApp; r.Cats = []string{"IAB15-10"} }, nil, want{camps: []string{"mortgage"}})
	f("bcat group blocks two campaigns", nil, func(r *openrtb.Request) { r.BCat = []string{"IAB13"} }, nil,
		want{camps: []string{"legal"}, prices: []float64{2}})
	f("bcat blocks all → 504", nil, func(r *openrtb.Request) { r.BCat = []string{"IAB13", "iab11-2"} }, nil,
		want{cause: CauseBlocked})
	f("bcat sibling does not block", nil, func(r *openrtb.Request) { r.BCat = []string{"IAB13-1"} }, nil,
		want{camps: []string{"mortgage"}})

	// badv, bapp, coppa.
	f("badv blocks advertiser", nil, func(r *openrtb.Request) { r.BAdv = []string{"ACME-mortgage.com"} }, nil,
		want{camps: []string{"auto"}})
	f("badv blocks all → 504", nil, func(r *openrtb.Request) { r.BAdv = []string{"acme-mortgage.com", "auto-insure.com", "law-firm.com"} },
		nil, want{cause: CauseBlocked})
	f("bapp blocks advertised app", camp(0, func(c *CampaignConfig) { c.AppBundle = "com.acme.mortgage" }),
		func(r *openrtb.Request) { r.BApp = []string{"com.acme.mortgage"} }, nil, want{camps: []string{"auto"}})
	f("coppa blocks all → 504", nil, func(r *openrtb.Request) { r.Regs.COPPA = true }, nil, want{cause: CauseBlocked})
	f("coppa allowed by campaign", camp(2, func(c *CampaignConfig) { c.Targeting.AllowCOPPA = true }),
		func(r *openrtb.Request) { r.Regs.COPPA = true }, nil, want{camps: []string{"legal"}})

	// Keywords, device types, inventory.
	f("keywords match", all(func(c *CampaignConfig) { c.Targeting.Keywords = []string{"refinance"} }),
		func(r *openrtb.Request) { r.Keywords = "news, Refinance ,rates" }, nil, want{camps: []string{"mortgage"}})
	f("keywords miss", all(func(c *CampaignConfig) { c.Targeting.Keywords = []string{"refinance"} }),
		func(r *openrtb.Request) { r.Keywords = "sports,refinanced" }, nil, want{cause: CauseNoMatch})
	f("device type excludes", camp(0, func(c *CampaignConfig) { c.Targeting.DeviceTypes = []string{"phone", "tablet"} }), nil, nil,
		want{camps: []string{"auto"}})
	f("device type code matches", camp(0, func(c *CampaignConfig) { c.Targeting.DeviceTypes = []string{"2"} }), nil, nil,
		want{camps: []string{"mortgage"}})
	f("inventory excludes", all(func(c *CampaignConfig) { c.Targeting.Inventory = []string{"app"} }), nil, nil,
		want{cause: CauseNoMatch})

	// Publisher allow/block.
	f("publisher allow misses", camp(0, func(c *CampaignConfig) { c.Targeting.PublishersAllow = []string{"pub-9"} }), nil, nil,
		want{camps: []string{"auto"}})
	f("publisher allow hits by domain", all(func(c *CampaignConfig) { c.Targeting.PublishersAllow = []string{"NEWS.example"} }), nil, nil,
		want{camps: []string{"mortgage"}})
	f("publisher block one", camp(0, func(c *CampaignConfig) { c.Targeting.PublishersBlock = []string{"pub-1"} }), nil, nil,
		want{camps: []string{"auto"}})
	f("publisher block all → 7", all(func(c *CampaignConfig) { c.Targeting.PublishersBlock = []string{"site-1"} }), nil, nil,
		want{cause: CausePublisherBlocked})

	// Floors and deals.
	f("under imp floor → 503", nil, func(r *openrtb.Request) { r.Imps[0].BidFloor = 5 }, nil, want{cause: CauseBelowFloor})
	f("floor excludes cheaper campaigns only", nil, func(r *openrtb.Request) { r.Imps[0].BidFloor = 3.5 }, nil,
		want{camps: []string{"mortgage"}, prices: []float64{4}})
	f("floor in EUR converted", nil, func(r *openrtb.Request) { r.Imps[0].BidFloor = 3.5; r.Imps[0].BidFloorCur = "EUR" }, nil,
		want{cause: CauseBelowFloor}) // 3.5 EUR = 4.375 USD
	f("floor in unknown currency", nil, func(r *openrtb.Request) { r.Imps[0].BidFloor = 1; r.Imps[0].BidFloorCur = "JPY" }, nil,
		want{cause: CauseNoMatch})
	f("deal floor met", nil, func(r *openrtb.Request) {
		r.Imps[0].Deals = []openrtb.Deal{{ID: "d-high", BidFloor: 5}, {ID: "d-low", BidFloor: 3}}
	}, nil, want{camps: []string{"mortgage"}, deal: "d-low"})
	f("private auction without a deal met → 503", nil, func(r *openrtb.Request) {
		r.Imps[0].PrivateAuction = true
		r.Imps[0].Deals = []openrtb.Deal{{ID: "d-high", BidFloor: 5}}
	}, nil, want{cause: CauseBelowFloor})
	f("open auction when no deal met", nil, func(r *openrtb.Request) {
		r.Imps[0].Deals = []openrtb.Deal{{ID: "d-high", BidFloor: 5}}
	}, nil, want{camps: []string{"mortgage"}, deal: ""})
	f("deal for another seat is skipped", nil, func(r *openrtb.Request) {
		r.Imps[0].PrivateAuction = true
		r.Imps[0].Deals = []openrtb.Deal{{ID: "d-other", BidFloor: 1, WSeat: []string{"Agency1"}}, {ID: "d-ours", BidFloor: 1, WSeat: []string{"callbid"}}}
	}, nil, want{camps: []string{"mortgage"}, deal: "d-ours"})
	f("private auction with no deal for our seat", nil, func(r *openrtb.Request) {
		r.Imps[0].PrivateAuction = true
		r.Imps[0].Deals = []openrtb.Deal{{ID: "d-other", BidFloor: 0.01, WSeat: []string{"Agency1"}}}
	}, nil, want{cause: CauseNoDeal})
	f("deal for other advertisers is skipped", nil, func(r *openrtb.Request) {
		r.Imps[0].PrivateAuction = true
		r.Imps[0].Deals = []openrtb.Deal{{ID: "d-auto", BidFloor: 1, WADomain: []string{"auto-insure.com"}}}
	}, nil, want{camps: []string{"auto"}, deal: "d-auto"})
	f("deal floor in EUR", nil, func(r *openrtb.Request) {
		r.Imps[0].PrivateAuction = true
		r.Imps[0].Deals = []openrtb.Deal{{ID: "d-eur", BidFloor: 3, BidFloorCur: "EUR"}} // 3.75 USD
	}, nil, want{camps: []string{"mortgage"}, deal: "d-eur"})

	// Currency.
	f("bid in EUR", nil, func(r *openrtb.Request) { r.Cur = []string{"EUR"} }, nil,
		want{camps: []string{"mortgage"}, prices: []float64{3.2}, cur: "EUR"})
	f("first usable currency", nil, func(r *openrtb.Request) { r.Cur = []string{"JPY", "EUR", "USD"} }, nil,
		want{camps: []string{"mortgage"}, cur: "EUR"})
	f("no usable currency", nil, func(r *openrtb.Request) { r.Cur = []string{"JPY", "GBP"} }, nil, want{cause: CauseCurrency})
	f("campaign in EUR", camp(2, func(c *CampaignConfig) { c.Currency = "EUR"; c.BaseCPM = 4_000_000 }), nil, nil,
		want{camps: []string{"legal"}, prices: []float64{5}})

	// Multipliers and the cap.
	f("publisher multiplier", camp(0, func(c *CampaignConfig) { c.Multipliers.Publisher = map[string]float64{"PUB-1": 0.5} }), nil, nil,
		want{camps: []string{"auto"}, prices: []float64{3}})
	f("hour multiplier", camp(0, func(c *CampaignConfig) { c.Multipliers.Hour = map[int]float64{14: 2, 15: 9} }), nil, nil,
		want{camps: []string{"mortgage"}, prices: []float64{8}})
	f("hour in time zone", func(c *Config) {
		c.Server.TimeZone = "America/New_York" // 14:30 UTC is 09:30 there
		c.Campaigns[0].Multipliers.Hour = map[int]float64{9: 1.5, 14: 9}
	}, nil, nil, want{camps: []string{"mortgage"}, prices: []float64{6}})
	f("day multiplier", camp(0, func(c *CampaignConfig) { c.Multipliers.DayOfWeek = map[string]float64{"wed": 1.5, "thu": 9} }), nil, nil,
		want{camps: []string{"mortgage"}, prices: []float64{6}})
	f("device multiplier", camp(0, func(c *CampaignConfig) { c.Multipliers.DeviceType = map[string]float64{"pc": 0.5} }), nil, nil,
		want{camps: []string{"auto"}, prices: []float64{3}})
	f("country and region multipliers", camp(0, func(c *CampaignConfig) {
		c.Multipliers.Country = map[string]float64{"usa": 1.25}
		c.Multipliers.Region = map[string]float64{"CA": 1.2}
	}), nil, nil, want{camps: []string{"mortgage"}, prices: []float64{6}})
	f("zero multiplier means not here", camp(0, func(c *CampaignConfig) { c.Multipliers.Publisher = map[string]float64{"pub-1": 0} }),
		nil, nil, want{camps: []string{"auto"}})
	f("max_cpm caps", camp(0, func(c *CampaignConfig) { c.Multipliers.Hour = map[int]float64{14: 5} }), nil, nil,
		want{camps: []string{"mortgage"}, prices: []float64{10}})

	// Capacity, hit rate, pacing.
	noHead := capacity.View{State: capacity.NoHeadroom}
	stale := capacity.View{State: capacity.Stale}
	f("no headroom for all → 500", nil, nil, func(e *testEnv) {
		e.cap.views = map[string]capacity.View{"mortgage": noHead, "auto": noHead, "legal": noHead}
	}, want{cause: CauseNoHeadroom})
	f("stale for all → 501", nil, nil, func(e *testEnv) {
		e.cap.views = map[string]capacity.View{"mortgage": stale, "auto": stale, "legal": stale}
	}, want{cause: CauseCapacityStale})
	f("no headroom on one skill", nil, nil, func(e *testEnv) {
		e.cap.views = map[string]capacity.View{"mortgage": noHead}
	}, want{camps: []string{"auto"}})
	f("capacity factor scales", nil, nil, func(e *testEnv) {
		e.cap.views = map[string]capacity.View{"mortgage": {Factor: 0.5}}
	}, want{camps: []string{"auto"}, prices: []float64{3}})
	f("premium agent multiplier", nil, nil, func(e *testEnv) {
		e.cap.views = map[string]capacity.View{"mortgage": {Factor: 1, PremiumFree: true}}
	}, want{camps: []string{"mortgage"}, prices: []float64{4.8}})
	f("needs_capacity false ignores capacity", camp(0, func(c *CampaignConfig) { f := false; c.NeedsCapacity = &f }), nil,
		func(e *testEnv) { e.cap.views = map[string]capacity.View{"mortgage": noHead} }, want{camps: []string{"mortgage"}, prices: []float64{4}})
	f("hit rate scales", nil, nil, func(e *testEnv) { e.fb.hit = map[string]float64{"mortgage/pub-1": 0.5} },
		want{camps: []string{"auto"}})
	f("pacing multiplier", nil, nil, func(e *testEnv) { e.fb.pace = 0.5 }, want{camps: []string{"mortgage"}, prices: []float64{2}})
	f("pacing stop → 500", nil, nil, func(e *testEnv) { e.fb.stop = true }, want{cause: CauseNoHeadroom})
	f("needs_capacity false ignores the pacing stop", camp(0, func(c *CampaignConfig) { f := false; c.NeedsCapacity = &f }), nil,
		func(e *testEnv) { e.fb.stop = true }, want{camps: []string{"mortgage"}, prices: []float64{4}})

	// Traffic quality and time.
	f("invalid traffic → 504", nil, nil, func(e *testEnv) { e.fb.blocked = map[uint64]bool{hashString("203.0.113.9"): true} },
		want{cause: CauseInvalidTraffic})
	f("device ip in a blocked range → 504", nil, nil, func(e *testEnv) { e.fb.ranges = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")} },
		want{cause: CauseInvalidTraffic})
	f("tmax under network allowance → 15", nil, func(r *openrtb.Request) { r.TMax = 15 }, nil, want{cause: CauseInsufficientTime})
	f("tmax with room", nil, func(r *openrtb.Request) { r.TMax = 120 }, nil, want{camps: []string{"mortgage"}})
	f("wseat without our seat", nil, func(r *openrtb.Request) { r.WSeat = []string{"other"} }, nil, want{cause: CauseSeat})
	f("bseat with our seat", nil, func(r *openrtb.Request) { r.BSeat = []string{"callbid"} }, nil, want{cause: CauseSeat})

	// Budget.
	f("budget spent skips campaign", camp(0, func(c *CampaignConfig) { c.DailyBudget = 1_000_000 }), nil, func(e *testEnv) {
		e.b.budgets.get("mortgage").add(dayIndex(e.now), 1_000_000*1000)
	}, want{camps: []string{"auto"}})
	f("budget of yesterday does not count", camp(0, func(c *CampaignConfig) { c.DailyBudget = 1_000_000 }), nil, func(e *testEnv) {
		e.b.budgets.get("mortgage").add(dayIndex(e.now)-1, 1_000_000*1000)
	}, want{camps: []string{"mortgage"}})
	f("all budgets spent", all(func(c *CampaignConfig) { c.DailyBudget = 1 }), nil, func(e *testEnv) {
		for _, id := range []string{"mortgage", "auto", "legal"} {
			e.b.budgets.get(id).add(dayIndex(e.now), 1000)
		}
	}, want{cause: CauseBudget})

	// Formats.
	f("one bid per imp, best per imp", nil, func(r *openrtb.Request) {
		r.Imps = append(r.Imps, openrtb.Imp{ID: "2", Banner: true, Formats: []openrtb.Format{{W: 320, H: 50}}},
			openrtb.Imp{ID: "3", Banner: true, Formats: []openrtb.Format{{W: 160, H: 600}, {W: 728, H: 90}}})
	}, nil, want{camps: []string{"mortgage", "auto", "mortgage"}, prices: []float64{4, 3, 4}})
	f("no creative of the size", nil, func(r *openrtb.Request) { r.Imps[0].Formats = []openrtb.Format{{W: 160, H: 600}} }, nil,
		want{cause: CauseNoCreative})
	f("video only → unsupported", nil, func(r *openrtb.Request) { r.Imps[0] = openrtb.Imp{ID: "1", Video: true} }, nil,
		want{cause: CauseUnsupported})
	f("native without phone asset → unsupported", nil, func(r *openrtb.Request) {
		r.Imps[0] = openrtb.Imp{ID: "1", Native: true, NativeTitleAssetID: 1}
	}, nil, want{cause: CauseUnsupported})
	f("native with phone asset", nil, func(r *openrtb.Request) {
		r.Imps[0] = openrtb.Imp{ID: "1", Native: true, NativeHasPhone: true, NativePhoneAssetID: 3, NativeHasTitle: true, NativeTitleAssetID: 1, NativeVer: "1.2"}
	}, nil, want{camps: []string{"mortgage"}})
	f("secure imp with http notices", func(c *Config) { c.Server.NoticeBaseURL = "http://bid.example.com" },
		func(r *openrtb.Request) { r.Imps[0].Secure = true }, nil, want{cause: CauseInsecure})
	f("secure imp with https notices", nil, func(r *openrtb.Request) { r.Imps[0].Secure = true }, nil,
		want{camps: []string{"mortgage"}})
	f("no campaigns", func(c *Config) { c.Campaigns = nil }, nil, nil, want{cause: CauseNoMatch})

	// Precedence: the furthest stage wins.
	f("floor beats targeting", camp(1, func(c *CampaignConfig) { c.Targeting.Countries = []string{"CAN"} }),
		func(r *openrtb.Request) { r.Imps[0].BidFloor = 9 }, nil, want{cause: CauseBelowFloor})
	f("blocked beats no match", camp(0, func(c *CampaignConfig) { c.Targeting.Countries = []string{"CAN"} }),
		func(r *openrtb.Request) { r.BCat = []string{"IAB13", "IAB11"} }, nil, want{cause: CauseBlocked})
}

func checkResult(t *testing.T, r *Result, w want) {
	t.Helper()
	if w.cause != CauseNone {
		if len(r.Bids) != 0 || r.Cause != w.cause {
			t.Fatalf("got %d bids, cause %v; want no bid, cause %v", len(r.Bids), r.Cause, w.cause)
		}
		return
	}
	if len(r.Bids) != len(w.camps) {
		t.Fatalf("got %d bids (cause %v), want %d", len(r.Bids), r.Cause, len(w.camps))
	}
	impSeen := map[string]bool{}
	for i, b := range r.Bids {
		if b.CID != w.camps[i] {
			t.Errorf("bid %d: campaign %q, want %q", i, b.CID, w.camps[i])
		}
		if impSeen[b.ImpID] {
			t.Errorf("bid %d: second bid for imp %q", i, b.ImpID)
		}
		impSeen[b.ImpID] = true
		if w.prices != nil && math.Abs(b.Price-w.prices[i]) > 1e-6 {
			t.Errorf("bid %d: price %v, want %v", i, b.Price, w.prices[i])
		}
		if b.DealID != w.deal {
			t.Errorf("bid %d: deal %q, want %q", i, b.DealID, w.deal)
		}
		if b.ID == "" || b.CrID == "" || b.ADomain == "" || b.Exp <= 0 || len(b.AdM) == 0 {
			t.Errorf("bid %d: missing a required field: %+v", i, b)
		}
		if !strings.Contains(string(b.AdM), "tel:+1800555") {
			t.Errorf("bid %d: markup lacks the reserved number's tel: link: %s", i, b.AdM)
		}
		if b.MType == 1 && (b.W == 0 || b.H == 0) {
			t.Errorf("bid %d: banner without w/h", i)
		}
		for _, u := range []string{b.NURL, b.BURL, b.LURL} {
			if !strings.Contains(u, "?t=") || !strings.Contains(u, "&p=${AUCTION_PRICE}") {
				t.Errorf("bid %d: notice url %q lacks token or price macro", i, u)
			}
		}
		if !strings.Contains(b.LURL, "&l=${AUCTION_LOSS}") {
			t.Errorf("bid %d: lurl %q lacks the loss macro", i, b.LURL)
		}
	}
	if w.cur != "" && r.Cur != w.cur {
		t.Errorf("currency %q, want %q", r.Cur, w.cur)
	}
}

func TestCauseTables(t *testing.T) {
	seen := map[string]bool{}
	for c := Cause(0); c < numCauses; c++ {
		if n := c.String(); n == "" || seen[n] {
			t.Errorf("cause %d has an empty or repeated name %q", c, n)
		}
		seen[c.String()] = true
	}
	for c, want := range map[Cause]openrtb.NoBidReason{CauseInsufficientTime: 15, CauseInvalidTraffic: 504,
		CauseBlocked: 504, CausePublisherBlocked: 7, CauseNoHeadroom: 500, CauseCapacityStale: 501,
		CausePoolExhausted: 502, CauseBelowFloor: 503, CauseNoMatch: 0, CauseLate: 15} {
		if c.NBR() != want {
			t.Errorf("%v: nbr %d, want %d", c, c.NBR(), want)
		}
	}
}

func TestDecideLateFreesNumbers(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	req := banner300()
	req.Imps = append(req.Imps, openrtb.Imp{ID: "2", Banner: true, Formats: []openrtb.Format{{W: 320, H: 50}}})
	// The decision started a second before the clock now reads: past any deadline.
	r := e.b.Decide(req, "", e.now.Add(-time.Second))
	if len(r.Bids) != 0 || r.Cause != CauseLate || r.NBR() != openrtb3.NoBidInsufficientTime {
		t.Fatalf("got %d bids, cause %v", len(r.Bids), r.Cause)
	}
	if len(e.res.losses) != 2 {
		t.Fatalf("reserved numbers not freed: losses %v", e.res.losses)
	}
}

func TestDecideRecordsFeedback(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	req := banner300()
	req.Imps = append(req.Imps, openrtb.Imp{ID: "2", Banner: true, Formats: []openrtb.Format{{W: 320, H: 50}}})
	if r := e.b.Decide(req, "", e.now); len(r.Bids) != 2 {
		t.Fatalf("bids %d", len(r.Bids))
	}
	if e.fb.seen.Load() != 3 || e.fb.bids.Load() != 2 {
		t.Fatalf("RecordSeen %d (want one per matching skill: 3), RecordBid %d (want 2)", e.fb.seen.Load(), e.fb.bids.Load())
	}
}
