//go:build !race

package bidder

import (
	"testing"
	"time"
)

// TestAllocsHandler guards the allocation count of the whole public handler
// path (decode → decide → reserve → render → sign → encode) in steady state,
// with fakes as cheap as the real dependencies.
func TestAllocsHandler(t *testing.T) {
	for _, c := range []struct {
		file   string
		status int
		max    float64
	}{
		{"testdata/requests/own/realistic-2kb.json", 200, 0},
		{"testdata/requests/2.5/mobile.json", 200, 0},
		{"testdata/requests/own/native-phone.json", 200, 0},
		{"testdata/requests/own/bcat-all.json", 204, 0},
		{"testdata/requests/2.5/video.json", 204, 0},
	} {
		h, _ := benchSetup(t, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
		ctx := newBidCtx(readBody(t, c.file), "/openrtb2/bid?exchange=default")
		runBid(h, ctx)
		if ctx.Response.StatusCode() != c.status {
			t.Fatalf("%s: status %d, want %d", c.file, ctx.Response.StatusCode(), c.status)
		}
		if n := testing.AllocsPerRun(200, func() { runBid(h, ctx) }); n > c.max {
			t.Errorf("%s: %.1f allocations per request, want at most %.0f", c.file, n, c.max)
		}
	}
}

// TestAllocsRealPoolsHoldBudget guards the bid path with real pools, whose
// sizes turn the per-source hold budgets on: the client and exchange buckets
// cost no allocation either.
func TestAllocsRealPoolsHoldBudget(t *testing.T) {
	now := testNow
	h, e := benchSetupClock(t, realPools(t), func() time.Time { now = now.Add(2 * time.Millisecond); return now })
	if len(e.b.snap.Load().holds) != 3 {
		t.Fatal("hold budgets not compiled for the real pools")
	}
	ctx := newBidCtx(readBody(t, "testdata/requests/own/realistic-2kb.json"), "/openrtb2/bid?exchange=default")
	// Warm up past one hold (7,500 requests): a pool entry's attribution
	// buffer is allocated on its first use (and when ids get longer), after
	// which expired holds are reused from the head of the free list. Bid ids
	// keep their length from 32^5 to 32^6 (base32): move the sequence there,
	// forward only, so other tests' bids cannot make them grow mid-run.
	if v := bidSeq.Load(); v < 1<<25 {
		bidSeq.CompareAndSwap(v, 1<<25)
	}
	for range 10_000 {
		runBid(h, ctx)
	}
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("status %d", ctx.Response.StatusCode())
	}
	if n := testing.AllocsPerRun(500, func() { runBid(h, ctx) }); n > 0 {
		t.Errorf("%.1f allocations per request, want 0", n)
	}
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("last status %d: the hold budget refused a steady single client", ctx.Response.StatusCode())
	}
}
