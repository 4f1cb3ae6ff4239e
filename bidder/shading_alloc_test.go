//go:build !race

package bidder

import "testing"

// TestAllocsShadedBid guards the handler path of a first-price request
// (realistic-2kb.json has at=1) once its exchange × publisher has a learned
// win curve, with a daily budget reserving bids in flight: still 0 allocations.
func TestAllocsShadedBid(t *testing.T) {
	h, e := benchSetup(t, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
	cfg := &e.b.snap.Load().cfg.Shading
	for i := 0; i < 300; i++ {
		p := 0.5 + float64(i%40)*0.1
		e.b.shade.recordBid("default", "pub-771", p)
		e.b.shade.observe(cfg, "default", "pub-771", i%2 == 0, p, p*0.8)
	}
	ctx := newBidCtx(readBody(t, "testdata/requests/own/realistic-2kb.json"), "/openrtb2/bid?exchange=default")
	runBid(h, ctx)
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("status %d", ctx.Response.StatusCode())
	}
	if pub, _ := e.b.shade.lookup("default", "pub-771"); pub == nil || pub.cdf.Load() == nil {
		t.Fatal("no learned curve")
	}
	if n := testing.AllocsPerRun(200, func() { runBid(h, ctx) }); n > 0 {
		t.Errorf("%.1f allocations per shaded request, want 0", n)
	}
}
