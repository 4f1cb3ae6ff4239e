package httpapi

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// acceptedPair is a client connection and the guardedConn it was accepted
// as.
func acceptedPair(t testing.TB) (client net.Conn, server *guardedConn) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newServerMetrics()
	l := newGuardedListener(inner, connLimits{name: "public"}, &m.public, zerolog.Nop())
	t.Cleanup(func() { l.Close() })
	c := dialFrom(t, "127.0.0.1", inner.Addr().String())
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close(); c.Close() })
	return c, sc.(*guardedConn)
}

// TestLazyDeadlineExtends: a deadline moved later is the one that counts,
// although the socket keeps the earlier one until it fires.
func TestLazyDeadlineExtends(t *testing.T) {
	c, sc := acceptedPair(t)
	// The earlier deadline is on the socket (already passed), the later one
	// only recorded: the read must not fail on the passed one.
	if err := sc.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := sc.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if n, err := sc.Read(buf); err != nil || string(buf[:n]) != "x" {
		t.Fatalf("read = %q, %v; want x", buf[:n], err)
	}
	// The same for writes.
	if err := sc.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := sc.SetWriteDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := sc.Write([]byte("yz")); err != nil || n != 2 {
		t.Fatalf("write = %d, %v; want 2", n, err)
	}
	if _, err := io.ReadFull(c, buf[:2]); err != nil || string(buf[:2]) != "yz" {
		t.Fatalf("peer read %q, %v", buf[:2], err)
	}
	// No deadline at all after one fired.
	if err := sc.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := sc.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("w")); err != nil {
		t.Fatal(err)
	}
	if n, err := sc.Read(buf); err != nil || string(buf[:n]) != "w" {
		t.Fatalf("read without deadline = %q, %v; want w", buf[:n], err)
	}
}

// TestLazyDeadlineExpires: a deadline moved earlier applies at once, and a
// read past the deadline last set fails as on a plain connection.
func TestLazyDeadlineExpires(t *testing.T) {
	_, sc := acceptedPair(t)
	if err := sc.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := sc.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := sc.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	// Recorded only (later than the socket's), and passed by the time the
	// socket's fires: still a timeout.
	if err := sc.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := sc.SetReadDeadline(time.Now().Add(-time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the recorded deadline: %v, want a timeout", err)
	}
	if err := sc.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past the deadline: %v, want a timeout", err)
	}
}

// TestLazyDeadlineTimesOutBlockedRead: a read waiting for data fails when
// the deadline last set passes, though the socket had a later one first.
func TestLazyDeadlineTimesOutBlockedRead(t *testing.T) {
	_, sc := acceptedPair(t)
	if err := sc.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := sc.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := sc.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blocked read: %v, want a timeout", err)
	}
}
