package bidder

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ad "github.com/callbid/callbid/creative"
	"github.com/callbid/callbid/jsonw"
	"github.com/callbid/callbid/openrtb"
)

// snapshot is the compiled, immutable config the bid path reads. Nothing in
// it is mutated after it is published, except through the pointers to
// shared, concurrency-safe state (budgets).
type snapshot struct {
	cfg       Config
	campaigns []*campaign
	nSkills   int
	loc       *time.Location
	rates     map[string]float64 // USD per unit; USD is 1
	bidCur    map[string]bool
	// bidRates are the bid currencies that have a rate, in currency.bid
	// order: request.cur is matched against these few by a scan, cheaper
	// than two map lookups per entry (pickCurrency).
	bidRates []bidRate
	usdHead  openrtb.ResponseHead // the head of USD responses when USD is a bid currency
	keyNeeds keyNeeds             // the request keys some campaign reads (keys.go)
	// lowerKeys and upperKeys number the campaigns' publisher, site,
	// domain and bundle keys, and country and region keys (keyids.go).
	lowerKeys, upperKeys keyDict
	exchanges            map[string]*exchangeRT
	defaultEx            *exchangeRT
	otherEx              *exchangeRT // names that cannot be kept (too many, bad characters)
	// seenEx interns exchange names that are not configured, so feedback and
	// reports see the real name; copy-on-write, at most maxSeenExchanges.
	seenEx    atomic.Pointer[map[string]*exchangeRT]
	seenMu    sync.Mutex
	mkEx      func(name string) *exchangeRT
	base      string // notice base URL
	baseHTTPS bool
	// basePlain: base needs no JSON escaping, so neither do the notice URLs
	// built on it (the rest is a path, base64url and macros): the response
	// copies them without scanning (openrtb.Bid.URLsPlain).
	basePlain bool
	signer    *signer
	holds     []poolHolds // hold budgets by pool index (nil: unlimited)
	policy    policy
}

// exchangeRT is the per-exchange setting resolved at compile time.
type exchangeRT struct {
	name        string
	nbr         bool
	allowance   time.Duration
	defaultTMax time.Duration
	holds       *exchangeHolds // hold budgets (persist across reloads; unconfigured names share one)
	holdsM      *exchangeCounters
}

type campaign struct {
	idx      int
	id       string
	adomain  string
	skill    string
	skillIdx int
	currency string
	rate     float64 // USD per unit of the campaign currency

	baseCPM  float64 // micro-units of the campaign currency
	maxCPM   float64
	minProf  float64
	premProf float64
	premMult float64
	needsCap bool

	pubMult     map[string]float64 // lowercase keys
	hour        [24]float64
	dow         [7]float64
	dev         [9]float64
	countryMult map[string]float64 // uppercase keys
	regionMult  map[string]float64 // uppercase keys

	countries  map[string]struct{} // uppercase
	regions    map[string]struct{} // uppercase
	siteCats   []string
	appCats    []string
	adCats     []string
	adCatKeys  uint64    // adCatKeys(adCats), decide.go
	adomainKey firstKeys // firstKey(adomain), decide.go
	appBundle  string
	keywords   []string // lowercase
	devTypes   [9]bool
	anyDevice  bool
	pubAllow   map[string]struct{} // lowercase
	pubBlock   map[string]struct{}
	inventory  [4]bool
	anyInv     bool
	allowCOPPA bool

	banners []creative
	natives []creative
	pool    int
	budget  *budget
	daily   int64 // daily budget in micro-units ×1000 (CPM micro-units), 0 = unlimited
	total   int64 // total budget, same units; 0 = unlimited

	paused     bool
	start, end int64          // flight bounds, unix ns; 0 = open
	loc        *time.Location // nil: server.time_zone
	grid       *scheduleGrid  // nil: no schedule
	exMult     map[string]float64
	domainMult map[string]float64 // lowercase keys
	bundleMult map[string]float64 // lowercase keys
	sizeMult   map[uint32]float64 // by sizeKey
	cats       []string           // bid.cat (ad_categories as configured)
	bundle     string             // bid.bundle (app_bundle as configured)

	calls         *callCounter // shared with the call consumers, kept across reloads
	capHour       int64
	capDay        int64
	capConcurrent int64
	reserveWin    int64 // seconds of the bids-in-flight reservation; 0 = off

	valueBidding    bool
	valueCallRate   float64 // expected_call_rate × 1000 (per mille)
	valueClose      float64 // prior close rate
	valueRevenue    float64 // prior revenue per sale, micro-units
	valuePriorCalls float64
	valuePriorSales float64

	chn *campaignChannel // nil: voice only (channel.go)

	// ids are pubAllow, pubBlock, countries, regions and the publisher,
	// domain, bundle, country and region multipliers by key id: what
	// evalCampaign reads (keyids.go).
	ids keyIDs
}

