package bidder

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/callbid/callbid/openrtb"
	"github.com/prebid/openrtb/v20/adcom1"
	"gopkg.in/yaml.v3"
)

// Config is the bidder's part of the config file. It sits inline at the YAML
// root, so its field paths are "server.listen", "campaigns[2].max_cpm", ….
type Config struct {
	Server    ServerConfig              `yaml:"server"`
	Currency  CurrencyConfig            `yaml:"currency"`
	Exchanges map[string]ExchangeConfig `yaml:"exchanges"`
	Campaigns []CampaignConfig          `yaml:"campaigns"`
	// Privacy and TestRequests are exchange-facing policies (policy.go).
	Privacy      PrivacyConfig      `yaml:"privacy"`
	TestRequests TestRequestsConfig `yaml:"test_requests"`
	// Shading is first-price bid shading (shading.go).
	Shading ShadingConfig `yaml:"shading"`
}

// ServerConfig is the HTTP and bid-path section.
type ServerConfig struct {
	Listen       string        `yaml:"listen"`       // public listener; default ":8080"
	AdminListen  string        `yaml:"admin_listen"` // admin listener; default "127.0.0.1:8081"
	ReadTimeout  time.Duration `yaml:"read_timeout"` // default 5s
	WriteTimeout time.Duration `yaml:"write_timeout"`
	IdleTimeout  time.Duration `yaml:"idle_timeout"` // default 120s: longer than exchanges' idle pools
	// MaxBodyBytes limits the body as received (compressed); default 64 KiB.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxDecompressedBytes limits a gzip body once inflated; default 256 KiB.
	MaxDecompressedBytes int `yaml:"max_decompressed_bytes"`
	// NetworkAllowance is subtracted from tmax for the round trip; default 20ms.
	NetworkAllowance time.Duration `yaml:"network_allowance"`
	// DefaultTMax applies when a request has no tmax; default 100ms.
	DefaultTMax time.Duration `yaml:"default_tmax"`
	// MaxDeadline caps the time callbid allows itself whatever tmax says; default 50ms.
	MaxDeadline time.Duration `yaml:"max_deadline"`
	// NoticeBaseURL is where nurl/burl/lurl point, without a trailing slash,
	// e.g. "https://bid.example.com". https in production.
	NoticeBaseURL string `yaml:"notice_base_url"`
	// NoticeSecret signs notice tokens (CALLBID_NOTICE_SECRET overrides it at the root).
	NoticeSecret string `yaml:"notice_secret"`
	// NoticeTTL is how long a notice token stays valid; default 24h.
	NoticeTTL time.Duration `yaml:"notice_ttl"`
	// BidExp is bid.exp in seconds when the imp has no exp; default 300.
	BidExp int `yaml:"bid_exp"`
	// Seat is seatbid.seat and what wseat/bseat are checked against; default "callbid".
	Seat string `yaml:"seat"`
	// NBRExchanges answer a no-bid with 200 + {"id","nbr"} instead of 204.
	NBRExchanges []string `yaml:"nbr_exchanges"`
	// MaxBidsPerRequest caps the imps bid on, hence the numbers reserved, per
	// request; default 4.
	MaxBidsPerRequest int `yaml:"max_bids_per_request"`
	// HoldBudget bounds the share of a number pool one source may hold.
	HoldBudget HoldBudgetConfig `yaml:"hold_budget"`
	// TimeZone is the IANA zone of hour/day multipliers and budget days; default "UTC".
	TimeZone string `yaml:"time_zone"`

	// MaxConns caps the public listener's open connections; at the cap the
	// longest-idle keep-alive connection is closed for a new one. Default
	// 10000, lowered at start to fit the process's file limit.
	MaxConns int `yaml:"max_conns"`
	// MaxConnsPerIP caps one client address's connections the same way;
	// default 1000.
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
	// MaxInFlight bounds bid requests handled at once; the overflow gets a
	// no-bid at once. Default 64 (one core; scale with GOMAXPROCS).
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxQueueDelay: while the core is saturated (most requests of the last
	// 100ms waited longer than this at callbid, in the kernel socket and the
	// run queue, measured from the receive timestamp), a request that waited
	// longer is answered with a no-bid before decoding. Default 1ms;
	// negative turns it off. A request that waited its whole deadline is
	// always shed.
	MaxQueueDelay time.Duration `yaml:"max_queue_delay"`
	// AdminToken lets non-loopback clients use POST /admin/reload and
	// /debug/pprof/ with "Authorization: Bearer <token>" (≥ 16 bytes;
	// CALLBID_ADMIN_TOKEN overrides it at the root).
	AdminToken string `yaml:"admin_token"`
	// AdminAllowRemote opens reload and pprof to every client of the admin
	// listener without a token (a trusted network only).
	AdminAllowRemote bool `yaml:"admin_allow_remote"`
}

// HoldBudgetConfig is the per-source budget of held numbers: the most of a
// pool's entries one client address (IPv6: its /64), or one exchange, may
// hold at once, as a share of the pool's size. 1 turns a limit off.
type HoldBudgetConfig struct {
	ClientShare   float64 `yaml:"client_share"`   // default 0.5
	ExchangeShare float64 `yaml:"exchange_share"` // default 0.75
}

// Hold budget defaults. One exchange from one address can legitimately hold
// most of a pool's holds (holds are at most target_utilization of a sized
// pool); half a pool per address still leaves half to everyone else.
const (
	defaultMaxBidsPerRequest = 4
	defaultClientShare       = 0.5
	defaultExchangeShare     = 0.75
)

func (s *ServerConfig) setHoldDefaults() {
	if s.MaxBidsPerRequest == 0 {
		s.MaxBidsPerRequest = defaultMaxBidsPerRequest
	}
	if s.HoldBudget.ClientShare == 0 {
		s.HoldBudget.ClientShare = defaultClientShare
	}
	if s.HoldBudget.ExchangeShare == 0 {
		s.HoldBudget.ExchangeShare = defaultExchangeShare
	}
}

func (s *ServerConfig) validateHolds(add func(path, format string, args ...any)) {
	if s.MaxBidsPerRequest < 0 {
		add("server.max_bids_per_request", "must be positive")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"client_share", s.HoldBudget.ClientShare}, {"exchange_share", s.HoldBudget.ExchangeShare}} {
		if !(f.v > 0 && f.v <= 1) {
			add("server.hold_budget."+f.name, "must be in (0, 1], not %g", f.v)
		}
	}
}

