package main

import (
	"bytes"
	"encoding/json"

	"github.com/callbid/callbid/hitrate"
	"github.com/callbid/callbid/pacing"
	"github.com/callbid/callbid/reports"
	"github.com/valyala/fasthttp"
)

// ratesHandler serves GET /admin/rates: per skill the participation level,
// budget, refill and calls in flight; per campaign × publisher the learned
// rates, their evidence and the factor applied; per exchange the win
// probability. JSON; ?campaign= filters the publishers.
func ratesHandler(h *hitrate.HitRates, p *pacing.Pacer) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsGet() && !ctx.IsHead() {
			ctx.Error("only GET is allowed\n", fasthttp.StatusMethodNotAllowed)
			return
		}
		pv := p.View()
		hv := h.Rates(hitrate.RatesQuery{Campaign: string(ctx.QueryArgs().Peek("campaign"))})
		v := struct {
			Skills     []pacing.SkillParticipation `json:"skills"`
			Publishers []hitrate.PublisherRate     `json:"publishers"`
			Exchanges  []pacing.ExchangeWin        `json:"exchanges"`
		}{pv.Skills, hv.Publishers, pv.Exchanges}
		b, err := json.MarshalIndent(&v, "", "  ")
		if err != nil {
			ctx.Error("cannot encode the rates\n", fasthttp.StatusInternalServerError)
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(append(b, '\n'))
	}
}

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
