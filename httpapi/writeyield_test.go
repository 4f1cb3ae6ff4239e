package httpapi

import (
	"net"
	"testing"

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

	yieldIfBacklogged(&ctx, yieldAfterWait-1)
	if gc.yieldWrite {
		t.Fatal("a request that waited less than yieldAfterWait marked its connection")
	}
	yieldIfBacklogged(&ctx, yieldAfterWait)
	if !gc.yieldWrite {
		t.Fatal("a request that waited yieldAfterWait did not mark its connection")
	}
	gc.yieldBeforeWrite()
	if gc.yieldWrite {
		t.Fatal("the mark outlived the write it was for")
	}
}
