package bench

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// CeilingBodySize is the size of the ceiling server's answer: about a
// bidder's BidResponse with one banner bid.
const CeilingBodySize = 600

// CeilingBody returns a 600-byte BidResponse with one bid (notice URLs point
// back at the ceiling server, so a closed loop against it also works).
func CeilingBody(addr string) []byte { return CeilingBodyOfSize(addr, CeilingBodySize) }

// CeilingBodyOfSize is CeilingBody padded to size bytes (or as short as the
// bid allows, about 420 bytes): a ceiling with the bidder's answer size shows
// what the answer's length alone costs.
func CeilingBodyOfSize(addr string, size int) []byte {
	head := `{"id":"ceiling","cur":"USD","seatbid":[{"seat":"callbid","bid":[{"id":"1","impid":"1","price":1.25,` +
		`"nurl":"http://` + addr + `/win?p=${AUCTION_PRICE}","burl":"http://` + addr + `/bill?p=${AUCTION_PRICE}",` +
		`"lurl":"http://` + addr + `/loss?r=${AUCTION_LOSS}","adomain":["example.com"],"cid":"c1","crid":"cr1","mtype":1,"w":300,"h":250,` +
		`"adm":"<a href=\"tel:+18005550123\">+1 800 555 0123</a>","ext":{"pad":"`
	tail := `"}}]}]}`
	pad := size - len(head) - len(tail)
	if pad < 0 {
		pad = 0
	}
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// CeilingHandler answers every request with body: the cheapest server the
// machine's HTTP stack allows, to compare the bidder with.
func CeilingHandler(body []byte) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.SetContentType("application/json")
		ctx.Response.SetBodyRaw(body)
	}
}

// ServeCeiling runs the ceiling server on listen (loopback only) until ctx
// ends; ready (may be nil) is called with the address once it listens.
func ServeCeiling(ctx context.Context, listen string, ready func(addr string)) error {
	return ServeCeilingOfSize(ctx, listen, CeilingBodySize, ready)
}

// ServeCeilingOfSize is ServeCeiling answering size-byte bodies
// (CeilingBodyOfSize).
func ServeCeilingOfSize(ctx context.Context, listen string, size int, ready func(addr string)) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("listen: %q is not host:port: %w", listen, err)
	}
	if err := checkLoopbackURL("http://" + net.JoinHostPort(host, "1")); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ln, err := net.Listen("tcp4", listen)
	if err != nil {
		return fmt.Errorf("ceiling: cannot listen on %s: %w", listen, unwrapOp(err))
	}
	srv := &fasthttp.Server{Handler: CeilingHandler(CeilingBodyOfSize(ln.Addr().String(), size)), Name: "ceiling",
		ReadTimeout: time.Minute, IdleTimeout: time.Minute}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		return srv.Shutdown()
	case err := <-errc:
		return err
	}
}

func unwrapOp(err error) error {
	if op, ok := err.(*net.OpError); ok && op.Err != nil {
		return op.Err
	}
	return err
}
