package bidder

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"gopkg.in/yaml.v3"
)

func TestParseMoney(t *testing.T) {
	f := func(in string, want Money, ok bool) {
		t.Helper()
		got, err := ParseMoney(in)
		if (err == nil) != ok || (ok && got != want) {
			t.Errorf("ParseMoney(%q) = %d, %v; want %d ok=%v", in, got, err, want, ok)
		}
	}
	f("12.50", 12_500_000, true)
	f("12.5", 12_500_000, true)
	f("0.000001", 1, true)
	f("40", 40_000_000, true)
	f(".5", 500_000, true)
	f("-1.25", -1_250_000, true)
	f("1.0000001", 0, false)
	f("1,5", 0, false)
	f("", 0, false)
	f("abc", 0, false)
	f("99999999999999999", 0, false)

	var c struct {
		A Money `yaml:"a"`
		B Money `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("a: 12.5\nb: \"0.75\"\n"), &c); err != nil || c.A != 12_500_000 || c.B != 750_000 {
		t.Fatalf("yaml money: %+v %v", c, err)
	}
	if c.A.String() != "12.5" {
		t.Fatalf("String %q", c.A.String())
	}
}

func TestValidatePaths(t *testing.T) {
	cfg := baseConfig()
	cfg.Server.NoticeBaseURL = "ftp://x/"
	cfg.Server.NoticeSecret = "short"
	cfg.Server.TimeZone = "Mars/Olympus"
	cfg.Server.MaxBidsPerRequest = -1
	cfg.Server.HoldBudget = HoldBudgetConfig{ClientShare: 1.5, ExchangeShare: -0.1}
	cfg.Currency.Bid = []string{"USD", "JPY", "eur"}
	cfg.Currency.Rates["GBP"] = -1
	c := &cfg.Campaigns[0]
	c.Multipliers.Hour = map[int]float64{25: 2, 3: -1}
	c.Multipliers.DayOfWeek = map[string]float64{"funday": 1}
	c.Multipliers.DeviceType = map[string]float64{"toaster": 1}
	c.Multipliers.Country = map[string]float64{"US": 1}
	c.Targeting.Countries = []string{"U5A"}
	c.Targeting.SiteCategories = []string{"finance"}
	c.Targeting.DeviceTypes = []string{"9"}
	c.Targeting.Inventory = []string{"tv"}
	c.BaseCPM = 1_000_000 // with value_per_call too
	c.Skill.MinProficiency = 7
	c.Creatives = append(c.Creatives, CreativeConfig{ID: "m-300x250", Type: "video"},
		CreativeConfig{ID: "bad-tmpl", Type: "banner", W: 1, H: 1, Template: "{{nope}}"},
		CreativeConfig{ID: "insecure", Type: "banner", W: 1, H: 1, Template: `<img src="http://x/a.png">{{number}}`})
	cfg.Campaigns[1].ID = "mortgage"
	cfg.Campaigns[2].MaxCPM = 0
	cfg.Campaigns[2].NumberPool = ""
	cfg.Campaigns[2].Currency = "XYZ"
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"server.notice_base_url: ",
		"server.notice_secret: must be at least 16 bytes",
		"server.time_zone: ",
		"server.max_bids_per_request: must be positive",
		"server.hold_budget.client_share: must be in (0, 1], not 1.5",
		"server.hold_budget.exchange_share: must be in (0, 1], not -0.1",
		"currency.bid[1]: JPY has no rate in currency.rates",
		"currency.bid[2]: \"eur\" is not an ISO-4217 code",
		"currency.rates.GBP: must be a positive number",
		"campaigns[0].multipliers.hour[25]: hour must be 0-23",
		"campaigns[0].multipliers.hour[3]: multiplier must be in [0, 100]",
		"campaigns[0].multipliers.day_of_week.funday: day must be one of",
		"campaigns[0].multipliers.device_type.toaster: unknown device type",
		"campaigns[0].multipliers.country.US: country must be ISO-3166-1 alpha-3",
		"campaigns[0].targeting.countries[0]: ",
		"campaigns[0].targeting.site_categories[0]: \"finance\" is not an IAB category",
		"campaigns[0].targeting.device_types[0]: ",
		"campaigns[0].targeting.inventory[0]: \"tv\" must be site, app or dooh",
		"campaigns[0].base_cpm: give either value_per_call",
		"campaigns[0].skill.min_proficiency: must be 0-5",
		"campaigns[0].creatives[3].id: \"m-300x250\" repeats",
		"campaigns[0].creatives[3].type: \"video\" must be banner or native",
		"campaigns[0].creatives[4].template: template: unknown placeholder {{nope}}",
		"campaigns[0].creatives[5].template: uses http://",
		"campaigns[1].id: \"mortgage\" repeats campaigns[0].id",
		"campaigns[2].max_cpm: is required",
		"campaigns[2].number_pool: is required",
		"campaigns[2].currency: XYZ has no rate",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q", want)
		}
	}
	for _, line := range strings.Split(msg, "\n") {
		if !strings.HasPrefix(line, "server.") && !strings.HasPrefix(line, "currency.") && !strings.HasPrefix(line, "campaigns[") {
			t.Errorf("error without a field path: %q", line)
		}
	}
	if good := baseConfig(); good.Validate() != nil {
		t.Fatalf("base config: %v", good.Validate())
	}
}

func TestNewRejectsUnknownPool(t *testing.T) {
	cfg := baseConfig()
	cfg.Campaigns[1].NumberPool = "pool-nope"
	_, err := New(cfg, Deps{Reserver: newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal")}, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), `campaigns[1].number_pool: no number pool "pool-nope"`) {
		t.Fatalf("err = %v", err)
	}
	e := newEnv(t, baseConfig(), 0)
	if err := e.b.Apply(cfg); err == nil || !strings.Contains(err.Error(), "keeping the running config") {
		t.Fatalf("Apply err = %v", err)
	}
	if r := e.b.Decide(banner300(), "", e.now); len(r.Bids) != 1 {
		t.Fatalf("running config lost after a bad reload: %v", r.Cause)
	}
}

func TestBudgetSurvivesReload(t *testing.T) {
	cfg := baseConfig()
	cfg.Campaigns[0].DailyBudget = 1_000_000
	e := newEnv(t, cfg, 0)
	e.b.budgets.get("mortgage").add(dayIndex(e.now), 1_000_000*1000)
	if err := e.b.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if r := e.b.Decide(banner300(), "", e.now); len(r.Bids) != 1 || r.Bids[0].CID != "auto" {
		t.Fatalf("budget forgotten on reload: %+v", r)
	}
	// The next budget day starts from zero.
	if r := e.b.Decide(banner300(), "", e.now.Add(24*time.Hour)); len(r.Bids) != 1 || r.Bids[0].CID != "mortgage" {
		t.Fatalf("budget did not roll over: %+v", r)
	}
}

// TestHoldConfigYAML: the new server fields read from YAML with their
// defaults, and a misspelt key is an error.
func TestHoldConfigYAML(t *testing.T) {
	var c Config
	if err := yaml.Unmarshal([]byte("server:\n  max_bids_per_request: 2\n  hold_budget: {client_share: 0.25}\n"), &c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if c.Server.MaxBidsPerRequest != 2 || c.Server.HoldBudget.ClientShare != 0.25 || c.Server.HoldBudget.ExchangeShare != defaultExchangeShare {
		t.Fatalf("%+v", c.Server)
	}
	dec := yaml.NewDecoder(strings.NewReader("server:\n  hold_budget: {client_shares: 0.25}\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err == nil || !strings.Contains(err.Error(), "client_shares") {
		t.Fatalf("misspelt key: %v", err)
	}
}
