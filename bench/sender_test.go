package bench

import (
	"testing"
	"time"
)

func newTestSender(tb testing.TB, withLoop bool) *sender {
	tb.Helper()
	cfg := testConfig(serve(tb, CeilingHandler(CeilingBody("127.0.0.1:1"))))
	bodies, err := Generate(GeneratorConfig{Seed: 1, Count: 64, Publishers: 10, UniqueIDs: true})
	if err != nil {
		tb.Fatal(err)
	}
	var loop *closedLoop
	if withLoop {
		loop = newClosedLoop(cfg.ClosedLoop, cfg.Target, 1)
	}
	e, err := newEngine(cfg, bodies, loop, nil)
	if err != nil {
		tb.Fatal(err)
	}
	s := e.newSender(0)
	tb.Cleanup(s.release)
	return s
}

// BenchmarkSend is the bench's own cost per request (id rewrite, send, read
// and parse the 600-byte bid answer, record), including the loopback round
// trip to the ceiling handler in the same process.
func BenchmarkSend(b *testing.B) {
	s := newTestSender(b, false)
	var one tally
	var seq uint64
	b.ReportAllocs()
	for b.Loop() {
		seq++
		s.handle(ticket{at: time.Now().UnixNano(), seq: seq, measured: true}, &one)
	}
	if s.total.responses != s.total.sent || s.total.bids == 0 {
		b.Fatalf("sent %d answered %d bids %d", s.total.sent, s.total.responses, s.total.bids)
	}
}
