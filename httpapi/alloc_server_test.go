//go:build !race

package bidder

import (
	"net"
	"testing"

	"github.com/rs/zerolog"
)

// TestAllocsShed guards the overload answer: shedding must cost less than
// bidding, so it allocates nothing (also with the nbr body).
func TestAllocsShed(t *testing.T) {
	_, e := benchSetup(t, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
	adm := &admission{}
	adm.inFlight.Store(int64(e.b.snap.Load().cfg.Server.MaxInFlight))
	for _, uri := range []string{"/openrtb2/bid", "/openrtb2/bid?exchange=nbrx"} {
		ctx := newBidCtx(readBody(t, "testdata/requests/own/realistic-2kb.json"), uri)
		run := func() { ctx.Response.Reset(); e.b.serveBid(ctx, adm) }
		run()
		if st := ctx.Response.StatusCode(); st != 204 && st != 200 {
			t.Fatalf("%s: status %d", uri, st)
		}
		if n := testing.AllocsPerRun(200, run); n > 0 {
			t.Errorf("%s: %.1f allocations per shed request, want 0", uri, n)
		}
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