type creative struct {
	id    string
	w, h  int
	tmpl  ad.Template
	title string
	// fields is openrtb.Bid.Fields for a bid with this creative: the
	// campaign's adomain, bundle, cat and cid and the creative's adid and
	// crid, encoded once here instead of in every response.
	fields string
}

// compile builds a snapshot from cfg (defaults already applied).
func compile(cfg Config, res Reserver, budgets *budgetSet, holds *holdLimiter, calls *callTable) (*snapshot, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.SetDefaults()
	loc, err := time.LoadLocation(cfg.Server.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("server.time_zone: %w", err)
	}
	s := &snapshot{cfg: cfg, loc: loc, rates: map[string]float64{"USD": 1}, bidCur: map[string]bool{},
		exchanges: map[string]*exchangeRT{}, base: cfg.Server.NoticeBaseURL,
		baseHTTPS: strings.HasPrefix(cfg.Server.NoticeBaseURL, "https://"),
		basePlain: string(jsonw.AppendStringBody(nil, cfg.Server.NoticeBaseURL)) == cfg.Server.NoticeBaseURL}
	for k, v := range cfg.Currency.Rates {
		s.rates[k] = v
	}
	s.policy = compilePolicy(&cfg)
	for _, c := range cfg.Currency.Bid {
		s.bidCur[c] = true
		if r, ok := s.rates[c]; ok && !hasBidRate(s.bidRates, c) {
			s.bidRates = append(s.bidRates, bidRate{cur: c, rate: r, head: openrtb.EncodeResponseHead(c, cfg.Server.Seat)})
		}
	}
	if s.bidCur["USD"] {
		s.usdHead = openrtb.EncodeResponseHead("USD", cfg.Server.Seat)
	}
	nbr := map[string]bool{}
	for _, n := range cfg.Server.NBRExchanges {
		nbr[n] = true
	}
	s.holds = compileHolds(&cfg.Server, res)
	mk := func(name string, e ExchangeConfig) *exchangeRT {
		x := &exchangeRT{name: name, nbr: e.NBR || nbr[name], allowance: e.NetworkAllowance, defaultTMax: e.DefaultTMax,
			holds: holds.exchange(holdBudgetName(&cfg, name), len(s.holds)), holdsM: holds.counters(name)}
		if x.allowance == 0 {
			x.allowance = cfg.Server.NetworkAllowance
		}
		if x.defaultTMax == 0 {
			x.defaultTMax = cfg.Server.DefaultTMax
		}
		return x
	}
	for name, e := range cfg.Exchanges {
		s.exchanges[name] = mk(name, e)
	}
	for _, name := range cfg.Server.NBRExchanges {
		if _, ok := s.exchanges[name]; !ok {
			s.exchanges[name] = mk(name, ExchangeConfig{})
		}
	}
	s.mkEx = func(name string) *exchangeRT { return mk(name, ExchangeConfig{}) }
	if d, ok := s.exchanges["default"]; ok {
		s.defaultEx = d
	} else {
		s.defaultEx = mk("default", ExchangeConfig{})
	}
	s.otherEx = mk("other", ExchangeConfig{})
	if len(cfg.Server.NoticeSecret) < 16 {
		return nil, errors.New("server.notice_secret: is required (at least 16 bytes; CALLBID_NOTICE_SECRET)")
	}
	s.signer = newSigner([]byte(cfg.Server.NoticeSecret))

	skills := map[string]int{}
	var errs []error
	for i := range cfg.Campaigns {
		cc := &cfg.Campaigns[i]
		c, err := compileCampaign(i, cc, s, res)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		si, ok := skills[c.skill]
		if !ok {
			si = len(skills)
			skills[c.skill] = si
		}
		c.skillIdx = si
		c.budget = budgets.get(c.id)
		c.calls = calls.counter(c.id)
		loc := s.loc
		if c.loc != nil {
			loc = c.loc
		}
		c.calls.loc.Store(loc)
		c.calls.window.Store(int64(cc.CallCaps.RepeatWindow))
		s.campaigns = append(s.campaigns, c)
		chs, err := channelCampaigns(fmt.Sprintf("campaigns[%d]", i), c, cc, res) // channel.go
		errs = append(errs, err)
		s.campaigns = append(s.campaigns, chs...)
	}
	s.nSkills = len(skills)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.keyNeeds = compileKeyNeeds(s.campaigns) // keys.go
	s.internKeys()                            // keyids.go
	for _, c := range s.campaigns {
		for _, crs := range [2][]creative{c.banners, c.natives} {
			for i := range crs {
				crs[i].fields = string(openrtb.AppendBidFields(nil, c.adomain, c.bundle, crs[i].id, c.cats, catTax(c.cats), c.id, crs[i].id))
			}
		}
	}
	return s, nil
}

