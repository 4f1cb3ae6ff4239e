package bidder

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/openrtb"
	"gopkg.in/yaml.v3"
)

// managerYAML is a campaign as a manager writes it: one campaign in New
// York time with a flight, a total budget, a day × hour grid and the
// exchange, domain, bundle and size multipliers.
const managerYAML = `
server: { notice_base_url: "https://bid.example.com", notice_secret: "0123456789abcdef0123456789abcdef" }
campaigns:
  - id: mortgage
    advertiser_domain: acme-mortgage.com
    ad_categories: [IAB13-7]
    skill: { name: mortgage }
    base_cpm: 4.00
    max_cpm: 20.00
    status: active
    time_zone: America/New_York
    start: "2026-11-01"
    end: "2026-12-01 00:00"
    total_budget: 0.02
    budget_reserve_window: -1s   # this test counts bills only; TestBudgetReservesBidsInFlight covers it
    multipliers:
      schedule: { "mon-fri 8-11": 1.5, "sat,sun": 0.5, "wed 12-13": 0 }
      exchange: { ExA: 2 }
      domain: { news.example: 1.25 }
      app_bundle: { com.example.app: 0.5 }
      size: { 728x90: 0.5 }
    creatives:
      - { id: m-300x250, type: banner, w: 300, h: 250, template: '<a href="{{tel_uri}}">Call {{number}}</a>' }
      - { id: m-728x90, type: banner, w: 728, h: 90, template: '<a href="{{tel_uri}}">Call {{number}}</a>' }
    number_pool: pool-mortgage
`

func parseYAMLConfig(t testing.TB, s string) Config {
	t.Helper()
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(s))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func priceOf(t *testing.T, r Result) float64 {
	t.Helper()
	if len(r.Bids) != 1 {
		t.Fatalf("want one bid, got %d (cause %s)", len(r.Bids), r.Cause)
	}
	return r.Bids[0].Price
}

func TestCampaignControlsAsAManagerUsesThem(t *testing.T) {
	cfg := parseYAMLConfig(t, managerYAML)
	e := newEnv(t, cfg, 0)
	// testNow is Wednesday 14:30 UTC = 09:30 in New York: "mon-fri 8-11" applies.
	req := banner300()
	if p := priceOf(t, e.b.Decide(req, "default", e.now)); math.Abs(p-4*1.5*1.25) > 1e-9 {
		t.Fatalf("weekday morning on news.example: price %g, want 7.5 (4 × 1.5 schedule × 1.25 domain)", p)
	}
	if p := priceOf(t, e.b.Decide(req, "exa", e.now)); math.Abs(p-15) > 1e-9 {
		t.Fatalf("exchange multiplier (case-insensitive name): price %g, want 15", p)
	}
	app := banner300()
	app.Inventory, app.Domain, app.Bundle = openrtb.InventoryApp, "", "com.example.APP"
	if p := priceOf(t, e.b.Decide(app, "default", e.now)); math.Abs(p-3) > 1e-9 {
		t.Fatalf("app bundle multiplier: price %g, want 3 (4 × 1.5 × 0.5)", p)
	}
	leader := banner300()
	leader.Imps[0].Formats = []openrtb.Format{{W: 728, H: 90}}
	if p := priceOf(t, e.b.Decide(leader, "default", e.now)); math.Abs(p-3.75) > 1e-9 {
		t.Fatalf("size multiplier: price %g, want 3.75 (7.5 × 0.5)", p)
	}
	// Saturday 15:00 New York: "sat,sun" 0.5.
	e.now = time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	if p := priceOf(t, e.b.Decide(req, "default", e.now)); math.Abs(p-2.5) > 1e-9 {
		t.Fatalf("weekend: price %g, want 2.5", p)
	}
	// Wednesday 12:30 New York: the 0 cell means "not now".
	e.now = time.Date(2026, 11, 18, 17, 30, 0, 0, time.UTC)
	if r := e.b.Decide(req, "default", e.now); r.Cause != CauseNoMatch {
		t.Fatalf("zero schedule cell: cause %s, want no_match", r.Cause)
	}
	// Flight: before the start (Oct 31, 23:00 New York) and at the end (Dec 1 00:00 New York).
	for _, at := range []time.Time{time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)} {
		e.now = at
		if r := e.b.Decide(req, "default", at); r.Cause != CauseInactive {
			t.Fatalf("outside the flight at %s: cause %s, want inactive", at, r.Cause)
		}
	}
	e.now = time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC)
	if r := e.b.Decide(req, "default", e.now); len(r.Bids) != 1 {
		t.Fatalf("at the start (midnight New York): cause %s, want a bid", r.Cause)
	}
	e.now = testNow

	// Total budget 0.02 = 20 impressions billed at 1.00 CPM … spread over
	// two New York days, so the daily counter alone would not stop it.
	r := e.b.Decide(req, "default", e.now)
	tok := tokenOf(t, r.Bids[0].BURL)
	if o, _ := e.b.applyNotice(noticeBill, []byte(tok), []byte("1"), e.now); o != noticeApplied {
		t.Fatalf("bill: %s", noticeOutcomeNames[o])
	}
	e.b.budgets.get("mortgage").total.Add(19_000_000) // 19 more billed impressions on an earlier day
	if r := e.b.Decide(req, "default", e.now); r.Cause != CauseBudget {
		t.Fatalf("total budget spent: cause %s, want budget", r.Cause)
	}

	// Pause by reload: no bid; the spend survives the reload.
	cfg.Campaigns[0].Status = "paused"
	cfg.Campaigns[0].TotalBudget = 0
	if err := e.b.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if r := e.b.Decide(req, "default", e.now); r.Cause != CauseInactive {
		t.Fatalf("paused: cause %s, want inactive", r.Cause)
	}
	cfg.Campaigns[0].Status = "active"
	if err := e.b.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if r := e.b.Decide(req, "default", e.now); len(r.Bids) != 1 {
		t.Fatalf("resumed: cause %s, want a bid", r.Cause)
	}
	if got := e.b.budgets.get("mortgage").total.Load(); got != 20_000_000 {
		t.Fatalf("total spend after reloads %d, want 20000000", got)
	}
}

