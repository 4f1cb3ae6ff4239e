package bench

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// serve starts a fasthttp server for h on a free loopback port and returns
// its base URL.
func serve(t testing.TB, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h, Concurrency: 10000}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// testConfig is a short, quiet run against target.
func testConfig(target string) Config {
	c := DefaultConfig()
	c.Target = target
	c.Rate = 200
	c.Duration = time.Second
	c.Warmup = 0
	c.Conns = 8
	c.Pool = 200
	c.Progress = false
	return c
}