func compileCampaign(i int, cc *CampaignConfig, s *snapshot, res Reserver) (*campaign, error) {
	p := fmt.Sprintf("campaigns[%d]", i)
	c := &campaign{idx: i, id: cc.ID, adomain: strings.ToLower(cc.AdvertiserDomain), skill: cc.Skill.Name,
		currency: cc.Currency, rate: s.rates[cc.Currency], maxCPM: float64(cc.MaxCPM),
		minProf: cc.Skill.MinProficiency, premProf: cc.Skill.PremiumProficiency, premMult: cc.Skill.PremiumMultiplier,
		needsCap: cc.NeedsCapacity == nil || *cc.NeedsCapacity, allowCOPPA: cc.Targeting.AllowCOPPA,
		appBundle: strings.ToLower(cc.AppBundle)}
	if cc.ValuePerCall != 0 {
		c.baseCPM = float64(cc.ValuePerCall) * cc.ExpectedCallRate * 1000
	} else {
		c.baseCPM = float64(cc.BaseCPM)
	}
	if cc.DailyBudget > 0 {
		c.daily = int64(cc.DailyBudget) * 1000
	}
	if err := compileControls(p, c, cc, s); err != nil {
		return nil, err
	}
	m := &cc.Multipliers
	c.pubMult = lowerMap(m.Publisher)
	for h := range c.hour {
		c.hour[h] = 1
		if v, ok := m.Hour[h]; ok {
			c.hour[h] = v
		}
	}
	for d := range c.dow {
		c.dow[d] = 1
	}
	for k, v := range m.DayOfWeek {
		c.dow[weekdays[strings.ToLower(k)]] = v
	}
	for d := range c.dev {
		c.dev[d] = 1
	}
	for k, v := range m.DeviceType {
		dt, _ := parseDeviceType(k)
		c.dev[dt] = v
	}
	c.countryMult = upperMap(m.Country)
	c.regionMult = upperMap(m.Region)
	t := &cc.Targeting
	c.countries = upperSet(t.Countries)
	c.regions = upperSet(t.Regions)
	c.siteCats = upperList(t.SiteCategories)
	c.appCats = upperList(t.AppCategories)
	c.adCats = upperList(cc.AdCategories)
	c.adCatKeys = adCatKeys(c.adCats)
	c.adomainKey = firstKey(c.adomain)
	for _, k := range t.Keywords {
		if k = strings.ToLower(strings.TrimSpace(k)); k != "" {
			c.keywords = append(c.keywords, k)
		}
	}
	c.anyDevice = len(t.DeviceTypes) == 0
	for _, d := range t.DeviceTypes {
		dt, _ := parseDeviceType(d)
		c.devTypes[dt] = true
	}
	c.pubAllow = lowerSet(t.PublishersAllow)
	c.pubBlock = lowerSet(t.PublishersBlock)
	c.anyInv = len(t.Inventory) == 0
	for _, inv := range t.Inventory {
		v, _ := parseInventory(inv)
		c.inventory[v] = true
	}
	for j := range cc.Creatives {
		cr := &cc.Creatives[j]
		k := creative{id: cr.ID, w: cr.W, h: cr.H, title: cr.Title}
		if cr.Template != "" {
			tm, err := ad.ParseTemplate(cr.Template)
			if err != nil {
				return nil, fmt.Errorf("%s.creatives[%d].template: %w", p, j, err)
			}
			k.tmpl = tm
		} else if cr.Type != "native" {
			k.tmpl = ad.DefaultBannerTemplate(cr.W, cr.H, cr.Title)
		}
		if cr.Type == "native" {
			c.natives = append(c.natives, k)
		} else {
			c.banners = append(c.banners, k)
		}
	}
	idx, ok := res.PoolIndex(cc.NumberPool)
	if !ok {
		return nil, fmt.Errorf("%s.number_pool: no number pool %q in numbers.pools", p, cc.NumberPool)
	}
	c.pool = idx
	return c, nil
}

