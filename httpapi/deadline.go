package httpapi

import (
	"errors"
	"os"
	"sync"
	"time"
)

// fasthttp moves a keep-alive connection's deadlines three times per
// request: the read deadline to the idle timeout before the request, to the
// read timeout at its first byte, and the write deadline before the answer.
// Each move re-arms a runtime timer (about 0.15 µs, 0.45 µs per request
// under wrk, 2.3% of callbid's CPU). Almost every move is later than the
// deadline already on the socket (the previous request's), so lazyDeadline
// only records it: the socket keeps the earlier deadline, and when that one
// fires the read or write is retried after moving the socket's deadline to
// the recorded one. A connection then re-arms once per timeout period, not
// three times per request, and a read or write still fails exactly when
// the latest deadline set has passed. A move earlier than the socket's is
// applied at once.
//
// Goroutines: fasthttp sets deadlines on the connection's goroutine, a
// handler or shutdown may from others; mu orders them with the retries.
type lazyDeadline struct {
	mu      sync.Mutex
	want    time.Time // the deadline last set; zero: none
	applied time.Time // the deadline on the socket; zero: none
}

// notBefore reports a >= b, where the zero time (no deadline) is later
// than every other.
func notBefore(a, b time.Time) bool {
	switch {
	case a.IsZero():
		return true
	case b.IsZero():
		return false
	}
	return !a.Before(b)
}

// set records t as the deadline and applies it to the socket (with apply)
// only when it is earlier than the socket's.
func (d *lazyDeadline) set(t time.Time, apply func(time.Time) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.want = t
	if notBefore(t, d.applied) {
		return nil
	}
	if err := apply(t); err != nil {
		return err
	}
	d.applied = t
	return nil
}

// retry reports whether err is the socket's deadline firing before the one
// last set; it then moves the socket's deadline there, and the caller
// reads or writes again.
func (d *lazyDeadline) retry(err error, apply func(time.Time) error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.want.IsZero() && !time.Now().Before(d.want) {
		return false // the deadline set has passed: a real timeout
	}
	if apply(d.want) != nil {
		return false
	}
	d.applied = d.want
	return true
}

// SetReadDeadline records t; see lazyDeadline.
func (c *guardedConn) SetReadDeadline(t time.Time) error {
	return c.rdl.set(t, c.Conn.SetReadDeadline)
}

// SetWriteDeadline records t; see lazyDeadline.
func (c *guardedConn) SetWriteDeadline(t time.Time) error {
	return c.wdl.set(t, c.Conn.SetWriteDeadline)
}

// SetDeadline sets both deadlines.
func (c *guardedConn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// Write writes p, going on after the socket's deadline fired early (see
// lazyDeadline). When the handler found callbid backlogged, it first lets
// the goroutines that are ready to run go (writeyield.go).
func (c *guardedConn) Write(p []byte) (int, error) {
	c.yieldBeforeWrite()
	n, err := c.write(p)
	for err != nil && c.wdl.retry(err, c.Conn.SetWriteDeadline) {
		var m int
		m, err = c.write(p[n:])
		n += m
	}
	return n, err
}

// write writes with a raw system call where the connection has one (see
// rawSocket), except under the race detector (race_on.go).
func (c *guardedConn) write(p []byte) (int, error) {
	if c.rx != nil && !raceBuild {
		return c.rx.write(p)
	}
	return c.Conn.Write(p)
}
