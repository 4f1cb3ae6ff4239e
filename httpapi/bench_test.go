package httpapi

import "testing"

func benchBid(b *testing.B, file string, want int) {
	r, _ := bidSetup(b, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
	body := readBody(b, testdata+file)
	ctx := newBidCtx(body, "/openrtb2/bid?exchange=default")
	runBid(r, ctx)
	if ctx.Response.StatusCode() != want {
		b.Fatalf("status %d, want %d: %s", ctx.Response.StatusCode(), want, ctx.Response.Body())
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		runBid(r, ctx)
	}
	if ctx.Response.StatusCode() != want {
		b.Fatalf("last status %d, want %d", ctx.Response.StatusCode(), want)
	}
}

// BenchmarkBid: the whole bid route (admission, decode → decide → reserve →
// render → sign → encode, write) for a 1.75 KB request on a constructed
// RequestCtx (no network). bidder's BenchmarkBid measures Bid alone.
func BenchmarkBid(b *testing.B) { benchBid(b, "requests/own/realistic-2kb.json", 200) }

// BenchmarkNoBid: the same request blocked by bcat for every campaign.
func BenchmarkNoBid(b *testing.B) { benchBid(b, "requests/own/bcat-all.json", 204) }
