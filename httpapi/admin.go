package httpapi

import (
	"bytes"
	"encoding/json"
	"net/url"

	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/numbers"
	"github.com/callbid/callbid/status"
	"github.com/valyala/fasthttp"
)

// serveHolds serves GET /admin/holds: bidder.Holds as JSON.
func serveHolds(ctx *fasthttp.RequestCtx, b *bidder.Bidder) {
	v, err := json.MarshalIndent(b.Holds(), "", "  ")
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(append(v, '\n'))
}

// servePoolStats serves GET /admin/pools: numbers.Stats as JSON.
func servePoolStats(ctx *fasthttp.RequestCtx, p *numbers.Pools) {
	ctx.SetContentType("application/json")
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.SetBodyString(`{"error":"use GET"}`)
		return
	}
	b, err := json.MarshalIndent(p.Stats(), "", "  ")
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.SetBodyString(`{"error":"cannot encode stats"}`)
		return
	}
	ctx.SetBody(b)
}

// serveReport answers GET and HEAD on a Report's route.
func serveReport(ctx *fasthttp.RequestCtx, r Report) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Error("only GET is allowed\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	ct, body, err := r(queryValues(ctx))
	if err != nil {
		ctx.Error(err.Error()+"\n", fasthttp.StatusBadRequest)
		return
	}
	ctx.SetContentType(ct)
	ctx.SetBody(body)
}

// serveStatus serves the status page (GET /, its live part with
// ?part=live) and GET /status.json.
func serveStatus(ctx *fasthttp.RequestCtx, p *status.Page, path string) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Error("only GET is allowed\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	if path == status.PathJSON {
		b, err := json.Marshal(p.Snapshot())
		if err != nil {
			ctx.Error("cannot encode the status: "+err.Error()+"\n", fasthttp.StatusInternalServerError)
			return
		}
		ctx.Response.Header.Set("Cache-Control", "no-store")
		ctx.SetContentType("application/json")
		ctx.SetBody(b)
		return
	}
	var buf bytes.Buffer
	if err := p.Render(&buf, string(ctx.QueryArgs().Peek("part")) == "live"); err != nil {
		ctx.Error("cannot render the status page: "+err.Error()+"\n", fasthttp.StatusInternalServerError)
		return
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	// Everything is inline; nothing may be loaded from elsewhere.
	ctx.Response.Header.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:")
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(buf.Bytes())
}

// queryValues copies the query parameters of ctx.
func queryValues(ctx *fasthttp.RequestCtx) url.Values {
	q := url.Values{}
	for k, v := range ctx.QueryArgs().All() {
		q.Add(string(k), string(v))
	}
	return q
}
