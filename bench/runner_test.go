package bench

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestRunKeepsTheRate(t *testing.T) {
	target := serve(t, CeilingHandler(CeilingBody("127.0.0.1:1")))
	cfg := testConfig(target)
	cfg.Rate = 500
	cfg.Warmup = 200 * time.Millisecond
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Result
	if r.Scheduled != 500 || r.Sent != 500 || r.Responses != 500 {
		t.Fatalf("scheduled %d sent %d answered %d, want 500 each (warm-up excluded)", r.Scheduled, r.Sent, r.Responses)
	}
	if math.Abs(r.AchievedRate-500) > 25 {
		t.Errorf("achieved %.1f/s, want 500/s", r.AchievedRate)
	}
	if r.Status["200"] != 500 || r.Bids != 500 || r.BidRate != 1 || math.Abs(r.MeanPrice-1.25) > 1e-9 {
		t.Errorf("status %v bids %d bid rate %g mean price %g", r.Status, r.Bids, r.BidRate, r.MeanPrice)
	}
}

// A server that takes 20 ms per request on 2 connections serves 100/s. At
// 200/s the open loop keeps sending on schedule, so requests queue and the
// latency from the scheduled time grows far beyond the 20 ms service time.
// A closed-loop tool would report about 20 ms here (coordinated omission).
func TestLatencyIncludesQueueing(t *testing.T) {
	target := serve(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(20 * time.Millisecond)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	})
	cfg := testConfig(target)
	cfg.Conns = 2
	cfg.Timeout = 5 * time.Second
	start := time.Now()
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Result
	if r.Scheduled != 200 || r.Responses != 200 {
		t.Fatalf("scheduled %d answered %d, want 200", r.Scheduled, r.Responses)
	}
	if r.Service.P50 < 19 || r.Service.P50 > 150 {
		t.Errorf("service p50 %.1fms, want about 20ms", r.Service.P50)
	}
	// The last request was scheduled at ~1 s but the server only gets to it at ~2 s.
	if r.Latency.Max < 600 {
		t.Errorf("latency max %.1fms: queueing behind busy connections is not counted", r.Latency.Max)
	}
	if r.Latency.P90 < 5*r.Service.P50 {
		t.Errorf("latency p90 %.1fms vs service p50 %.1fms: want latency measured from the scheduled time", r.Latency.P90, r.Service.P50)
	}
	if r.NoBids != 200 || r.NoBidReasons["204"] != 200 {
		t.Errorf("no-bids %d reasons %v, want 200 bare 204s", r.NoBids, r.NoBidReasons)
	}
	if el := time.Since(start); el < 1800*time.Millisecond {
		t.Errorf("run took %s: the queued requests must all be served", el)
	}
}

func TestRequestsBoundAndTimeouts(t *testing.T) {
	target := serve(t, func(ctx *fasthttp.RequestCtx) {
		if ctx.Request.Header.Peek("x-openrtb-version") == nil {
			ctx.SetStatusCode(400)
			return
		}
		time.Sleep(30 * time.Millisecond)
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetBodyString(`{"id":"x","nbr":502}`)
	})
	cfg := testConfig(target)
	cfg.Requests = 100
	cfg.Duration = 0
	cfg.Timeout = 10 * time.Millisecond
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Result
	if r.Scheduled != 100 {
		t.Fatalf("scheduled %d, want 100", r.Scheduled)
	}
	if r.Timeouts < 90 {
		t.Errorf("timeouts %d of 100, want nearly all (server takes 30ms, timeout 10ms)", r.Timeouts)
	}
}

func TestNoBidReasonsFromNBR(t *testing.T) {
	target := serve(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString(`{"id":"x","seatbid":[],"nbr":502}`)
	})
	cfg := testConfig(target)
	cfg.Rate = 100
	cfg.Duration = 500 * time.Millisecond
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Result.NoBidReasons["nbr=502 pool exhausted"]; got != 50 {
		t.Errorf("no-bid reasons %v, want 50 × nbr=502", rep.Result.NoBidReasons)
	}
}

