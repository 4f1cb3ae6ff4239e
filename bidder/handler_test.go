package bidder

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Handler is a test stand-in for httpapi's public routes, so the decision
// tests here can keep driving the bidder with requests: POST /openrtb2/bid
// (no admission control, no gzip) and the notices, through the same exported
// methods httpapi calls. httpapi's own tests cover the real handler.
func (b *Bidder) Handler(calls fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/openrtb2/bid":
			if !ctx.IsPost() {
				ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
				return
			}
			c := b.Begin(ctx.QueryArgs().Peek("exchange"))
			ip, _ := netip.AddrFromSlice(ctx.RemoteIP())
			in := BidInput{Body: ctx.Request.Body(), Client: ip, Now: time.Now(), Debug: ctx.Request.Header.Peek(DebugHeader)}
			bp, _ := shimBufs.Get().(*[]byte)
			if bp == nil {
				bp = new([]byte)
			}
			defer shimBufs.Put(bp)
			out, err := b.Bid(c, &in, (*bp)[:0])
			*bp = out
			switch {
			case errors.Is(err, ErrMalformed):
				ctx.SetStatusCode(fasthttp.StatusBadRequest)
			case len(out) == 0:
				ctx.SetStatusCode(fasthttp.StatusNoContent)
			default:
				ctx.SetContentType("application/json")
				ctx.SetBody(out)
			}
		case "/notice/win", "/notice/bill", "/notice/loss":
			kind := map[string]NoticeKind{"/notice/win": NoticeWin, "/notice/bill": NoticeBill, "/notice/loss": NoticeLoss}[string(ctx.Path())]
			q := ctx.QueryArgs()
			ctx.SetStatusCode(b.Notice(kind, ctx.IsHead(), &NoticeQuery{Token: q.Peek("t"), Price: q.Peek("p"),
				Currency: q.Peek("c"), MinToWin: q.Peek("m")}))
		case "/v1/calls":
			if calls == nil {
				ctx.SetStatusCode(fasthttp.StatusNotFound)
				return
			}
			calls(ctx)
		default:
			ctx.SetStatusCode(fasthttp.StatusNotFound)
		}
	}
}

var shimBufs sync.Pool // *[]byte answers of the stand-in handler

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}