// TestCampaignBudgetDayFollowsItsTimeZone: a bill at 03:00 UTC is the
// previous day in New York; the campaign's daily budget counts it there.
func TestCampaignBudgetDayFollowsItsTimeZone(t *testing.T) {
	cfg := parseYAMLConfig(t, managerYAML)
	cfg.Campaigns[0].Start, cfg.Campaigns[0].End = "", ""
	e := newEnv(t, cfg, 0)
	at := time.Date(2026, 11, 18, 3, 0, 0, 0, time.UTC)
	e.now = at
	r := e.b.Decide(banner300(), "default", at)
	if len(r.Bids) != 1 {
		t.Fatalf("no bid: %s", r.Cause)
	}
	e.b.applyNotice(noticeBill, []byte(tokenOf(t, r.Bids[0].BURL)), []byte("2"), at)
	ny, _ := time.LoadLocation("America/New_York")
	if got := e.b.budgets.get("mortgage").spentOn(dayIndex(at.In(ny))); got != 2_000_000 {
		t.Fatalf("spend on the New York day %d, want 2000000", got)
	}
}

func TestCampaignControlsValidate(t *testing.T) {
	cfg := parseYAMLConfig(t, managerYAML)
	c := &cfg.Campaigns[0]
	c.Status = "sleeping"
	c.TimeZone = "Mars/Olympus"
	c.Start, c.End = "2026-12-02", "yesterday"
	c.TotalBudget = -1
	c.Multipliers.Schedule = map[string]float64{"mon-fri 8-11": 1, "wed 10": 2, "funday": 1, "mon 25": 1}
	c.Multipliers.Size = map[string]float64{"big": 1, "300x250": 101}
	c.Multipliers.Exchange = map[string]float64{"exA": -1}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		`campaigns[0].status: "sleeping" must be active or paused`,
		`campaigns[0].time_zone: "Mars/Olympus" is not a known time zone`,
		`campaigns[0].end: "yesterday" is not a time`,
		`campaigns[0].total_budget: must not be negative`,
		`campaigns[0].multipliers.schedule: "funday": days`,
		`campaigns[0].multipliers.size.big: size must be WxH like 300x250`,
		`campaigns[0].multipliers.size.300x250: multiplier must be in [0, 100]`,
		`campaigns[0].multipliers.exchange.exA: multiplier must be in [0, 100]`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	g, err := compileSchedule(map[string]float64{"mon-fri 8-11": 1, "wed 10": 2})
	if g != nil || err == nil || !strings.Contains(err.Error(), `"mon-fri 8-11" and "wed 10" both set Wed 10:00`) {
		t.Fatalf("overlap: %v", err)
	}
	c2 := parseYAMLConfig(t, managerYAML).Campaigns[0]
	c2.Start, c2.End = "2026-12-02", "2026-12-01"
	cfg2 := parseYAMLConfig(t, managerYAML)
	cfg2.Campaigns[0] = c2
	if err := cfg2.Validate(); err == nil || !strings.Contains(err.Error(), "campaigns[0].end: must be after start") {
		t.Fatalf("end before start: %v", err)
	}
	// Wrapping ranges: "fri-mon 22-2" covers Fri, Sat, Sun, Mon at 22, 23, 0, 1, 2.
	g, err = compileSchedule(map[string]float64{"fri-mon 22-2": 3})
	if err != nil {
		t.Fatal(err)
	}
	if g[time.Sunday][1] != 3 || g[time.Monday][22] != 3 || g[time.Tuesday][23] != 1 || g[time.Friday][3] != 1 {
		t.Fatalf("wrapping grid wrong: %v", g)
	}
}