// CurrencyConfig says which currencies callbid bids in and how to convert.
type CurrencyConfig struct {
	// Bid lists the currencies callbid may answer in; default [USD].
	Bid []string `yaml:"bid"`
	// Rates is the value of one unit of each currency in USD, e.g. EUR: 1.08.
	// USD is always 1.
	Rates map[string]float64 `yaml:"rates"`
}

// ExchangeConfig is optional per-exchange tuning (key: the ?exchange= name).
type ExchangeConfig struct {
	NBR              bool          `yaml:"nbr"`               // answer no-bids with an nbr body
	NetworkAllowance time.Duration `yaml:"network_allowance"` // overrides server.network_allowance
	DefaultTMax      time.Duration `yaml:"default_tmax"`      // overrides server.default_tmax
}

// CampaignConfig is one campaign.
type CampaignConfig struct {
	ID               string `yaml:"id"`
	AdvertiserDomain string `yaml:"advertiser_domain"`
	// AdCategories are the IAB categories of the ads (checked against bcat).
	AdCategories []string `yaml:"ad_categories"`
	// AppBundle is the advertised app, if any (checked against bapp).
	AppBundle string      `yaml:"app_bundle"`
	Skill     SkillConfig `yaml:"skill"`
	// ValuePerCall × ExpectedCallRate × 1000 is the base CPM; or BaseCPM.
	ValuePerCall     Money   `yaml:"value_per_call"`
	ExpectedCallRate float64 `yaml:"expected_call_rate"` // qualified calls per impression
	BaseCPM          Money   `yaml:"base_cpm"`
	MaxCPM           Money   `yaml:"max_cpm"`
	// Currency of the campaign's money fields; default USD.
	Currency    string            `yaml:"currency"`
	Multipliers MultipliersConfig `yaml:"multipliers"`
	Targeting   TargetingConfig   `yaml:"targeting"`
	DailyBudget Money             `yaml:"daily_budget"` // 0 = unlimited
	Creatives   []CreativeConfig  `yaml:"creatives"`
	NumberPool  string            `yaml:"number_pool"`
	// NeedsCapacity: bid only with skilled-agent headroom; default true.
	NeedsCapacity *bool `yaml:"needs_capacity"`

	// Status is "active" (default) or "paused": a paused campaign never bids.
	Status string `yaml:"status"`
	// Start and End bound the flight (RFC 3339, or a date meaning its
	// midnight in the campaign's time zone); zero means open.
	Start FlightTime `yaml:"start"`
	End   FlightTime `yaml:"end"`
	// TotalBudget caps the campaign's spend over its whole flight
	// (campaign currency); 0 = unlimited.
	TotalBudget Money `yaml:"total_budget"`
	// TimeZone is the IANA zone of this campaign's hour, day and schedule
	// multipliers, flight dates and budget day; default server.time_zone.
	TimeZone string `yaml:"time_zone"`
	// CallCaps stop bids at calls per hour, per day or in progress.
	CallCaps CallCapsConfig `yaml:"call_caps"`
	// BudgetReserveWindow: each bid's expected spend (price × P(win)) counts
	// against the daily and total budgets for this long after the bid, so
	// bids in flight cannot overspend; default 15s, at most 60s; negative
	// turns it off.
	BudgetReserveWindow time.Duration `yaml:"budget_reserve_window"`
	// ValueBidding prices impressions at their learned expected value
	// instead of value_per_call or base_cpm (value.go).
	ValueBidding ValueBiddingConfig `yaml:"value_bidding"`
}

