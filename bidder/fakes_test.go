package bidder

import (
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/numbers"
	"github.com/callbid/callbid/openrtb"
	"github.com/rs/zerolog"
)

// fakeReserver hands out numbers from fixed-size pools; as cheap as a real
// lock-free pool (one atomic per Reserve).
type fakeReserver struct {
	pools    map[string]int
	size     int            // numbers per pool; 0 = unlimited
	used     []atomic.Int64 // per pool
	numbers  []string
	mu       sync.Mutex
	wins     map[numbers.Ref]int // billed counts ×1, win ×1 each call
	bills    map[numbers.Ref]int
	losses   map[numbers.Ref]int
	lastClm  numbers.Claim
	keepLast bool
	// lease-log behaviour: awaitErr is what AwaitLease answers; stale makes
	// Win answer WinStale (a reservation of an earlier process) and records
	// the claims Restore gets.
	awaitErr  error
	stale     bool
	replaying bool
	restored  []numbers.Claim
}

func newFakeReserver(size int, pools ...string) *fakeReserver {
	f := &fakeReserver{pools: map[string]int{}, size: size, used: make([]atomic.Int64, len(pools)),
		wins: map[numbers.Ref]int{}, bills: map[numbers.Ref]int{}, losses: map[numbers.Ref]int{}}
	for i, p := range pools {
		f.pools[p] = i
	}
	for i := 0; i < 100; i++ {
		f.numbers = append(f.numbers, "+1800555"+strconv.Itoa(1000+i))
	}
	return f
}

func (f *fakeReserver) PoolIndex(id string) (int, bool) { i, ok := f.pools[id]; return i, ok }

func (f *fakeReserver) Reserve(idx int, c *numbers.Claim, now time.Time) (numbers.Reservation, bool) {
	n := f.used[idx].Add(1)
	if f.size > 0 && n > int64(f.size) {
		return numbers.Reservation{}, false
	}
	if f.keepLast {
		f.mu.Lock()
		f.lastClm = *c
		f.lastClm.BidID = string([]byte(c.BidID))
		f.mu.Unlock()
	}
	return numbers.Reservation{Ref: numbers.Ref(uint64(idx)<<32 | uint64(n)), E164: f.numbers[int(n)%len(f.numbers)]}, true
}

func (f *fakeReserver) Win(ref numbers.Ref, billed bool, now time.Time) numbers.WinResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stale {
		return numbers.WinStale
	}
	if billed {
		f.bills[ref]++
	} else {
		f.wins[ref]++
	}
	return numbers.WinLeased
}

func (f *fakeReserver) Bill(ref numbers.Ref, now time.Time) (numbers.WinResult, bool) {
	f.mu.Lock()
	first := f.bills[ref] == 0
	f.mu.Unlock()
	return f.Win(ref, true, now), first
}

func (f *fakeReserver) Restore(ref numbers.Ref, c *numbers.Claim, reservedAt time.Time, billed bool, now time.Time) (numbers.WinResult, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restored = append(f.restored, *c)
	return numbers.WinRestored, billed
}

func (f *fakeReserver) Replaying() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.replaying
}

func (f *fakeReserver) AwaitLease(ref numbers.Ref) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.awaitErr
}

func (f *fakeReserver) Loss(ref numbers.Ref, now time.Time) {
	f.mu.Lock()
	f.losses[ref]++
	f.mu.Unlock()
}

// fakeCapacity returns a fixed view per skill (Factor 1 when not set).
type fakeCapacity struct{ views map[string]capacity.View }

func (f *fakeCapacity) View(skill string, minP, premP float64) capacity.View {
	if v, ok := f.views[skill]; ok {
		return v
	}
	return capacity.View{Factor: 1}
}

// fakeFeedback returns fixed factors and counts records.
type fakeFeedback struct {
	hit     map[string]float64 // campaign/publisher → rate
	pace    float64
	stop    bool
	blocked map[uint64]bool
	ranges  []netip.Prefix // blocked device ip ranges
	seen    atomic.Int64
	bids    atomic.Int64
}

