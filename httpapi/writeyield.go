package httpapi

import (
	"runtime"
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

// yieldIfBacklogged marks the connection of ctx to yield before writing
// this answer when the request waited at least yieldAfterWait. The handler
// and the answer's write run on the connection's goroutine, so the mark
// needs no synchronization.
func yieldIfBacklogged(ctx *fasthttp.RequestCtx, waited time.Duration) {
	if waited < yieldAfterWait {
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