// SkillConfig names the contact-center skill a campaign's calls need.
type SkillConfig struct {
	Name               string  `yaml:"name"`
	MinProficiency     float64 `yaml:"min_proficiency"`     // 0-5
	PremiumProficiency float64 `yaml:"premium_proficiency"` // 0-5; 0 = no premium
	PremiumMultiplier  float64 `yaml:"premium_multiplier"`  // default 1
}

// MultipliersConfig scales the base price. A missing key means 1.
type MultipliersConfig struct {
	Publisher  map[string]float64 `yaml:"publisher"`
	Hour       map[int]float64    `yaml:"hour"`        // 0-23 in server.time_zone
	DayOfWeek  map[string]float64 `yaml:"day_of_week"` // mon..sun
	DeviceType map[string]float64 `yaml:"device_type"` // names or AdCOM codes, see deviceTypes
	Country    map[string]float64 `yaml:"country"`     // ISO-3166-1 alpha-3
	Region     map[string]float64 `yaml:"region"`      // geo.region code, e.g. "CA"
	// Schedule is a day × hour grid: "mon-fri 8-11": 1.2 (hours inclusive,
	// in the campaign's time zone). Cells may not overlap; unlisted cells are 1.
	Schedule  map[string]float64 `yaml:"schedule"`
	Exchange  map[string]float64 `yaml:"exchange"`   // by ?exchange= name
	Domain    map[string]float64 `yaml:"domain"`     // by site.domain / app.domain (case-insensitive)
	AppBundle map[string]float64 `yaml:"app_bundle"` // by app.bundle (case-insensitive)
	Size      map[string]float64 `yaml:"size"`       // by creative size "300x250"
}

