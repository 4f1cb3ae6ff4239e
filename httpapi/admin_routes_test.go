package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/status"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// adminGet runs one request through the admin route table.
func adminGet(h fasthttp.RequestHandler, method, uri string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	h(&ctx)
	return &ctx
}

// TestStatusRoutes: the status page and its JSON on the admin listener,
// with the headers that keep the page self-contained and uncached.
func TestStatusRoutes(t *testing.T) {
	page := status.New(status.Sources{Version: "test"}, 0)
	cfg := bidder.ServerConfig{}
	h := adminHandler(nil, Options{Status: page}, func() *bidder.ServerConfig { return &cfg }, newServerMetrics(), zerolog.Nop())

	ctx := adminGet(h, "GET", "/")
	if ctx.Response.StatusCode() != 200 || !strings.HasPrefix(string(ctx.Response.Header.ContentType()), "text/html") ||
		!strings.Contains(string(ctx.Response.Body()), "<title>callbid status</title>") {
		t.Fatalf("page: %d %s %.100s", ctx.Response.StatusCode(), ctx.Response.Header.ContentType(), ctx.Response.Body())
	}
	if csp := string(ctx.Response.Header.Peek("Content-Security-Policy")); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	if cc := string(ctx.Response.Header.Peek("Cache-Control")); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if live := string(adminGet(h, "GET", "/?part=live").Response.Body()); strings.Contains(live, "<html") {
		t.Errorf("live part is the whole page: %.200s", live)
	}
	ctx = adminGet(h, "GET", "/status.json")
	var s status.Snapshot
	if err := json.Unmarshal(ctx.Response.Body(), &s); err != nil || s.Version != "test" ||
		string(ctx.Response.Header.ContentType()) != "application/json" {
		t.Fatalf("status.json: %v %s", err, ctx.Response.Body())
	}
	for _, path := range []string{"/", "/status.json"} {
		if c := adminGet(h, "POST", path); c.Response.StatusCode() != 405 || string(c.Response.Body()) != "only GET is allowed\n" {
			t.Errorf("POST %s: %d %q", path, c.Response.StatusCode(), c.Response.Body())
		}
	}
	// Without a page, / is not found.
	h = adminHandler(nil, Options{}, func() *bidder.ServerConfig { return &cfg }, newServerMetrics(), zerolog.Nop())
	if c := adminGet(h, "GET", "/"); c.Response.StatusCode() != 404 {
		t.Errorf("no page: %d", c.Response.StatusCode())
	}
}

// TestPoolsRoute: GET /admin/pools is numbers' Stats as JSON.
func TestPoolsRoute(t *testing.T) {
	p := newPools(t, onePool(4))
	cfg := bidder.ServerConfig{}
	h := adminHandler(nil, Options{Pools: p}, func() *bidder.ServerConfig { return &cfg }, newServerMetrics(), zerolog.Nop())
	ctx := adminGet(h, "GET", "/admin/pools")
	var st struct {
		Pools []struct {
			ID   string `json:"id"`
			Size int    `json:"size"`
		} `json:"pools"`
	}
	if err := json.Unmarshal(ctx.Response.Body(), &st); err != nil || ctx.Response.StatusCode() != 200 ||
		len(st.Pools) != 1 || st.Pools[0].Size != 4 {
		t.Fatalf("pools: %d %v %s", ctx.Response.StatusCode(), err, ctx.Response.Body())
	}
	if c := adminGet(h, "POST", "/admin/pools"); c.Response.StatusCode() != 405 || string(c.Response.Body()) != `{"error":"use GET"}` {
		t.Errorf("POST: %d %s", c.Response.StatusCode(), c.Response.Body())
	}
}
