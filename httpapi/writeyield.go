package httpapi

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// When callbid is backlogged, a bid answer is written only after the
// goroutines that are ready to run have had their turn (runtime.Gosched),
// so that answers ready together leave back to back.
//
// Why: a write that wakes a sleeping client costs the writer a wake-up (on
// a VM, an inter-processor interrupt to the client's idle vCPU). A client
// on the same machine (a load generator, a local proxy) falls asleep between
// answers that come one handler's run apart and is woken for almost each
// one; answers written back to back find it awake. Under wrk on this
// project's VM, with 64 connections, yielding before every answer took the
// client's sleeps from 0.29 to 0.05 per request and callbid's CPU per
// request down by 1–4 µs (README "Performance").
//
// Why only when backlogged: the yielding goroutine goes to the global run
// queue, behind every goroutine ready to run, background ones included (hold
// passes, Kafka, the feedback fold), so its answer waits for all of them. At
// half load, yielding before every answer raised the p99 service time from
// 0.3–0.9 ms to 1.5–5.8 ms. A request that waited yieldAfterWait in the socket
// before its handler ran finds callbid backlogged: answers are queueing
// anyway, and being cheaper per request is what shortens the queue. With
// this, on a quiet VM, wrk slept 0.12 times per request instead of 0.35 and
// callbid's CPU per request went from 15.0 to 13.8 µs; the p99 at half load
// did not rise.
const yieldAfterWait = 500 * time.Microsecond

// yieldAfterRun is the other sign of a backlog: a busy run, requests in a
// row each of which arrived before the previous one's handler started (so
// callbid was never idle between them); the yieldAfterRun-th and later
// yield. Under wrk's 64 connections the run never breaks and every answer
// yields, as when yielding before every answer: wrk's sleeps per request
// 0.05–0.06 instead of 0.09–0.11 with yieldAfterWait alone. At half load a
// run that long is rare, and the p99 at 15,000 req/s did not rise in
// alternating runs (README "Performance"). A run of 3 kept wrk as awake
// but its tail was no better than the committed code's, so the margin.
const yieldAfterRun = 8

// busyRun tracks the current busy run across the connections' goroutines.
// With GOMAXPROCS > 1 handlers overlap and the count is approximate, which
// costs at most a yield too many or too few.
type busyRun struct {
	prevStart atomic.Int64 // unix ns the previous request's handler started
	n         atomic.Int64 // requests in a row that arrived before it
}

// observe records a request that arrived at unix ns at and whose handler
// started at start, and reports whether it is yieldAfterRun-th or later in
// its busy run.
func (r *busyRun) observe(at, start int64) bool {
	if at < r.prevStart.Swap(start) {
		return r.n.Add(1) >= yieldAfterRun
	}
	if r.n.Load() != 0 {
		r.n.Store(0)
	}
	return false
}

var backlog busyRun

// yieldIfBacklogged marks the connection of ctx to yield before writing
// this answer when the request, which arrived at unix ns at and whose
// handler started at start, finds callbid backlogged: it waited at least
// yieldAfterWait, or it is deep in a busy run. The handler and the answer's
// write run on the connection's goroutine, so the mark needs no
// synchronization.
func yieldIfBacklogged(ctx *fasthttp.RequestCtx, at, start int64) {
	deep := backlog.observe(at, start)
	if !deep && time.Duration(start-at) < yieldAfterWait {
		return
	}
	if gc, ok := ctx.Conn().(*guardedConn); ok {
		gc.yieldWrite = true
	}
}

// yieldBeforeWrite yields once if the connection was marked.
func (c *guardedConn) yieldBeforeWrite() {
	if c.yieldWrite {
		c.yieldWrite = false
		runtime.Gosched()
	}
}