// TargetingConfig restricts where a campaign bids. Empty lists mean any.
type TargetingConfig struct {
	Countries       []string `yaml:"countries"`
	Regions         []string `yaml:"regions"`
	SiteCategories  []string `yaml:"site_categories"` // IAB; "IAB13" also matches "IAB13-7"
	AppCategories   []string `yaml:"app_categories"`
	Keywords        []string `yaml:"keywords"`
	DeviceTypes     []string `yaml:"device_types"`
	PublishersAllow []string `yaml:"publishers_allow"` // publisher id, site/app id or domain
	PublishersBlock []string `yaml:"publishers_block"`
	Inventory       []string `yaml:"inventory"` // site, app, dooh
	AllowCOPPA      bool     `yaml:"allow_coppa"`
}

// CreativeConfig is one creative: an HTML banner template or a native title.
type CreativeConfig struct {
	ID   string `yaml:"id"`
	Type string `yaml:"type"` // banner | native
	W    int    `yaml:"w"`
	H    int    `yaml:"h"`
	// Template is the banner HTML with {{number}}, {{number_e164}}, {{tel_uri}},
	// {{ext}}, {{campaign}}; empty means callbid's default call banner with Title.
	Template string `yaml:"template"`
	Title    string `yaml:"title"` // native title asset; headline of the default banner
}

// Money is an amount in integer micro-units (1.5 = 1_500_000). YAML accepts
// 12.5 or "12.50".
type Money int64

// UnmarshalYAML parses a decimal amount exactly.
func (m *Money) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseMoney(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*m = v
	return nil
}

// MarshalYAML writes the decimal form.
func (m Money) MarshalYAML() (any, error) { return m.String(), nil }

// String is the decimal form, e.g. "12.5".
func (m Money) String() string {
	return strconv.FormatFloat(float64(m)/1e6, 'f', -1, 64)
}

// ParseMoney parses "12.50" (at most 6 decimals) into micro-units.
func ParseMoney(s string) (Money, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty amount")
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, fmt.Errorf("%q is not an amount", s)
	}
	if len(frac) > 6 {
		return 0, fmt.Errorf("%q has more than 6 decimals", s)
	}
	var v int64
	for _, c := range intPart {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not an amount", s)
		}
		v = v*10 + int64(c-'0')
		if v > math.MaxInt64/10_000_000 {
			return 0, fmt.Errorf("%q is too large", s)
		}
	}
	v *= 1e6
	scale := int64(1e5)
	for _, c := range frac {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not an amount", s)
		}
		v += int64(c-'0') * scale
		scale /= 10
	}
	if neg {
		v = -v
	}
	return Money(v), nil
}

// Defaults for zero config values.
const (
	defaultListen               = ":8080"
	defaultAdminListen          = "127.0.0.1:8081"
	defaultReadTimeout          = 5 * time.Second
	defaultWriteTimeout         = 5 * time.Second
	defaultIdleTimeout          = 120 * time.Second
	defaultMaxBodyBytes         = 64 << 10
	defaultMaxDecompressedBytes = 256 << 10
	defaultNetworkAllowance     = 20 * time.Millisecond
	defaultTMax                 = 100 * time.Millisecond
	defaultMaxDeadline          = 50 * time.Millisecond
	defaultNoticeTTL            = 24 * time.Hour
	defaultBidExp               = 300
	defaultSeat                 = "callbid"
	defaultMaxConns             = 10000
	defaultMaxConnsPerIP        = 1000
	defaultMaxInFlight          = 64
	defaultMaxQueueDelay        = time.Millisecond
)