// compileControls resolves status, flight, total budget, time zone and the
// schedule, exchange, domain, bundle and size multipliers.
func compileControls(p string, c *campaign, cc *CampaignConfig, s *snapshot) error {
	c.paused = cc.Status == "paused"
	if cc.TotalBudget > 0 {
		c.total = int64(cc.TotalBudget) * 1000
	}
	loc := s.loc
	if cc.TimeZone != "" && cc.TimeZone != s.cfg.Server.TimeZone {
		l, err := time.LoadLocation(cc.TimeZone)
		if err != nil {
			return fmt.Errorf("%s.time_zone: %w", p, err)
		}
		c.loc, loc = l, l
	}
	for _, f := range []struct {
		t   FlightTime
		dst *int64
		n   string
	}{{cc.Start, &c.start, "start"}, {cc.End, &c.end, "end"}} {
		v, err := f.t.parse(loc)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", p, f.n, err)
		}
		if !v.IsZero() {
			*f.dst = v.UnixNano()
		}
	}
	m := &cc.Multipliers
	g, err := compileSchedule(m.Schedule)
	if err != nil {
		return fmt.Errorf("%s.multipliers.schedule: %w", p, err)
	}
	c.grid = g
	if len(m.Exchange) > 0 {
		c.exMult = lowerMap(m.Exchange)
	}
	if len(m.Domain) > 0 {
		c.domainMult = lowerMap(m.Domain)
	}
	if len(m.AppBundle) > 0 {
		c.bundleMult = lowerMap(m.AppBundle)
	}
	if len(m.Size) > 0 {
		c.sizeMult = make(map[uint32]float64, len(m.Size))
		for k, v := range m.Size {
			w, h, _ := parseSize(k)
			c.sizeMult[sizeKey(w, h)] = v
		}
	}
	c.cats = append([]string(nil), cc.AdCategories...)
	c.bundle = cc.AppBundle
	if v := &cc.ValueBidding; v.Enabled {
		c.valueBidding, c.valueCallRate = true, cc.ExpectedCallRate*1000
		c.valueClose, c.valueRevenue = v.CloseRate, float64(v.RevenuePerSale)
		c.valuePriorCalls, c.valuePriorSales = v.PriorCalls, v.PriorSales
		if c.valuePriorCalls == 0 {
			c.valuePriorCalls = 20
		}
		if c.valuePriorSales == 0 {
			c.valuePriorSales = 5
		}
		c.baseCPM = c.valueCallRate * c.valueClose * c.valueRevenue
	}
	switch w := cc.BudgetReserveWindow; {
	case w == 0:
		c.reserveWin = defaultReserveWindow
	case w > 0:
		c.reserveWin = max(int64((w+time.Second-1)/time.Second), 1)
	}
	c.capHour, c.capDay, c.capConcurrent = int64(cc.CallCaps.PerHour), int64(cc.CallCaps.PerDay), int64(cc.CallCaps.Concurrent)
	return nil
}

// defaultReserveWindow (seconds) covers the usual win/bill notice delay.
const defaultReserveWindow = 15

func lowerMap(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

func upperMap(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[strings.ToUpper(k)] = v
	}
	return out
}

func upperSet(l []string) map[string]struct{} {
	if len(l) == 0 {
		return nil
	}
	out := make(map[string]struct{}, len(l))
	for _, v := range l {
		out[strings.ToUpper(strings.TrimSpace(v))] = struct{}{}
	}
	return out
}

func lowerSet(l []string) map[string]struct{} {
	if len(l) == 0 {
		return nil
	}
	out := make(map[string]struct{}, len(l))
	for _, v := range l {
		out[strings.ToLower(strings.TrimSpace(v))] = struct{}{}
	}
	return out
}

func upperList(l []string) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		out = append(out, strings.ToUpper(strings.TrimSpace(v)))
	}
	return out
}

// exchange resolves the ?exchange= name without allocating.
func (s *snapshot) exchange(name []byte) *exchangeRT {
	if len(name) == 0 {
		return s.defaultEx
	}
	if x, ok := s.exchanges[string(name)]; ok {
		return x
	}
	if string(name) == "default" {
		return s.defaultEx
	}
	if m := s.seenEx.Load(); m != nil {
		if x, ok := (*m)[string(name)]; ok {
			return x
		}
	}
	return s.internExchange(name)
}

const maxSeenExchanges = 64

// internExchange keeps a new unconfigured exchange name (the first request
// from an exchange allocates; the following ones do not).
func (s *snapshot) internExchange(name []byte) *exchangeRT {
	if len(name) > 32 {
		return s.otherEx
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return s.otherEx
		}
	}
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	old := map[string]*exchangeRT{}
	if m := s.seenEx.Load(); m != nil {
		old = *m
	}
	if x, ok := old[string(name)]; ok {
		return x
	}
	if len(old) >= maxSeenExchanges {
		return s.otherEx
	}
	m := make(map[string]*exchangeRT, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	x := s.mkEx(string(name))
	m[x.name] = x
	s.seenEx.Store(&m)
	return x
}

// bidRate is a bid currency and its USD rate.
type bidRate struct {
	cur  string
	rate float64
	head openrtb.ResponseHead // of responses in cur: cur and seat encoded once
}

func hasBidRate(l []bidRate, cur string) bool {
	for i := range l {
		if l[i].cur == cur {
			return true
		}
	}
	return false
}
