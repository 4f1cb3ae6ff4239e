// Wall-clock assertions on the load generator (achieved rates, latency under
// queueing, find-max against a server of known speed). They are not part of
// the default test run, where a shared machine makes them flaky; run them with
//
//	go test -tags timing -count=1 ./capacity ./bench ./

//go:build timing

package bench

import (
	"context"
	"math"
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
	if r := rep.Result; math.Abs(r.AchievedRate-500) > 25 {
		t.Errorf("achieved %.1f/s, want 500/s", r.AchievedRate)
	}
}

func TestInterruptKeepsRate(t *testing.T) {
	target := serve(t, CeilingHandler(CeilingBody("127.0.0.1:1")))
	cfg := testConfig(target)
	cfg.Duration = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	rep, err := Run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Result.Responses < 50 || rep.Result.Responses > 150 {
		t.Errorf("responses %d, want about 100", rep.Result.Responses)
	}
	if math.Abs(rep.Result.AchievedRate-200) > 40 {
		t.Errorf("achieved %.0f/s over the part that ran, want about 200", rep.Result.AchievedRate)
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
