package feedback

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestReadyReportsStalledFeeds(t *testing.T) {
	f, _, now := newTest(t, Config{StaleAfter: time.Minute, StaleBids: 2})
	if ok, why := f.Ready(); !ok {
		t.Fatalf("fresh instance not ready: %s", why)
	}
	f.HandleImpression(imp("b0", "p1", "x1", 1, *now))
	*now = now.Add(5 * time.Minute)
	f.RecordBid("c1", "mortgage", "p1", "x1", 1, 0, *now)
	f.drain()
	if ok, _ := f.Ready(); !ok {
		t.Fatal("one bid without a win is not a stall")
	}
	f.RecordBid("c1", "mortgage", "p1", "x1", 1, 0, *now)
	f.drain()
	ok, why := f.Ready()
	if ok || !strings.Contains(why, "impressions feed stalled") {
		t.Fatalf("bidding with a silent impressions feed: ready %v %q", ok, why)
	}
	f.HandleImpression(imp("b1", "p1", "x1", 1, *now))
	if ok, why := f.Ready(); !ok {
		t.Fatalf("impressions resumed, still not ready: %s", why)
	}
	// 3000 wins at a 1% rate expect 30 calls; none came.
	for i := range 3000 {
		f.HandleImpression(imp("w"+itoa(i), "p1", "x1", 1, *now))
	}
	ok, why = f.Ready()
	if ok || !strings.Contains(why, "call feed stalled") {
		t.Fatalf("no calls for 30 expected: ready %v %q", ok, why)
	}
	before := f.HitRates().HitRate("c1", "p1")
	feedCall(f, ended("kx", time.Minute, *now))
	if ok, _ := f.Ready(); !ok {
		t.Fatal("call feed resumed, still not ready")
	}
	if f.HitRates().HitRate("c1", "p1") != before {
		t.Fatal("a stall changed the rates")
	}
}

func TestMetricsAndRun(t *testing.T) {
	f, _, _ := newTest(t, Config{})
	f.clock = time.Now
	reg := prometheus.NewPedanticRegistry()
	if err := f.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := f.Reports().RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	f.RecordBid("c1", "mortgage", "p1", "x1", 1, 0, time.Now())
	f.HandleImpression(imp("b1", "p1", "x1", 1, time.Now()))
	deadline := time.Now().Add(5 * time.Second)
	for f.Stats().Bids == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // the aggregator runs on its own goroutine
	}
	cancel()
	<-done
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 0 && m.GetCounter() != nil {
				got[mf.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	if got["callbid_feedback_bids_total"] != 1 || got["callbid_feedback_wins_total"] != 1 {
		t.Fatalf("counters %v", got)
	}
}