// SetDefaults fills zero fields with their defaults.
func (c *Config) SetDefaults() {
	s := &c.Server
	setStr(&s.Listen, defaultListen)
	setStr(&s.AdminListen, defaultAdminListen)
	setDur(&s.ReadTimeout, defaultReadTimeout)
	setDur(&s.WriteTimeout, defaultWriteTimeout)
	setDur(&s.IdleTimeout, defaultIdleTimeout)
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = defaultMaxBodyBytes
	}
	if s.MaxDecompressedBytes == 0 {
		s.MaxDecompressedBytes = defaultMaxDecompressedBytes
	}
	setDur(&s.NetworkAllowance, defaultNetworkAllowance)
	setDur(&s.DefaultTMax, defaultTMax)
	setDur(&s.MaxDeadline, defaultMaxDeadline)
	setDur(&s.NoticeTTL, defaultNoticeTTL)
	if s.BidExp == 0 {
		s.BidExp = defaultBidExp
	}
	setStr(&s.Seat, defaultSeat)
	s.setHoldDefaults()
	setStr(&s.TimeZone, "UTC")
	if s.MaxConns == 0 {
		s.MaxConns = defaultMaxConns
	}
	if s.MaxConnsPerIP == 0 {
		s.MaxConnsPerIP = defaultMaxConnsPerIP
	}
	if s.MaxInFlight == 0 {
		s.MaxInFlight = defaultMaxInFlight
	}
	setDur(&s.MaxQueueDelay, defaultMaxQueueDelay)
	if len(c.Currency.Bid) == 0 {
		c.Currency.Bid = []string{"USD"}
	}
	c.Shading.setDefaults()
	for i := range c.Campaigns {
		cc := &c.Campaigns[i]
		setStr(&cc.Currency, "USD")
		if cc.Skill.PremiumMultiplier == 0 {
			cc.Skill.PremiumMultiplier = 1
		}
		if cc.NeedsCapacity == nil {
			t := true
			cc.NeedsCapacity = &t
		}
	}
}

func setStr(p *string, d string) {
	if *p == "" {
		*p = d
	}
}

func setDur(p *time.Duration, d time.Duration) {
	if *p == 0 {
		*p = d
	}
}

