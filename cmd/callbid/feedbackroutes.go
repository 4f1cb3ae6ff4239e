package main

import (
	"bytes"

	"github.com/callbid/callbid/reports"
	"github.com/valyala/fasthttp"
)

// The feedback routes: fasthttp glue around the HTTP-free methods of the
// packages that own the data (until httpapi takes these routes too).

// reportHandler serves GET /v1/report: ?from=&to= (RFC3339, hour
// resolution), ?group_by=campaign|publisher|exchange|hour (default
// campaign), ?format=json|csv (default json).
func reportHandler(r *reports.Reports) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsGet() && !ctx.IsHead() {
			ctx.Error("only GET is allowed\n", fasthttp.StatusMethodNotAllowed)
			return
		}
		args := ctx.QueryArgs()
		q, csv, err := reports.ParseQuery(string(args.Peek("from")), string(args.Peek("to")),
			string(args.Peek("group_by")), string(args.Peek("format")))
		if err != nil {
			ctx.Error(err.Error()+"\n", fasthttp.StatusBadRequest)
			return
		}
		v, err := r.Report(q)
		if err != nil {
			ctx.Error(err.Error()+"\n", fasthttp.StatusBadRequest)
			return
		}
		var b bytes.Buffer
		if csv {
			ctx.SetContentType("text/csv; charset=utf-8")
			err = v.WriteCSV(&b)
		} else {
			ctx.SetContentType("application/json")
			err = v.WriteJSON(&b)
		}
		if err != nil {
			ctx.Error("cannot encode the report\n", fasthttp.StatusInternalServerError)
			return
		}
		ctx.SetBody(b.Bytes())
	}
}