func TestUniqueIDsPerSend(t *testing.T) {
	ids := make(chan string, 1000)
	target := serve(t, func(ctx *fasthttp.RequestCtx) {
		b := ctx.PostBody()
		i := strings.Index(string(b), `"id":"bench-`)
		if i >= 0 {
			ids <- string(b[i+6 : i+6+22])
		}
		ctx.SetStatusCode(204)
	})
	cfg := testConfig(target)
	cfg.Pool = 3
	cfg.Rate = 100
	cfg.Duration = 300 * time.Millisecond
	if _, err := Run(context.Background(), cfg, nil); err != nil {
		t.Fatal(err)
	}
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %s sent twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 30 {
		t.Errorf("%d distinct ids, want 30", len(seen))
	}
}

func TestInterruptKeepsReport(t *testing.T) {
	target := serve(t, CeilingHandler(CeilingBody("127.0.0.1:1")))
	cfg := testConfig(target)
	cfg.Duration = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("run did not stop on cancel")
	}
	if !rep.Interrupted || rep.Result.Responses < 50 || rep.Result.Responses > 150 {
		t.Errorf("interrupted %v responses %d, want true and about 100", rep.Interrupted, rep.Result.Responses)
	}
	if math.Abs(rep.Result.AchievedRate-200) > 40 {
		t.Errorf("achieved %.0f/s over the part that ran, want about 200", rep.Result.AchievedRate)
	}
}

func TestUnreachableTarget(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1")
	_, err := Run(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "not reachable") {
		t.Fatalf("err = %v, want not reachable", err)
	}
}

func TestFindMaxStopsAtSaturation(t *testing.T) {
	// One connection to a 10 ms server: about 100/s at most.
	target := serve(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(10 * time.Millisecond)
		ctx.SetStatusCode(204)
	})
	cfg := testConfig(target)
	cfg.Conns = 1
	cfg.Duration = 0
	cfg.Warmup = 100 * time.Millisecond
	cfg.FindMax = FindMaxConfig{Enabled: true, Start: 50, Step: 50, Limit: 400, StepDuration: 300 * time.Millisecond,
		P99: 50 * time.Millisecond, MaxErrorRate: 0.01, MinAchieved: 0.9, Retries: 2}
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.MaxRate < 40 || rep.MaxRate > 120 {
		t.Errorf("max sustained %.0f/s, want 40..120 for a 100/s server", rep.MaxRate)
	}
	last := rep.Steps[len(rep.Steps)-1]
	if last.Passed || last.Why == "" {
		t.Errorf("last step %+v should fail with a reason", last)
	}
}

func TestFindMaxWithCeiling(t *testing.T) {
	slow := serve(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(10 * time.Millisecond)
		ctx.SetStatusCode(204)
	})
	ceiling := serve(t, CeilingHandler(CeilingBody("127.0.0.1:1")))
	cfg := testConfig(slow)
	cfg.Conns = 1
	cfg.Duration = 0
	cfg.Warmup = 100 * time.Millisecond
	cfg.Ceiling = ceiling
	cfg.FindMax = FindMaxConfig{Enabled: true, Start: 50, Step: 100, Limit: 250, StepDuration: 300 * time.Millisecond,
		P99: 50 * time.Millisecond, MaxErrorRate: 0.01, MinAchieved: 0.9, Retries: 1}
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Ceiling
	if c == nil || c.MaxRate != 250 || rep.MaxRate != 50 {
		t.Fatalf("ceiling %+v, target max %.0f: want ceiling 250 and target 50", c, rep.MaxRate)
	}
	if c.BenchHeadroom != 5 || math.Abs(c.ShareOfCeiling-50.0/250) > 1e-9 {
		t.Errorf("headroom %.2f share %.3f", c.BenchHeadroom, c.ShareOfCeiling)
	}
}
