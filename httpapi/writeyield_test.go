package httpapi

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// Only a request that waited yieldAfterWait marks its connection, and the
// mark is spent by the one write after it.
func TestYieldIfBacklogged(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	gc := &guardedConn{Conn: a}
	var ctx fasthttp.RequestCtx
	ctx.Init2(gc, nil, false)
	backlog = busyRun{}
	defer func() { backlog = busyRun{} }()

	start := int64(time.Hour)
	yieldIfBacklogged(&ctx, start-int64(yieldAfterWait)+1, start)
	if gc.yieldWrite {
		t.Fatal("a request that waited less than yieldAfterWait marked its connection")
	}
	start += int64(time.Second) // an idle second: no busy run
	yieldIfBacklogged(&ctx, start-int64(yieldAfterWait), start)
	if !gc.yieldWrite {
		t.Fatal("a request that waited yieldAfterWait did not mark its connection")
	}
	gc.yieldBeforeWrite()
	if gc.yieldWrite {
		t.Fatal("the mark outlived the write it was for")
	}
}

// A busy run yields from its yieldAfterRun-th request on, however short
// each wait, and a request that found callbid idle ends the run.
func TestBusyRun(t *testing.T) {
	var r busyRun
	start := int64(time.Hour)
	step := int64(10 * time.Microsecond)
	if r.observe(start-step, start) {
		t.Fatal("the first request of a run yields")
	}
	for i := 1; i <= yieldAfterRun+2; i++ {
		// arrived just before the previous request's handler started
		at := start - 1
		start += step
		if got, want := r.observe(at, start), i >= yieldAfterRun; got != want {
			t.Fatalf("request %d of the run: yield %v, want %v", i, got, want)
		}
	}
	// arrived after the previous handler started: callbid was not backlogged
	at := start + 1
	start += step
	if r.observe(at, start) {
		t.Fatal("a request that found callbid idle yields")
	}
	at, start = start-1, start+step
	if r.observe(at, start) {
		t.Fatal("the run did not restart after an idle gap")
	}
}
