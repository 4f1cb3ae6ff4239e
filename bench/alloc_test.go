//go:build !race

package bench

import (
	"testing"
	"time"
)

// The per-request path must not allocate in steady state, or the bench's
// garbage collector would show up in the latency it reports.
func TestSendDoesNotAllocate(t *testing.T) {
	s := newTestSender(t, false)
	var one tally
	var seq uint64
	send := func() {
		seq++
		s.handle(ticket{at: time.Now().UnixNano(), seq: seq, measured: true}, &one)
	}
	for range 100 {
		send() // warm the connection and buffers
	}
	if n := testing.AllocsPerRun(500, send); n != 0 {
		t.Fatalf("%.1f allocations per request, want 0", n)
	}
	if s.total.errors != 0 || s.total.bids == 0 {
		t.Fatalf("errors %d bids %d", s.total.errors, s.total.bids)
	}
}
