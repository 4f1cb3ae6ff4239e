package httpapi

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/numbers"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
	"gopkg.in/yaml.v3"
)

// The bid routes are tested against a real bidder with the fakes below
// (copies of bidder's, trimmed to what these tests read) and bidder's test
// config and requests.
const testdata = "../bidder/testdata/"

// fakeReserver hands out numbers from fixed-size pools; as cheap as a real
// lock-free pool (one atomic per Reserve).
type fakeReserver struct {
	pools   map[string]int
	size    int            // numbers per pool; 0 = unlimited
	used    []atomic.Int64 // per pool
	numbers []string
	mu      sync.Mutex
	wins    map[numbers.Ref]int
	bills   map[numbers.Ref]int
	losses  map[numbers.Ref]int
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
	return numbers.Reservation{Ref: numbers.Ref(uint64(idx)<<32 | uint64(n)), E164: f.numbers[int(n)%len(f.numbers)]}, true
}

func (f *fakeReserver) Win(ref numbers.Ref, billed bool, now time.Time) numbers.WinResult {
	f.mu.Lock()
	defer f.mu.Unlock()
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
	return numbers.WinRestored, billed
}

func (f *fakeReserver) Replaying() bool                  { return false }
func (f *fakeReserver) AwaitLease(ref numbers.Ref) error { return nil }
func (f *fakeReserver) Loss(ref numbers.Ref, now time.Time) {
	f.mu.Lock()
	f.losses[ref]++
	f.mu.Unlock()
}

// fakeCapacity returns Factor 1 for every skill.
type fakeCapacity struct{}

func (fakeCapacity) View(skill string, minP, premP float64) capacity.View {
	return capacity.View{Factor: 1}
}

// fakeFeedback allows everything at hit rate 1 and no pacing.
type fakeFeedback struct{}

func (fakeFeedback) HitRate(c, p string) float64                                       { return 1 }
func (fakeFeedback) Pacing(string) (float64, bool)                                     { return 1, false }
func (fakeFeedback) Allowed(ip, ifa uint64) bool                                       { return true }
func (fakeFeedback) AllowedIP(ip string) bool                                          { return true }
func (fakeFeedback) RecordSeen(string, string, time.Time)                              {}
func (fakeFeedback) RecordBid(string, string, string, string, int64, int64, time.Time) {}

type testEnv struct {
	b   *bidder.Bidder
	res *fakeReserver
	m   *serverMetrics // the metrics of the server the test builds, when it builds one
}

// newEnv builds a bidder on cfg with real time (notices are checked
// against it) and pools of poolSize numbers (0: unlimited).
func newEnv(t testing.TB, cfg bidder.Config, poolSize int) *testEnv {
	t.Helper()
	e := &testEnv{res: newFakeReserver(poolSize, "pool-mortgage", "pool-auto", "pool-legal")}
	b, err := bidder.New(cfg, bidder.Deps{Reserver: e.res, Capacity: fakeCapacity{}, Feedback: fakeFeedback{}}, zerolog.Nop())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.b = b
	return e
}

func loadYAMLConfig(t testing.TB, path string) bidder.Config {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg bidder.Config
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg
}

func readBody(tb testing.TB, path string) []byte {
	tb.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

// bidSetup is a bid route over a bidder on bidder's test config, with
// admission control that never sheds.
func bidSetup(tb testing.TB, res bidder.Reserver) (*bidRoute, *bidder.Bidder) {
	tb.Helper()
	cfg := loadYAMLConfig(tb, testdata+"config.yaml")
	b, err := bidder.New(cfg, bidder.Deps{Reserver: res, Capacity: fakeCapacity{}, Feedback: fakeFeedback{}}, zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	m := newServerMetrics()
	return &bidRoute{b: b, adm: &admission{}, m: &m.bid, srv: m}, b
}

func newBidCtx(body []byte, uri string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI(uri)
	ctx.Request.SetBody(body)
	// Keep the response buffer: fasthttp's pool recalibrates and stops
	// pooling the largest bodies (see newBidCtx in bidder/bench_test.go).
	ctx.Response.KeepBodyBuffer = true
	return ctx
}

// runBid serves one request on ctx, resetting only the response.
func runBid(r *bidRoute, ctx *fasthttp.RequestCtx) {
	ctx.Response.Reset()
	r.serve(ctx)
}

func histogramCount(h prometheus.Histogram) uint64 {
	var m dto.Metric
	_ = h.Write(&m)
	return m.GetHistogram().GetSampleCount()
}
