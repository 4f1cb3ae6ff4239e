//go:build !race

package bidder

import "testing"

// TestAllocsWithParticipation: the volume hook (one interface call per
// campaign) keeps the handler path at 0 allocations.
func TestAllocsWithParticipation(t *testing.T) {
	h, e := benchSetup(t, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
	p := &fakeParticipation{deny: map[string]bool{}}
	e.b.deps.Participation = p
	ctx := newBidCtx(readBody(t, "testdata/requests/own/realistic-2kb.json"), "/openrtb2/bid?exchange=default")
	runBid(h, ctx)
	if ctx.Response.StatusCode() != 200 || p.asked == 0 {
		t.Fatalf("status %d, participation asked %d times", ctx.Response.StatusCode(), p.asked)
	}
	if n := testing.AllocsPerRun(200, func() { runBid(h, ctx) }); n != 0 {
		t.Errorf("%.1f allocations per request with participation, want 0", n)
	}
}
