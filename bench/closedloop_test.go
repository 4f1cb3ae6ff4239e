package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// fakeBidder bids 2.50 on every request with notice URLs and a tel: number,
// and plays /v1/calls and /admin/pools, recording what the bench sent.
type fakeBidder struct {
	mu                sync.Mutex
	wins, bills, loss []*fasthttp.Args
	calls             []map[string]string
	auth              []string
}

func (f *fakeBidder) handle(ctx *fasthttp.RequestCtx) {
	host := string(ctx.Host())
	switch string(ctx.Path()) {
	case "/openrtb2/bid":
		id := fastjson.GetString(ctx.PostBody(), "id")
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"id":"` + id + `","bidid":"r1","cur":"USD","seatbid":[{"seat":"callbid","bid":[{"id":"b1","impid":"1","price":2.5,` +
			`"nurl":"http://` + host + `/win?p=${AUCTION_PRICE}&a=${AUCTION_ID}&mbr=${AUCTION_MBR}",` +
			`"burl":"http://` + host + `/bill?p=${AUCTION_PRICE}",` +
			`"lurl":"http://` + host + `/loss?p=${AUCTION_PRICE}&r=${AUCTION_LOSS}",` +
			`"adm":"<a href=\"tel:+18005550123;ext=42\">+1 800 555 0123 ext 42</a>","crid":"c","cid":"c","adomain":["a.com"]}]}]}`)
	case "/win", "/bill", "/loss":
		var a fasthttp.Args
		ctx.QueryArgs().CopyTo(&a)
		f.mu.Lock()
		switch string(ctx.Path()) {
		case "/win":
			f.wins = append(f.wins, &a)
		case "/bill":
			f.bills = append(f.bills, &a)
		default:
			f.loss = append(f.loss, &a)
		}
		f.mu.Unlock()
		ctx.SetStatusCode(204)
	case "/v1/calls":
		var m map[string]string
		if err := json.Unmarshal(ctx.PostBody(), &m); err != nil {
			ctx.SetStatusCode(400)
			return
		}
		f.mu.Lock()
		f.calls = append(f.calls, m)
		f.auth = append(f.auth, string(ctx.Request.Header.Peek("Authorization")))
		f.mu.Unlock()
		ctx.SetBodyString(`{"accept":true,"reason":"","match":"exact","attribution":{"campaign_id":"c1"}}`)
	case "/admin/pools":
		ctx.SetBodyString(`{"pools":[{"id":"a","size":100,"free":60,"utilization":0.4},{"id":"b","size":50,"free":10,"utilization":0.8}],"collisions":3}`)
	default:
		ctx.SetStatusCode(404)
	}
}

func closedLoopRun(t *testing.T) (*Report, *fakeBidder) {
	t.Helper()
	fb := &fakeBidder{}
	target := serve(t, fb.handle)
	cfg := testConfig(target)
	cfg.Rate = 100
	cfg.Admin = target
	cfg.AdminEvery = 200 * time.Millisecond
	cl := &cfg.ClosedLoop
	cl.Enabled = true
	cl.WinRate, cl.BillRate, cl.CallRate, cl.LateWinShare, cl.RepeatCallers = 0.5, 1, 1, 0, 0.2
	cl.NoticeDelay, cl.CallDelay, cl.Drain = 20*time.Millisecond, 50*time.Millisecond, 3*time.Second
	cl.CallsToken = "tok"
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep, fb
}

func TestClosedLoopNoticesAndCalls(t *testing.T) {
	rep, fb := closedLoopRun(t)
	t.Run("reports", func(t *testing.T) { checkReports(t, rep) })
	l := rep.ClosedLoop
	if l.Bids != 100 || l.Wins+l.Losses != 100 || l.Wins < 30 || l.Wins > 70 {
		t.Fatalf("bids %d wins %d losses %d, want 100 bids, about half won", l.Bids, l.Wins, l.Losses)
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if int64(len(fb.wins)) != l.Wins || int64(len(fb.bills)) != l.Wins || int64(len(fb.loss)) != l.Losses {
		t.Fatalf("received %d nurl %d burl %d lurl, want %d %d %d", len(fb.wins), len(fb.bills), len(fb.loss), l.Wins, l.Wins, l.Losses)
	}
	for _, a := range fb.wins {
		p, err := strconv.ParseFloat(string(a.Peek("p")), 64)
		if err != nil || p <= 0 || p > 2.5 {
			t.Fatalf("nurl price %q: want a clearing price in (0, 2.5]", a.Peek("p"))
		}
		if !strings.HasPrefix(string(a.Peek("a")), "bench-") || len(a.Peek("mbr")) == 0 {
			t.Fatalf("nurl auction id %q mbr %q: macros not filled", a.Peek("a"), a.Peek("mbr"))
		}
	}
	for _, a := range fb.loss {
		if string(a.Peek("r")) != "102" {
			t.Fatalf("lurl loss %q, want 102", a.Peek("r"))
		}
	}
	if int64(len(fb.calls)) != l.Wins || l.Calls.Placed != l.Wins {
		t.Fatalf("calls received %d placed %d, want one per billed win (%d)", len(fb.calls), l.Calls.Placed, l.Wins)
	}
	anis := map[string]bool{}
	for i, c := range fb.calls {
		if c["dnis"] != "+18005550123" || c["ext"] != "42" || !strings.HasPrefix(c["ani"], "+1") || c["call_id"] == "" {
			t.Fatalf("call %v: want the number from adm and a caller", c)
		}
		if _, err := time.Parse(time.RFC3339, c["started_at"]); err != nil {
			t.Fatalf("started_at %q: %v", c["started_at"], err)
		}
		if fb.auth[i] != "Bearer tok" {
			t.Fatalf("Authorization %q", fb.auth[i])
		}
		anis[c["ani"]] = true
	}
	if l.Calls.Match["exact"] != l.Calls.Placed || l.Calls.Accepted != l.Calls.Placed || l.Calls.Unattributed != 0 {
		t.Errorf("calls report %+v", l.Calls)
	}
	if l.Calls.Repeat == 0 || len(anis) >= len(fb.calls) {
		t.Errorf("repeat callers %d, distinct ANIs %d of %d calls: want some repeats", l.Calls.Repeat, len(anis), len(fb.calls))
	}
	if l.DistinctNumbers != 1 || l.ReusedNumbers != 99 {
		t.Errorf("numbers distinct %d reused %d", l.DistinctNumbers, l.ReusedNumbers)
	}
	a := rep.Admin
	if a == nil || a.Polls < 3 || a.Errors != 0 || a.Totals["size"] != 150 || a.Totals["free"] != 70 || a.Totals["utilization"] != 0.8 {
		t.Errorf("admin report %+v", a)
	}
}

// checkReports writes the three reports of a closed-loop run and reads them.
func checkReports(t *testing.T, rep *Report) {
	var j bytes.Buffer
	if err := rep.WriteJSON(&j); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(j.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not decode: %v", err)
	}
	if back.Result == nil || back.Result.Latency.P99 <= 0 || back.Result.Responses != 100 || back.ClosedLoop == nil || back.Admin == nil ||
		len(back.Result.Series) == 0 || len(back.Result.Distribution) == 0 {
		t.Errorf("JSON report misses parts: %s", j.String()[:min(j.Len(), 400)])
	}
	if back.Config.ClosedLoop.CallsToken != "" {
		t.Errorf("the calls token leaked into the JSON report")
	}
	var h bytes.Buffer
	if err := rep.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	page := h.String()
	if n := strings.Count(page, "<svg"); n < 4 {
		t.Errorf("%d charts, want latency over time, throughput, distribution and utilization", n)
	}
	for _, bad := range []string{"<script", "src=", "<link"} {
		if strings.Contains(page, bad) {
			t.Errorf("HTML report is not self-contained: has %q", bad)
		}
	}
	var txt bytes.Buffer
	if err := rep.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"p99.9", "achieved", "closed loop", "number pools", "match exact"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, txt.String())
		}
	}
}