// TestBudgetReservesBidsInFlight: with a daily budget of 0.01 (ten
// impressions at 1.00 CPM, 2.5 at the 4.00 bid), bids stop once billed
// spend plus the expected spend of bids still in flight reaches it, not
// only once bills arrive; reservations lapse after the window, and bills
// take their place.
func TestBudgetReservesBidsInFlight(t *testing.T) {
	cfg := baseConfig()
	cfg.Campaigns = cfg.Campaigns[:1] // mortgage, 4.00 CPM
	cfg.Campaigns[0].DailyBudget = 10_000
	cfg.Campaigns[0].BudgetReserveWindow = 10 * time.Second
	e := newEnv(t, cfg, 0)
	var burls []string
	for i := 0; i < 3; i++ {
		r := e.b.Decide(banner300(), "default", e.now)
		if len(r.Bids) != 1 {
			t.Fatalf("bid %d: %s", i, r.Cause)
		}
		burls = append(burls, r.Bids[0].BURL)
	}
	// 3 × 4.00 CPM = 12,000,000 CPM micros reserved ≥ 10,000,000: stop.
	if r := e.b.Decide(banner300(), "default", e.now); r.Cause != CauseBudget {
		t.Fatalf("bids in flight cover the budget: cause %s, want budget", r.Cause)
	}
	// The exchange bills one at 4.00; the rest lapse after the window.
	if o, _ := e.b.applyNotice(noticeBill, []byte(tokenOf(t, burls[0])), []byte("4"), e.now); o != noticeApplied {
		t.Fatal(noticeOutcomeNames[o])
	}
	e.now = e.now.Add(11 * time.Second)
	if r := e.b.Decide(banner300(), "default", e.now); len(r.Bids) != 1 {
		t.Fatalf("after the window: %s", r.Cause)
	}
	// 4,000,000 billed + 4,000,000 in flight: one more fits, then stop.
	if r := e.b.Decide(banner300(), "default", e.now); len(r.Bids) != 1 {
		t.Fatalf("second after the window: %s", r.Cause)
	}
	if r := e.b.Decide(banner300(), "default", e.now); r.Cause != CauseBudget {
		t.Fatalf("billed + in flight: cause %s, want budget", r.Cause)
	}
	// Without the reservation (window negative) only bills count.
	cfg.Campaigns[0].BudgetReserveWindow = -1
	if err := e.b.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if r := e.b.Decide(banner300(), "default", e.now); len(r.Bids) != 1 {
		t.Fatalf("reservation off: %s", r.Cause)
	}
	cfg.Campaigns[0].BudgetReserveWindow = 2 * time.Minute
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "campaigns[0].budget_reserve_window: must be at most 1m") {
		t.Fatalf("window bound: %v", err)
	}
}
