package httpapi

import (
	"github.com/callbid/callbid/numbers"
	"github.com/valyala/fasthttp"
)

// serveCalls serves POST /v1/calls (docs/openapi.yaml).
func serveCalls(ctx *fasthttp.RequestCtx, p *numbers.Pools) { p.HandleCalls(ctx) }
