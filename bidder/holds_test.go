package bidder

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/numbers"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// bidRequest is a site request from pub-1 with n 300x250 banner imps, which
// every campaign of baseConfig bids on.
func bidRequest(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"id":"r","tmax":500,"imp":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"id":"` + strconv.Itoa(i+1) + `","banner":{"w":300,"h":250}}`)
	}
	sb.WriteString(`],"site":{"id":"site-1","domain":"news.example","cat":["IAB12"],"publisher":{"id":"pub-1"}},` +
		`"device":{"ip":"203.0.113.9","devicetype":2,"geo":{"country":"USA","region":"CA"}}}`)
	return []byte(sb.String())
}

// serveFrom runs one bid request from the client address ip.
func serveFrom(h fasthttp.RequestHandler, ip, uri string, body []byte) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}, nil)
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI(uri)
	ctx.Request.SetBody(body)
	h(ctx)
	return ctx
}

// holdPools builds real pools of size entries each (hold 15 s).
func holdPools(t testing.TB, size int) *numbers.Pools {
	t.Helper()
	var cfg numbers.Config
	for i, id := range []string{"pool-mortgage", "pool-auto", "pool-legal"} {
		cfg.Pools = append(cfg.Pools, numbers.PoolConfig{ID: id, Hold: 15 * time.Second,
			Extensions: []numbers.ExtensionRange{{Number: "+1800555" + strconv.Itoa(2000+i), From: 1, To: size}}})
	}
	p, err := numbers.New(cfg, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func holdEnv(t *testing.T, cfg Config, pools *numbers.Pools, now *time.Time) *Bidder {
	t.Helper()
	b, err := New(cfg, Deps{Reserver: pools, Now: func() time.Time { return *now }}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMaxBidsPerRequest: a 256-imp request gets at most
// server.max_bids_per_request bids, so it reserves at most that many numbers.
func TestMaxBidsPerRequest(t *testing.T) {
	now := testNow
	pools := holdPools(t, 1000)
	b := holdEnv(t, baseConfig(), pools, &now)
	ctx := serveFrom(b.Handler(nil), "198.51.100.7", "/openrtb2/bid?exchange=exA", bidRequest(256))
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("status %d", ctx.Response.StatusCode())
	}
	if n := strings.Count(string(ctx.Response.Body()), `"impid"`); n != defaultMaxBidsPerRequest {
		t.Fatalf("%d bids, want %d", n, defaultMaxBidsPerRequest)
	}
	held := 0
	for _, p := range pools.Stats().Pools {
		held += p.Held
	}
	if held != defaultMaxBidsPerRequest || counterValue(b.m.impsCapped) != 256-defaultMaxBidsPerRequest {
		t.Fatalf("held %d numbers, capped %v imps", held, counterValue(b.m.impsCapped))
	}
}

// TestHoldBudgetFlood is the pool exhaustion: one client floods
// 256-imp requests (the per-request cap raised to 256 so only the hold
// budget stands in its way) for four hold periods. At every moment it holds
// at most server.hold_budget.client_share of each pool, and a legitimate
// exchange from another address gets a number for every request.
func TestHoldBudgetFlood(t *testing.T) {
	// An invented name: it shares the budget of all unconfigured names.
	t.Run("own exchange name", func(t *testing.T) { testHoldBudgetFlood(t, "flood", unconfiguredBudget) })
	// Naming the victim's exchange spends at most the flood's client share of
	// that exchange's budget: the rest is left for the exchange's real traffic.
	t.Run("victim's exchange name", func(t *testing.T) { testHoldBudgetFlood(t, "legit", "legit") })
}

func testHoldBudgetFlood(t *testing.T, floodEx, floodBudget string) {
	const size = 1000
	cfg := baseConfig()
	cfg.Exchanges = map[string]ExchangeConfig{"legit": {}}
	cfg.Server.MaxBidsPerRequest = 256
	now := testNow
	pools := holdPools(t, size)
	b := holdEnv(t, cfg, pools, &now)
	h := b.Handler(nil)
	flood, legit := bidRequest(256), bidRequest(1)
	const hold = 15 * time.Second
	budget := int(defaultClientShare * size)

	var legitAt []time.Time // legitimate reservations (they hold mortgage numbers)
	var peak [3]int
	for step := 0; step < 4*15*10; step++ { // 100 ms steps for 60 s
		for range 5 { // 50 flood requests a second
			serveFrom(h, "198.51.100.7", "/openrtb2/bid?exchange="+floodEx, flood)
		}
		ctx := serveFrom(h, "192.0.2.10", "/openrtb2/bid?exchange=legit", legit)
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("t=%v: the legitimate exchange got %d, not a bid", now.Sub(testNow), ctx.Response.StatusCode())
		}
		legitAt = append(legitAt, now)
		legitHeld := 0
		for _, at := range legitAt {
			if at.Add(hold).After(now) {
				legitHeld++
			}
		}
		// Holds expire lazily, when a reservation meets them or on the
		// pool's sweep tick (Run, not running here): sweep first, so Held
		// counts live holds only, as legitHeld does.
		pools.Sweep(now)
		for i, p := range pools.Stats().Pools {
			floodHeld := p.Held
			if i == 0 {
				floodHeld -= legitHeld // legit bids go to mortgage, the best price
			}
			peak[i] = max(peak[i], floodHeld)
			if floodHeld > budget {
				t.Fatalf("t=%v: the flooding client holds %d of %s's %d numbers, budget %d",
					now.Sub(testNow), floodHeld, p.ID, size, budget)
			}
		}
		now = now.Add(100 * time.Millisecond)
	}
	t.Logf("peak numbers held by the flood per pool %v (pool size %d, budget %d); legit bids %d/%d", peak, size, budget,
		len(legitAt), len(legitAt))
	// It did take its share (the budget is not simply refusing everything),
	// and the refusals are counted under its exchange.
	st := pools.Stats()
	if refused := counterValue(b.holds.counters(floodEx).refused[0]); st.Pools[1].Held < budget*3/4 || refused == 0 {
		t.Fatalf("flood held %d of pool-auto, refused %v", st.Pools[1].Held, refused)
	}
	r := b.Holds()
	if len(r.Clients) == 0 || r.Clients[0].Source != "198.51.100.7" || r.Clients[0].Refused == 0 {
		t.Fatalf("top client %+v", r.Clients)
	}
	var sawFlood, sawLegit bool
	for _, x := range r.Exchanges {
		sawFlood = sawFlood || x.Source == floodBudget && x.Holds > 0
		sawLegit = sawLegit || x.Source == "legit" && x.Holds > 0
	}
	if !sawFlood || !sawLegit {
		t.Fatalf("exchanges %+v", r.Exchanges)
	}
}

// TestHoldBudgetHoldsExpireUnderFlood: holds a flood leaves unwon come back
// at the hold timeout while the flood goes on (numbers.Pools frees expired
// holds on every reservation), so the client gets numbers again after that.
func TestHoldBudgetHoldsExpireUnderFlood(t *testing.T) {
	const size = 200
	cfg := baseConfig()
	cfg.Server.MaxBidsPerRequest = 256
	cfg.Server.HoldBudget = HoldBudgetConfig{ClientShare: 1, ExchangeShare: 1} // only the pool limits
	now := testNow
	pools := holdPools(t, size)
	b := holdEnv(t, cfg, pools, &now)
	h := b.Handler(nil)
	for range 3 {
		serveFrom(h, "198.51.100.7", "/openrtb2/bid?exchange=flood", bidRequest(256))
	}
	for _, p := range pools.Stats().Pools {
		if p.Held != size {
			t.Fatalf("%s: %d held, want the whole pool", p.ID, p.Held)
		}
	}
	if ctx := serveFrom(h, "192.0.2.10", "/openrtb2/bid?exchange=legit", bidRequest(1)); ctx.Response.StatusCode() != 204 {
		t.Fatalf("exhausted pools still bid: %d", ctx.Response.StatusCode())
	}
	now = now.Add(15 * time.Second)
	if ctx := serveFrom(h, "192.0.2.10", "/openrtb2/bid?exchange=legit", bidRequest(1)); ctx.Response.StatusCode() != 200 {
		t.Fatalf("after the hold timeout: %d, want a bid", ctx.Response.StatusCode())
	}
}

// TestHoldParamsBound: the bucket admits at most share × size reservations
// in any window of one hold period.
func TestHoldParamsBound(t *testing.T) {
	for _, c := range []struct {
		share float64
		size  int
	}{{0.5, 1000}, {0.25, 20_000}, {0.5, 10}, {0.1, 3}} {
		p := newHoldParams(c.share, c.size, 15*time.Second)
		var s holdSlot
		var times []int64
		t0 := testNow.UnixNano()
		for ns := int64(0); ns < int64(60*time.Second); ns += int64(7 * time.Millisecond) {
			if s.take(&p, t0+ns) {
				times = append(times, t0+ns)
			}
		}
		limit := int(c.share * float64(c.size))
		if limit < 1 {
			limit = 1
		}
		for i := range times {
			n := 0
			for j := i; j < len(times) && times[j] < times[i]+int64(15*time.Second); j++ {
				n++
			}
			if n > limit {
				t.Fatalf("share %g of %d: %d reservations within one hold, limit %d", c.share, c.size, n, limit)
			}
		}
		if len(times) < limit {
			t.Fatalf("share %g of %d: only %d admitted in 60 s", c.share, c.size, len(times))
		}
	}
}

// TestHoldBudgetNameRotation: inventing a new ?exchange= name per request
// brings no fresh budget: unconfigured names share one, so even a flood from
// many addresses through invented names leaves the configured exchange its
// share.
func TestHoldBudgetNameRotation(t *testing.T) {
	const size = 1000
	cfg := baseConfig()
	cfg.Exchanges = map[string]ExchangeConfig{"legit": {}}
	cfg.Server.MaxBidsPerRequest = 256
	now := testNow
	pools := holdPools(t, size)
	b := holdEnv(t, cfg, pools, &now)
	h := b.Handler(nil)
	for i := range 200 { // 200 addresses, 200 names, at once
		serveFrom(h, "198.51.100."+strconv.Itoa(i%250), "/openrtb2/bid?exchange=x"+strconv.Itoa(i), bidRequest(256))
	}
	for _, p := range pools.Stats().Pools {
		if p.Held > int(defaultExchangeShare*size) {
			t.Fatalf("%s: invented names hold %d of %d, more than one exchange share", p.ID, p.Held, size)
		}
	}
	if ctx := serveFrom(h, "192.0.2.10", "/openrtb2/bid?exchange=legit", bidRequest(1)); ctx.Response.StatusCode() != 200 {
		t.Fatalf("the configured exchange got %d", ctx.Response.StatusCode())
	}
}
