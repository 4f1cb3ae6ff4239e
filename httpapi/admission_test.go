package httpapi

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/bidder"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

func TestRawRequestID(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{`{"id":"req-1","imp":[]}`, `"req-1"`, true},
		{` { "tmax" : 120, "imp":[{"id":"1","x":{"id":"no"}}], "site":{"id":"s","k":"a\"}"}, "id" : "r\"2" }`, `"r\"2"`, true},
		{`{"imp":[{"id":"1"}],"arr":[1,2,[3]],"b":true,"n":null,"id":"x"}`, `"x"`, true},
		{`{"imp":[{"id":"1"}]}`, ``, false},
		{`{"id":12}`, ``, false},
		{`{"id":"unterminated`, ``, false},
		{`[{"id":"x"}]`, ``, false},
		{``, ``, false},
		{`{"a":"b"`, ``, false},
	} {
		got, ok := rawRequestID([]byte(c.in))
		if ok != c.ok || string(got) != c.want {
			t.Errorf("rawRequestID(%s) = %s, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestScanTMax(t *testing.T) {
	for in, want := range map[string]int64{
		`{"id":"x","tmax":120}`:   120,
		`{"id":"x","tmax" : 80,}`: 80,
		`{"id":"x"}`:              -1,
		`{"tmax":1.5}`:            -1,
		`{"tmax":"100"}`:          -1,
		`{"tmax":99999999999}`:    -1,
		`{"tmax":0}`:              0,
	} {
		if got := scanTMax([]byte(in)); got != want {
			t.Errorf("scanTMax(%s) = %d, want %d", in, got, want)
		}
	}
}

func TestAdmit(t *testing.T) {
	srv := bidder.ServerConfig{MaxDeadline: 50 * time.Millisecond, MaxQueueDelay: 2 * time.Millisecond, MaxInFlight: 4}
	ex := bidder.ExchangeTerms{Allowance: 20 * time.Millisecond, DefaultTMax: 100 * time.Millisecond}
	body := []byte(`{"id":"a","tmax":30}`) // 30 - 20 = 10ms to answer
	for _, c := range []struct {
		name    string
		n       int64
		waited  time.Duration
		sat     bool
		body    []byte
		gzipped bool
		srv     bidder.ServerConfig
		want    shedReason
		ok      bool
	}{
		{"fresh", 1, 0, true, body, false, srv, 0, true},
		{"short wait", 4, time.Millisecond, true, body, false, srv, 0, true},
		{"queued past max_queue_delay, saturated", 1, 3 * time.Millisecond, true, body, false, srv, shedQueue, false},
		{"queued past max_queue_delay, a burst", 1, 3 * time.Millisecond, false, body, false, srv, 0, true},
		{"queued past its tmax", 1, 10 * time.Millisecond, false, body, false, srv, shedExpired, false},
		{"no tmax: bounded by max_deadline", 1, 50 * time.Millisecond, false, []byte(`{"id":"a"}`), false, srv, shedExpired, false},
		{"gzipped: max_deadline bounds", 1, 49 * time.Millisecond, true, body, true, withQueue(srv, -1), 0, true},
		{"gzipped past max_deadline", 1, 50 * time.Millisecond, false, body, true, srv, shedExpired, false},
		{"queue shedding off", 1, 9 * time.Millisecond, true, body, false, withQueue(srv, -1), 0, true},
		{"over max_in_flight", 5, 0, false, body, false, srv, shedInFlight, false},
	} {
		r, ok := admit(c.n, c.waited, c.sat, c.body, c.gzipped, &c.srv, ex)
		if ok != c.ok || (!ok && r != c.want) {
			t.Errorf("%s: admit = %s, %v; want %s, %v", c.name, shedReasonNames[r], ok, shedReasonNames[c.want], c.ok)
		}
	}
	// Under expiryScanFrom the body is not scanned for tmax: 0.5 ms to
	// answer, waited 0.9 ms, and decoded all the same (the decision no-bids
	// it as late); from expiryScanFrom on it is shed.
	tight := bidder.ExchangeTerms{Allowance: 20*time.Millisecond + 500*time.Microsecond, DefaultTMax: 100 * time.Millisecond}
	tmax21 := []byte(`{"id":"a","tmax":21}`)
	if r, ok := admit(1, 900*time.Microsecond, false, tmax21, false, &srv, tight); !ok {
		t.Errorf("waited 0.9 ms: shed (%s), want decoded", shedReasonNames[r])
	}
	if r, ok := admit(1, expiryScanFrom, false, tmax21, false, &srv, tight); ok || r != shedExpired {
		t.Errorf("waited %v past 0.5 ms to answer: admit = %s, %v; want expired", expiryScanFrom, shedReasonNames[r], ok)
	}
}

// TestQueueGate: queue shedding engages after an interval in which most
// requests waited over the limit (a standing queue), not for a burst, and
// disengages once almost none do. The clock is injected.
func TestQueueGate(t *testing.T) {
	const limit = time.Millisecond
	var logs bytes.Buffer
	a := admission{log: zerolog.New(&logs)}
	now := time.Unix(1_800_000_000, 0).UnixNano()
	// interval feeds n requests, over of them past the limit, during one
	// interval, and returns what the first request of the next one sees.
	interval := func(n, over int) bool {
		for i := 0; i < n; i++ {
			w := 100 * time.Microsecond
			if i < over {
				w = 3 * time.Millisecond
			}
			a.observe(now+int64(i), w, limit)
		}
		now += int64(gateInterval)
		return a.observe(now, 0, limit)
	}
	a.observe(now, 0, limit) // opens the first interval
	for i, c := range []struct {
		n, over int
		want    bool
	}{
		{1000, 30, false},  // a pause delayed 3%: not saturated
		{1000, 400, false}, // a long burst: still not
		{1000, 600, true},  // most waited: a standing queue
		{1000, 100, true},  // shedding keeps the queue short: stays on
		{1000, 40, false},  // almost none wait: off
		{0, 0, false},      // an idle interval
		{1, 1, false},      // a lone request kept off the CPU: no queue
		{18, 18, false},    // 19 with the previous probe: too few to queue behind each other
		{20, 20, true},     // enough to show one
		{1000, 10, false},  // off again
	} {
		if got := interval(c.n, c.over); got != c.want {
			t.Errorf("interval %d (%d of %d over): saturated %v, want %v", i, c.over, c.n, got, c.want)
		}
	}
	if n := strings.Count(logs.String(), "bid requests are queueing"); n != 1 { // at most one a minute
		t.Errorf("%d saturation warnings, want 1:\n%s", n, logs.String())
	}
}

func withQueue(s bidder.ServerConfig, d time.Duration) bidder.ServerConfig {
	s.MaxQueueDelay = d
	return s
}

// TestShedAnswers: the overflow gets the cheapest correct no-bid at once,
// before decoding: 204, or {"id","nbr"} for nbr exchanges; the connection
// stays open and the shed is counted by reason.
func TestShedAnswers(t *testing.T) {
	r, b := bidSetup(t, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
	body, err := os.ReadFile(testdata + "requests/2.6/simple-banner.json")
	if err != nil {
		t.Fatal(err)
	}
	limit := b.Begin(nil).Server().MaxInFlight
	adm := r.adm
	serve := func(uri string, body []byte, hdr ...string) *fasthttp.RequestCtx {
		var req fasthttp.Request
		req.Header.SetMethod("POST")
		req.SetRequestURI(uri)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		req.SetBody(body)
		ctx := &fasthttp.RequestCtx{}
		ctx.Init(&req, nil, nil)
		r.serve(ctx)
		return ctx
	}
	// Under the limit: a bid.
	if ctx := serve("/openrtb2/bid", body); ctx.Response.StatusCode() != 200 {
		t.Fatalf("admitted: %d", ctx.Response.StatusCode())
	}
	adm.inFlight.Store(int64(limit)) // as if max_in_flight requests were being handled
	ctx := serve("/openrtb2/bid", body)
	if ctx.Response.StatusCode() != 204 || len(ctx.Response.Body()) != 0 || ctx.Response.ConnectionClose() {
		t.Fatalf("shed, plain exchange: %d %q close=%v", ctx.Response.StatusCode(), ctx.Response.Body(), ctx.Response.ConnectionClose())
	}
	ctx = serve("/openrtb2/bid?exchange=nbrx", []byte(`{"id":"r\"1","imp":[{"id":"1"}]}`))
	if ctx.Response.StatusCode() != 200 || string(ctx.Response.Body()) != `{"id":"r\"1","nbr":1}` ||
		string(ctx.Response.Header.ContentType()) != "application/json" {
		t.Fatalf("shed, nbr exchange: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	// Not decoded: a malformed body is shed, not refused with 400.
	if ctx = serve("/openrtb2/bid", []byte(`{"id":`)); ctx.Response.StatusCode() != 204 {
		t.Fatalf("shed before decoding: %d", ctx.Response.StatusCode())
	}
	// A gzipped body for an nbr exchange gets 204 (its id is not read).
	if ctx = serve("/openrtb2/bid?exchange=nbrx", gz(body), "Content-Encoding", "gzip"); ctx.Response.StatusCode() != 204 {
		t.Fatalf("shed gzip nbr: %d", ctx.Response.StatusCode())
	}
	if got := counterValue(r.srv.shed[shedInFlight]); got != 4 {
		t.Errorf("shed in_flight counted %v, want 4", got)
	}
	if adm.inFlight.Load() != int64(limit) {
		t.Errorf("in-flight count leaked: %d", adm.inFlight.Load())
	}
	// Only the first request was decided (the latency histogram counts those).
	if got, bad := histogramCount(r.m.latency), counterValue(r.m.bad[badMalformed]); got != 1 || bad != 0 {
		t.Errorf("shed requests counted as decided or bad: %d decided, %v bad", got, bad)
	}
}

// BenchmarkShed: the overload answer for the same 1.75 KB request as
// BenchmarkBid, plain and with the nbr body (no network).
func BenchmarkShed(b *testing.B) {
	for _, uri := range []string{"/openrtb2/bid?exchange=default", "/openrtb2/bid?exchange=nbrx"} {
		b.Run(uri[len("/openrtb2/bid?exchange="):], func(b *testing.B) {
			r, bd := bidSetup(b, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
			r.adm.inFlight.Store(int64(bd.Begin(nil).Server().MaxInFlight))
			ctx := newBidCtx(readBody(b, testdata+"requests/own/realistic-2kb.json"), uri)
			b.ReportAllocs()
			for b.Loop() {
				runBid(r, ctx)
			}
			if st := ctx.Response.StatusCode(); st != 204 && st != 200 {
				b.Fatalf("status %d", st)
			}
		})
	}
}
