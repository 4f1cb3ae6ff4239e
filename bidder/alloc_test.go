//go:build !race

package bidder

import "testing"

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
