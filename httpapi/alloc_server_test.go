//go:build !race

package httpapi

import (
	"io"
	"net"
	"testing"

	"github.com/rs/zerolog"
)

// TestAllocsShed guards the overload answer: shedding must cost less than
// bidding, so it allocates nothing (also with the nbr body).
func TestAllocsShed(t *testing.T) {
	r, b := bidSetup(t, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
	r.adm.inFlight.Store(int64(b.Begin(nil).Server().MaxInFlight))
	for _, uri := range []string{"/openrtb2/bid", "/openrtb2/bid?exchange=nbrx"} {
		ctx := newBidCtx(readBody(t, testdata+"requests/own/realistic-2kb.json"), uri)
		run := func() { runBid(r, ctx) }
		run()
		if st := ctx.Response.StatusCode(); st != 204 && st != 200 {
			t.Fatalf("%s: status %d", uri, st)
		}
		if n := testing.AllocsPerRun(200, run); n > 0 {
			t.Errorf("%s: %.1f allocations per shed request, want 0", uri, n)
		}
	}
}

// TestAllocsHandler guards the allocation count of the whole public bid
// route (read → admit → decode → decide → reserve → render → sign →
// encode → write) in steady state, with fakes as cheap as the real
// dependencies.
func TestAllocsHandler(t *testing.T) {
	for _, c := range []struct {
		file   string
		status int
	}{
		{"requests/own/realistic-2kb.json", 200},
		{"requests/2.5/mobile.json", 200},
		{"requests/own/native-phone.json", 200},
		{"requests/own/bcat-all.json", 204},
		{"requests/2.5/video.json", 204},
	} {
		r, _ := bidSetup(t, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
		ctx := newBidCtx(readBody(t, testdata+c.file), "/openrtb2/bid?exchange=default")
		runBid(r, ctx)
		if ctx.Response.StatusCode() != c.status {
			t.Fatalf("%s: status %d, want %d", c.file, ctx.Response.StatusCode(), c.status)
		}
		if n := testing.AllocsPerRun(200, func() { runBid(r, ctx) }); n > 0 {
			t.Errorf("%s: %.1f allocations per request, want 0", c.file, n)
		}
	}
}

// TestAllocsGzip guards the gzip in/out path. The pooled gzip reader and
// writer are reused; a GC emptying the pools mid-run costs a rebuild, hence
// a tolerance of one allocation on average.
func TestAllocsGzip(t *testing.T) {
	r, _ := bidSetup(t, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
	ctx := newBidCtx(gz(readBody(t, testdata+"requests/own/realistic-2kb.json")), "/openrtb2/bid")
	ctx.Request.Header.Set("Content-Encoding", "gzip")
	ctx.Request.Header.Set("Accept-Encoding", "gzip")
	runBid(r, ctx)
	if ctx.Response.StatusCode() != 200 || string(ctx.Response.Header.ContentEncoding()) != "gzip" {
		t.Fatalf("status %d, encoding %q", ctx.Response.StatusCode(), ctx.Response.Header.ContentEncoding())
	}
	n := testing.AllocsPerRun(200, func() { runBid(r, ctx) })
	t.Logf("gzip in and out: %.1f allocations per request", n)
	if n > 1 {
		t.Errorf("gzip path: %.1f allocations per request, want at most 1", n)
	}
}

// TestAllocsTimestampedRead: reading through recvmsg allocates nothing.
func TestAllocsTimestampedRead(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newServerMetrics()
	l := newGuardedListener(inner, connLimits{name: "public"}, &m.public, zerolog.Nop())
	defer l.Close()
	c := dialFrom(t, "127.0.0.1", inner.Addr().String())
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if sc.(*guardedConn).rx == nil {
		t.Skip("no receive timestamps on this platform")
	}
	msg, buf := []byte("ping"), make([]byte, 16)
	n := testing.AllocsPerRun(200, func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := sc.Read(buf); err != nil {
			t.Fatal(err)
		}
	})
	if n > 0 {
		t.Errorf("%.1f allocations per write+read, want 0", n)
	}
}

// TestAllocsRawWrite: an answer written through the raw write path
// (rawSocket.write) allocates nothing.
func TestAllocsRawWrite(t *testing.T) {
	c, sc := acceptedPair(t)
	if sc.rx == nil {
		t.Skip("no raw writes on this platform")
	}
	msg, buf := make([]byte, 1536), make([]byte, 2048)
	n := testing.AllocsPerRun(200, func() {
		if _, err := sc.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
	})
	if n > 0 {
		t.Errorf("%.1f allocations per write, want 0", n)
	}
}
