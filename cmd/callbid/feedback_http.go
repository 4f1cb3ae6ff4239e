package main

import (
	"errors"
	"net/url"

	"github.com/callbid/callbid/httpapi"
	"github.com/valyala/fasthttp"
)

// fasthttpReport adapts one of feedback's fasthttp handlers (HandleReport,
// HandleRates) to an httpapi.Report until feedback answers with plain
// methods; then this file goes and cmd imports no fasthttp. Only GET
// reaches it (httpapi answers other methods with 405).
func fasthttpReport(h fasthttp.RequestHandler) httpapi.Report {
	return func(q url.Values) (string, []byte, error) {
		var req fasthttp.Request
		req.Header.SetMethod(fasthttp.MethodGet)
		req.SetRequestURI("/?" + q.Encode())
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, nil, nil)
		h(&ctx)
		body := append([]byte(nil), ctx.Response.Body()...)
		if ctx.Response.StatusCode() != fasthttp.StatusOK {
			return "", nil, errors.New(string(trimNewline(body)))
		}
		return string(ctx.Response.Header.ContentType()), body, nil
	}
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}