// Skills lists the distinct campaign skills, sorted (for capacity.New).
func (c *Config) Skills() []string {
	seen := map[string]bool{}
	var out []string
	for _, cc := range c.Campaigns {
		if cc.Skill.Name != "" && !seen[cc.Skill.Name] {
			seen[cc.Skill.Name] = true
			out = append(out, cc.Skill.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Validate reports every problem, each starting with its field path. It
// validates a copy with defaults applied, so zero values are fine.
func (c *Config) Validate() error {
	cfg := *c
	cfg.Campaigns = append([]CampaignConfig(nil), c.Campaigns...)
	cfg.SetDefaults()
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	s := &cfg.Server
	if s.MaxBodyBytes < 0 {
		add("server.max_body_bytes", "must not be negative")
	}
	if s.MaxDecompressedBytes < s.MaxBodyBytes {
		add("server.max_decompressed_bytes", "must be at least server.max_body_bytes (%d)", s.MaxBodyBytes)
	}
	for name, d := range map[string]time.Duration{"read_timeout": s.ReadTimeout, "write_timeout": s.WriteTimeout,
		"idle_timeout": s.IdleTimeout, "network_allowance": s.NetworkAllowance, "default_tmax": s.DefaultTMax,
		"max_deadline": s.MaxDeadline, "notice_ttl": s.NoticeTTL} {
		if d < 0 {
			add("server."+name, "must not be negative")
		}
	}
	if s.NoticeBaseURL == "" {
		add("server.notice_base_url", "is required (e.g. https://bid.example.com)")
	} else if u, err := url.Parse(s.NoticeBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("server.notice_base_url", "%q is not an http(s) URL", s.NoticeBaseURL)
	} else if u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s.NoticeBaseURL, "/") {
		add("server.notice_base_url", "%q must have no query, fragment or trailing slash", s.NoticeBaseURL)
	}
	if s.NoticeSecret != "" && len(s.NoticeSecret) < 16 {
		add("server.notice_secret", "must be at least 16 bytes")
	}
	if s.BidExp < 0 {
		add("server.bid_exp", "must not be negative")
	}
	s.validateHolds(add)
	for name, v := range map[string]int{"max_conns": s.MaxConns, "max_conns_per_ip": s.MaxConnsPerIP, "max_in_flight": s.MaxInFlight} {
		if v < 0 {
			add("server."+name, "must not be negative")
		}
	}
	if s.AdminToken != "" && len(s.AdminToken) < 16 {
		add("server.admin_token", "must be at least 16 bytes")
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil {
		add("server.time_zone", "%q is not a known time zone", s.TimeZone)
	}
	for i, cur := range cfg.Currency.Bid {
		if !isCurrency(cur) {
			add(fmt.Sprintf("currency.bid[%d]", i), "%q is not an ISO-4217 code", cur)
		} else if cur != "USD" && cfg.Currency.Rates[cur] <= 0 {
			add(fmt.Sprintf("currency.bid[%d]", i), "%s has no rate in currency.rates", cur)
		}
	}
	for _, cur := range sortedKeys(cfg.Currency.Rates) {
		if !isCurrency(cur) {
			add("currency.rates."+cur, "is not an ISO-4217 code")
		} else if r := cfg.Currency.Rates[cur]; !(r > 0) || math.IsInf(r, 0) {
			add("currency.rates."+cur, "must be a positive number")
		}
	}
	for _, name := range sortedKeys(cfg.Exchanges) {
		e := cfg.Exchanges[name]
		if e.NetworkAllowance < 0 {
			add("exchanges."+name+".network_allowance", "must not be negative")
		}
		if e.DefaultTMax < 0 {
			add("exchanges."+name+".default_tmax", "must not be negative")
		}
	}
	cfg.validatePolicies(add)
	cfg.Shading.validate(add)
	if len(cfg.Campaigns) > 65535 {
		add("campaigns", "at most 65535 campaigns")
	}
	ids := map[string]int{}
	for i := range cfg.Campaigns {
		p := fmt.Sprintf("campaigns[%d]", i)
		cc := &cfg.Campaigns[i]
		if j, dup := ids[cc.ID]; dup && cc.ID != "" {
			add(p+".id", "%q repeats campaigns[%d].id", cc.ID, j)
		}
		ids[cc.ID] = i
		validateCampaign(p, cc, &cfg.Currency, add)
	}
	return errors.Join(errs...)
}

func validateCampaign(p string, cc *CampaignConfig, cur *CurrencyConfig, add func(path, format string, args ...any)) {
	if cc.ID == "" {
		add(p+".id", "is required")
	} else if len(cc.ID) > 255 {
		add(p+".id", "is longer than 255 bytes")
	}
	if cc.AdvertiserDomain == "" {
		add(p+".advertiser_domain", "is required")
	} else if strings.ContainsAny(cc.AdvertiserDomain, "/: ") {
		add(p+".advertiser_domain", "%q must be a bare domain like example.com", cc.AdvertiserDomain)
	}
	if cc.Skill.Name == "" {
		add(p+".skill.name", "is required")
	}
	for name, v := range map[string]float64{"min_proficiency": cc.Skill.MinProficiency, "premium_proficiency": cc.Skill.PremiumProficiency} {
		if v < 0 || v > 5 {
			add(p+".skill."+name, "must be 0-5, not %g", v)
		}
	}
	if cc.Skill.PremiumProficiency != 0 && cc.Skill.PremiumProficiency < cc.Skill.MinProficiency {
		add(p+".skill.premium_proficiency", "must be at least min_proficiency (%g)", cc.Skill.MinProficiency)
	}
	if !(cc.Skill.PremiumMultiplier > 0) || cc.Skill.PremiumMultiplier > 100 {
		add(p+".skill.premium_multiplier", "must be in (0, 100]")
	}
	switch {
	case cc.ValueBidding.Enabled:
		if cc.ValuePerCall != 0 || cc.BaseCPM != 0 {
			add(p+".value_bidding", "replaces value_per_call and base_cpm: give only one way to price")
		}
		cc.ValueBidding.validate(p, cc, add)
	case cc.ValuePerCall != 0 && cc.BaseCPM != 0:
		add(p+".base_cpm", "give either value_per_call with expected_call_rate, or base_cpm, not both")
	case cc.ValuePerCall != 0:
		if cc.ValuePerCall < 0 {
			add(p+".value_per_call", "must be positive")
		}
		if !(cc.ExpectedCallRate > 0) || cc.ExpectedCallRate > 1 {
			add(p+".expected_call_rate", "must be in (0, 1] calls per impression with value_per_call")
		}
	case cc.BaseCPM != 0:
		if cc.BaseCPM < 0 {
			add(p+".base_cpm", "must be positive")
		}
		if cc.ExpectedCallRate < 0 || cc.ExpectedCallRate > 1 {
			add(p+".expected_call_rate", "must be in [0, 1]")
		}
	default:
		add(p+".value_per_call", "a value per call (with expected_call_rate) or a base_cpm is required")
	}
	if cc.MaxCPM <= 0 {
		add(p+".max_cpm", "is required and must be positive")
	}
	if !isCurrency(cc.Currency) {
		add(p+".currency", "%q is not an ISO-4217 code", cc.Currency)
	} else if cc.Currency != "USD" && cur.Rates[cc.Currency] <= 0 {
		add(p+".currency", "%s has no rate in currency.rates", cc.Currency)
	}
	if cc.DailyBudget < 0 {
		add(p+".daily_budget", "must not be negative")
	}
	if cc.NumberPool == "" {
		add(p+".number_pool", "is required")
	}
	validateControls(p, cc, add)
	cc.CallCaps.validate(p, add)
	m := &cc.Multipliers
	checkMult := func(path string, v float64) {
		if !(v >= 0) || v > 100 {
			add(path, "multiplier must be in [0, 100], not %g", v)
		}
	}
	for _, k := range sortedKeys(m.Publisher) {
		checkMult(p+".multipliers.publisher."+k, m.Publisher[k])
	}
	hours := make([]int, 0, len(m.Hour))
	for h := range m.Hour {
		hours = append(hours, h)
	}
	sort.Ints(hours)
	for _, h := range hours {
		hp := fmt.Sprintf("%s.multipliers.hour[%d]", p, h)
		if h < 0 || h > 23 {
			add(hp, "hour must be 0-23")
			continue
		}
		checkMult(hp, m.Hour[h])
	}
	for _, k := range sortedKeys(m.DayOfWeek) {
		if _, ok := weekdays[strings.ToLower(k)]; !ok {
			add(p+".multipliers.day_of_week."+k, "day must be one of mon, tue, wed, thu, fri, sat, sun")
			continue
		}
		checkMult(p+".multipliers.day_of_week."+k, m.DayOfWeek[k])
	}
	for _, k := range sortedKeys(m.DeviceType) {
		if _, ok := parseDeviceType(k); !ok {
			add(p+".multipliers.device_type."+k, "unknown device type (%s or AdCOM 1-8)", deviceTypeNames)
			continue
		}
		checkMult(p+".multipliers.device_type."+k, m.DeviceType[k])
	}
	for _, k := range sortedKeys(m.Country) {
		if !isCountry(k) {
			add(p+".multipliers.country."+k, "country must be ISO-3166-1 alpha-3 like USA")
			continue
		}
		checkMult(p+".multipliers.country."+k, m.Country[k])
	}
	for _, k := range sortedKeys(m.Region) {
		checkMult(p+".multipliers.region."+k, m.Region[k])
	}
	t := &cc.Targeting
	for i, c := range t.Countries {
		if !isCountry(c) {
			add(fmt.Sprintf("%s.targeting.countries[%d]", p, i), "%q is not ISO-3166-1 alpha-3 like USA", c)
		}
	}
	for i, c := range t.SiteCategories {
		if !isIABCategory(c) {
			add(fmt.Sprintf("%s.targeting.site_categories[%d]", p, i), "%q is not an IAB category like IAB13 or IAB13-7", c)
		}
	}
	for i, c := range t.AppCategories {
		if !isIABCategory(c) {
			add(fmt.Sprintf("%s.targeting.app_categories[%d]", p, i), "%q is not an IAB category like IAB13 or IAB13-7", c)
		}
	}
	for i, c := range cc.AdCategories {
		if !isIABCategory(c) {
			add(fmt.Sprintf("%s.ad_categories[%d]", p, i), "%q is not an IAB category like IAB13 or IAB13-7", c)
		}
	}
	for i, d := range t.DeviceTypes {
		if _, ok := parseDeviceType(d); !ok {
			add(fmt.Sprintf("%s.targeting.device_types[%d]", p, i), "%q is not a device type (%s or AdCOM 1-8)", d, deviceTypeNames)
		}
	}
	for i, inv := range t.Inventory {
		if _, ok := parseInventory(inv); !ok {
			add(fmt.Sprintf("%s.targeting.inventory[%d]", p, i), "%q must be site, app or dooh", inv)
		}
	}
	if len(cc.Creatives) == 0 {
		add(p+".creatives", "at least one creative is required")
	}
	crids := map[string]bool{}
	for i := range cc.Creatives {
		cr := &cc.Creatives[i]
		cp := fmt.Sprintf("%s.creatives[%d]", p, i)
		if cr.ID == "" {
			add(cp+".id", "is required")
		} else if crids[cr.ID] {
			add(cp+".id", "%q repeats another creative of this campaign", cr.ID)
		}
		crids[cr.ID] = true
		switch cr.Type {
		case "banner":
			if cr.W <= 0 || cr.H <= 0 {
				add(cp+".w", "banner needs a positive w and h")
			}
			if cr.Template == "" && cr.Title == "" {
				add(cp+".template", "banner needs a template, or a title for the default call banner")
			}
		case "native":
			if cr.Title == "" {
				add(cp+".title", "native needs a title")
			}
		default:
			add(cp+".type", "%q must be banner or native", cr.Type)
		}
		if cr.Template != "" {
			if _, err := openrtb.ParseTemplate(cr.Template); err != nil {
				add(cp+".template", "%v", err)
			}
			if openrtb.InsecureURL([]byte(cr.Template)) {
				add(cp+".template", "uses http://; secure (imp.secure=1) inventory needs https:// resources only")
			}
		}
	}
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// AdCOM device types (List: Device Types) by their config names.
var deviceTypes = map[string]adcom1.DeviceType{"mobile": adcom1.DeviceMobile, "pc": adcom1.DevicePC,
	"ctv": adcom1.DeviceTV, "phone": adcom1.DevicePhone, "tablet": adcom1.DeviceTablet,
	"connected_device": adcom1.DeviceConnected, "set_top_box": adcom1.DeviceSetTopBox, "ooh": adcom1.DeviceOOH}

const deviceTypeNames = "mobile, pc, ctv, phone, tablet, connected_device, set_top_box, ooh"

func parseDeviceType(s string) (adcom1.DeviceType, bool) {
	if v, ok := deviceTypes[strings.ToLower(s)]; ok {
		return v, true
	}
	if v, err := strconv.Atoi(s); err == nil && v >= int(adcom1.DeviceMobile) && v <= int(adcom1.DeviceOOH) {
		return adcom1.DeviceType(v), true
	}
	return 0, false
}

func parseInventory(s string) (openrtb.Inventory, bool) {
	switch strings.ToLower(s) {
	case "site":
		return openrtb.InventorySite, true
	case "app":
		return openrtb.InventoryApp, true
	case "dooh":
		return openrtb.InventoryDOOH, true
	}
	return 0, false
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func isCountry(s string) bool {
	return isCurrency(strings.ToUpper(s)) // same shape: three letters
}

func isIABCategory(s string) bool {
	if !strings.HasPrefix(strings.ToUpper(s), "IAB") || len(s) < 4 {
		return false
	}
	main, sub, hasSub := strings.Cut(s[3:], "-")
	if _, err := strconv.Atoi(main); err != nil {
		return false
	}
	if hasSub {
		if _, err := strconv.Atoi(sub); err != nil {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