func (f *fakeFeedback) HitRate(c, p string) float64 {
	if f.hit == nil {
		return 1
	}
	if v, ok := f.hit[c+"/"+p]; ok {
		return v
	}
	return 1
}
func (f *fakeFeedback) Pacing(string) (float64, bool) {
	if f.pace == 0 {
		return 1, f.stop
	}
	return f.pace, f.stop
}
func (f *fakeFeedback) Allowed(ip, ifa uint64) bool { return !f.blocked[ip] && !f.blocked[ifa] }
func (f *fakeFeedback) AllowedIP(ip string) bool {
	if len(f.ranges) == 0 { // as the real one: no ranges, no parse
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return true
	}
	for _, p := range f.ranges {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
func (f *fakeFeedback) RecordSeen(string, string, time.Time) { f.seen.Add(1) }
func (f *fakeFeedback) RecordBid(string, string, string, string, int64, int64, time.Time) {
	f.bids.Add(1)
}

// fakePublisher keeps what was published.
type fakePublisher struct {
	mu   sync.Mutex
	msgs []pubMsg
}

type pubMsg struct{ topic, key, value string }

func (p *fakePublisher) Publish(topic string, key, value []byte) bool {
	p.mu.Lock()
	p.msgs = append(p.msgs, pubMsg{topic, string(key), string(value)})
	p.mu.Unlock()
	return true
}

// testNow is a Wednesday, 14:30 UTC.
var testNow = time.Date(2026, 11, 18, 14, 30, 0, 0, time.UTC)

const testSecret = "0123456789abcdef0123456789abcdef"

// baseConfig has three campaigns with distinct skills and pools.
func baseConfig() Config {
	banner := `<a href="{{tel_uri}}">Call {{number}}</a>`
	return Config{
		Server:   ServerConfig{NoticeBaseURL: "https://bid.example.com", NoticeSecret: testSecret},
		Currency: CurrencyConfig{Bid: []string{"USD", "EUR"}, Rates: map[string]float64{"EUR": 1.25, "GBP": 1.5}},
		Campaigns: []CampaignConfig{
			{ID: "mortgage", AdvertiserDomain: "acme-mortgage.com", AdCategories: []string{"IAB13-7"},
				Skill:        SkillConfig{Name: "mortgage", MinProficiency: 3, PremiumProficiency: 4.5, PremiumMultiplier: 1.2},
				ValuePerCall: 40_000_000, ExpectedCallRate: 0.0001, MaxCPM: 10_000_000, // base 4.00 CPM
				Creatives: []CreativeConfig{{ID: "m-300x250", Type: "banner", W: 300, H: 250, Template: banner},
					{ID: "m-728x90", Type: "banner", W: 728, H: 90, Template: banner},
					{ID: "m-native", Type: "native", Title: "Refinance today"}},
				NumberPool: "pool-mortgage"},
			{ID: "auto", AdvertiserDomain: "auto-insure.com", AdCategories: []string{"IAB13-5"},
				Skill:   SkillConfig{Name: "auto", MinProficiency: 2},
				BaseCPM: 3_000_000, MaxCPM: 8_000_000,
				Creatives: []CreativeConfig{{ID: "a-300x250", Type: "banner", W: 300, H: 250, Template: banner},
					{ID: "a-320x50", Type: "banner", W: 320, H: 50, Template: banner}},
				NumberPool: "pool-auto"},
			{ID: "legal", AdvertiserDomain: "law-firm.com", AdCategories: []string{"IAB11-2"},
				Skill:   SkillConfig{Name: "legal"},
				BaseCPM: 2_000_000, MaxCPM: 6_000_000,
				Creatives:  []CreativeConfig{{ID: "l-300x250", Type: "banner", W: 300, H: 250, Template: banner}},
				NumberPool: "pool-legal"},
		},
	}
}

type testEnv struct {
	b   *Bidder
	res *fakeReserver
	cap *fakeCapacity
	fb  *fakeFeedback
	pub *fakePublisher
	now time.Time
}

func newEnv(t testing.TB, cfg Config, poolSize int) *testEnv {
	t.Helper()
	e := &testEnv{res: newFakeReserver(poolSize, "pool-mortgage", "pool-auto", "pool-legal"),
		cap: &fakeCapacity{views: map[string]capacity.View{}}, fb: &fakeFeedback{},
		pub: &fakePublisher{}, now: testNow}
	b, err := New(cfg, Deps{Reserver: e.res, Capacity: e.cap, Feedback: e.fb, Publisher: e.pub,
		Now: func() time.Time { return e.now }}, zerolog.Nop())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.b = b
	return e
}

// banner300 is a minimal site request with one 300x250 banner imp.
func banner300() *openrtb.Request {
	return &openrtb.Request{ID: "req-1", Inventory: openrtb.InventorySite, SiteOrAppID: "site-1",
		Domain: "news.example", PublisherID: "pub-1", Cats: []string{"IAB12"},
		Device: openrtb.Device{IP: "203.0.113.9", Type: 2, Country: "USA", Region: "CA"},
		Imps:   []openrtb.Imp{{ID: "1", Banner: true, Formats: []openrtb.Format{{W: 300, H: 250}}}}}
}
