package bench

import (
	"bufio"
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestAllowRemote(t *testing.T) {
	for _, c := range []struct {
		target string
		allow  bool
		want   string // "" = valid
	}{
		{"https://bid.example.com", false, "add -allow-remote"},
		{"http://192.0.2.7:8080", false, "add -allow-remote"},
		{"https://bid.example.com", true, ""},
		{"http://192.0.2.7:8080", true, ""},
		{"ftp://bid.example.com", true, "is not an http(s)"},
		{"http://127.0.0.1:8080", false, ""},
	} {
		cfg := DefaultConfig()
		cfg.Target, cfg.AllowRemote = c.target, c.allow
		err := cfg.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("target %s allow %v: %v, want %q", c.target, c.allow, err, c.want)
		}
	}
}

func TestHTTPSTargetUsesTLS(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Target, cfg.AllowRemote = "https://bid.example.com", true
	e, err := newEngine(cfg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !e.hc.IsTLS || e.hc.Addr != "bid.example.com:443" {
		t.Errorf("https target: IsTLS %v addr %q", e.hc.IsTLS, e.hc.Addr)
	}
}

func TestCheckLimits(t *testing.T) {
	x := &Result{Scheduled: 1000, Errors: 3, Timeouts: 2, Latency: Latency{P99: 12.5}}
	for _, c := range []struct {
		l    LimitsConfig
		want []string
	}{
		{LimitsConfig{MaxErrorRate: -1}, nil},
		{LimitsConfig{P99: 20 * time.Millisecond, MaxErrorRate: 0.01}, nil},
		{LimitsConfig{P99: 10 * time.Millisecond, MaxErrorRate: -1}, []string{"p99 12.500ms is over -max-p99 10ms"}},
		{LimitsConfig{MaxErrorRate: 0.001}, []string{"errors+timeouts 0.500% (5 of 1000) are over -max-error-rate 0.100%"}},
		{LimitsConfig{MaxErrorRate: 0}, []string{"errors+timeouts 0.500%"}},
	} {
		got := CheckLimits(c.l, x)
		if len(got) != len(c.want) {
			t.Errorf("%+v: %q, want %q", c.l, got, c.want)
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], c.want[i]) {
				t.Errorf("%+v: %q, want %q", c.l, got[i], c.want[i])
			}
		}
	}
}

// TestOnly204sHintAndP95: a bidder answering nothing but 204 gets a hint
// that it may be the set-up; the report has p95 and the .hgrm export.
func TestOnly204sHintAndP95(t *testing.T) {
	target := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusNoContent) })
	cfg := testConfig(target)
	cfg.Requests, cfg.Duration, cfg.Rate = 40, 0, 1000
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Hints) != 1 || !strings.Contains(rep.Hints[0], "pass -exchange") {
		t.Fatalf("hints %q", rep.Hints)
	}
	var txt bytes.Buffer
	_ = rep.WriteText(&txt)
	for _, want := range []string{"hint: every answer was a bare 204", " p95 "} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, txt.String())
		}
	}
	l := rep.Result.Latency
	if !(l.P90 <= l.P95 && l.P95 <= l.P99) || l.P95 == 0 {
		t.Errorf("p90 %v p95 %v p99 %v", l.P90, l.P95, l.P99)
	}

	// The .hgrm file: HdrHistogram's percentile distribution, values in ms,
	// ending at percentile 1 with the total count.
	var h bytes.Buffer
	if err := rep.WriteHgrm(&h); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&h)
	var header string
	var last []string
	rows := 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case header == "":
			header = strings.Join(strings.Fields(line), " ")
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			last = strings.Fields(line)
			rows++
		}
	}
	if header != "Value Percentile TotalCount 1/(1-Percentile)" || rows < 2 || len(last) < 3 {
		t.Fatalf("hgrm header %q, %d rows, last %q:\n%s", header, rows, last, h.String())
	}
	pct, _ := strconv.ParseFloat(last[1], 64)
	count, _ := strconv.Atoi(last[2])
	maxMs, _ := strconv.ParseFloat(last[0], 64)
	if pct != 1 || count != 40 || maxMs <= 0 || maxMs > rep.Result.Latency.Max+0.01 {
		t.Errorf("last hgrm row %q: want percentile 1, count 40, max %.3f ms", last, rep.Result.Latency.Max)
	}

	// With -exchange given, the hint says that exchange is not an nbr one.
	if h := hints(Config{BidPath: "/openrtb2/bid?exchange=x"}, rep.Result); len(h) != 1 || !strings.Contains(h[0], "not one of them") {
		t.Errorf("hint with -exchange: %q", h)
	}
	// Bids or nbr bodies: no hint.
	x := *rep.Result
	x.NoBidReasons = map[string]int64{"204": 10, "nbr=500 no agent headroom": 30}
	if h := hints(cfg, &x); len(h) != 0 {
		t.Errorf("hint with nbr answers: %q", h)
	}
}

func TestHTMLAnswersPerSecond(t *testing.T) {
	rep := &Report{Mode: "run", Result: &Result{Series: []Point{
		{T: 1, Bids: 40, NoBids: 60, NoBidReasons: map[string]int64{"nbr=500 no agent headroom": 50, "204": 10}, Errors: 1},
		{T: 2, Bids: 45, NoBids: 55, NoBidReasons: map[string]int64{"nbr=1 technical": 55}, Timeouts: 3},
	}}}
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"Answers over time", ">bids<", "no-bid nbr=500<", "no-bid nbr=1<",
		"no-bid 204", ">errors<", ">timeouts<"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	series := outcomeSeries(rep.Result.Series)
	for _, s := range series {
		if s.name == "no-bid nbr=500" && (s.y[0] != 50 || s.y[1] != 0) {
			t.Errorf("nbr=500 per second %v, want [50 0]", s.y)
		}
		if s.name == "timeouts" && s.y[1] != 3 {
			t.Errorf("timeouts per second %v", s.y)
		}
	}
}

// TestPerSecondReasons: the collector splits each second's no-bids by reason.
func TestPerSecondReasons(t *testing.T) {
	target := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{"id":"x","nbr":503}`) })
	cfg := testConfig(target)
	// 30 requests at 200/s are scheduled over 150 ms: more than the 100 ms a
	// last partial second needs to be collected.
	cfg.Requests, cfg.Duration, cfg.Rate = 30, 0, 200
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range rep.Result.Series {
		n += p.NoBidReasons["nbr=503 below floor"]
	}
	if n != 30 {
		t.Errorf("per-second nbr=503 sum %d, want 30 (series %+v)", n, rep.Result.Series)
	}
}

// TestTargetCPUPerAnswer: the report states the target's CPU per answer, the
// figure that stays meaningful on a shared machine.
func TestTargetCPUPerAnswer(t *testing.T) {
	if got := cpuPerAnswer(0.5, 25000); got != 20 {
		t.Errorf("0.5 cores at 25,000 answers/s: %v µs, want 20", got)
	}
	if got := cpuPerAnswer(-1, 25000); got != 0 {
		t.Errorf("unknown CPU: %v, want 0", got)
	}
	if got := cpuPerAnswer(0.5, 0); got != 0 {
		t.Errorf("no answers: %v, want 0", got)
	}
	var txt bytes.Buffer
	writeResult(&txt, &Result{TargetCPU: 0.5, TargetCPUPerAnswer: 20})
	if !strings.Contains(txt.String(), "target 0.50 cores (20.0 µs per answer)") {
		t.Errorf("text report:\n%s", txt.String())
	}
}
