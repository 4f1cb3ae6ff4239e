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

// TestAllocsGzip guards the gzip in/out path. The pooled gzip reader and
// writer are reused; a GC emptying the pools mid-run costs a rebuild, hence
// a tolerance of one allocation on average.
func TestAllocsGzip(t *testing.T) {
	h, _ := benchSetup(t, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
	ctx := newBidCtx(gz(readBody(t, "testdata/requests/own/realistic-2kb.json")), "/openrtb2/bid")
	ctx.Request.Header.Set("Content-Encoding", "gzip")
	ctx.Request.Header.Set("Accept-Encoding", "gzip")
	runBid(h, ctx)
	if ctx.Response.StatusCode() != 200 || string(ctx.Response.Header.ContentEncoding()) != "gzip" {
		t.Fatalf("status %d, encoding %q", ctx.Response.StatusCode(), ctx.Response.Header.ContentEncoding())
	}
	n := testing.AllocsPerRun(200, func() { runBid(h, ctx) })
	t.Logf("gzip in and out: %.1f allocations per request", n)
	if n > 1 {
		t.Errorf("gzip path: %.1f allocations per request, want at most 1", n)
	}
}
