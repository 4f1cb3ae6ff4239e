package docs

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/callbid/callbid"
	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/feedback"
	"github.com/callbid/callbid/httpapi"
	"github.com/callbid/callbid/kafkaio"
	"github.com/callbid/callbid/numbers"
	"github.com/callbid/callbid/reports"
)

// The document is parsed and checked with pb33f/libopenapi and
// libopenapi-validator: they implement OpenAPI 3.1 (JSON Schema 2020-12
// types such as [number, "null"]), which kin-openapi reads only as 3.0.

func loadSpec(t *testing.T) (libopenapi.Document, validator.Validator) {
	t.Helper()
	spec, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("openapi.yaml: %v", errs)
	}
	return doc, v
}

func TestSpecIsValidOpenAPI31(t *testing.T) {
	doc, v := loadSpec(t)
	if got := doc.GetVersion(); got != "3.1.0" {
		t.Errorf("version %q, want 3.1.0", got)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("document: %v", e)
		}
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("model: %v", err)
	}
	want := map[string][]string{
		"/v1/calls":      {"POST"},
		"/notice/{kind}": {"GET", "POST", "HEAD"},
		"/v1/report":     {"GET"},
		"/admin/rates":   {"GET"},
	}
	paths := m.Model.Paths.PathItems
	for p, methods := range want {
		item, ok := paths.Get(p)
		if !ok {
			t.Errorf("path %s missing", p)
			continue
		}
		ops := item.GetOperations()
		for _, meth := range methods {
			op, ok := ops.Get(strings.ToLower(meth))
			if !ok {
				t.Errorf("%s %s missing", meth, p)
				continue
			}
			if op.OperationId == "" || op.Responses == nil || op.Responses.Codes.Len() == 0 {
				t.Errorf("%s %s: needs an operationId and responses", meth, p)
			}
		}
	}
}

// pub keeps what the handlers publish (impressions feed the report).
type pub struct {
	mu   sync.Mutex
	msgs []kafkaio.Message
}

func (p *pub) Publish(topic string, key, value []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, kafkaio.Message{Topic: topic, Key: append([]byte(nil), key...), Value: append([]byte(nil), value...)})
	return true
}

// serve runs one request through a fasthttp handler and returns it and
// its answer as net/http values for the validator.
func serve(t *testing.T, h fasthttp.RequestHandler, method, uri string, hdr map[string]string, body []byte) (*http.Request, *http.Response) {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	for k, v := range hdr {
		ctx.Request.Header.Set(k, v)
	}
	ctx.Request.SetBody(body)
	h(&ctx)
	req, err := http.NewRequest(method, "https://bid.example.com"+uri, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp := &http.Response{StatusCode: ctx.Response.StatusCode(), Header: http.Header{}, Request: req,
		Body: io.NopCloser(bytes.NewReader(append([]byte(nil), ctx.Response.Body()...)))}
	for k, v := range ctx.Response.Header.All() {
		resp.Header.Add(string(k), string(v))
	}
	return req, resp
}

func check(t *testing.T, v validator.Validator, what string, req *http.Request, resp *http.Response, wantStatus int) []byte {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s: status %d, want %d: %s", what, resp.StatusCode, wantStatus, body)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if req.Body != nil {
		rb, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(rb))
	}
	if ok, errs := v.ValidateHttpRequestResponse(req, resp); !ok {
		for _, e := range errs {
			t.Errorf("%s does not match openapi.yaml: %s (%s)", what, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("    %s at %s (%s)", se.Reason, se.FieldPath, se.KeywordLocation)
			}
		}
	}
	return body
}

// TestHandlersMatchSpec drives the real handlers (the bidder with real
// number pools and feedback, as cmd/callbid wires them) and checks every
// request and answer against the document.
func TestHandlersMatchSpec(t *testing.T) {
	_, v := loadSpec(t)
	const token = "spec-test-calls-token"
	env := map[string]string{callbid.EnvCallsToken: token, callbid.EnvNoticeSecret: "spec-test-notice-secret-0123456"}
	cfg, err := callbid.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.Nop()
	p := &pub{}
	pools, err := numbers.New(cfg.Numbers, p, log)
	if err != nil {
		t.Fatal(err)
	}
	model, err := capacity.New(cfg.Capacity, cfg.Skills(), log)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := feedback.New(cfg.Feedback, cfg.FeedbackCampaigns(), model, p, log)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bidder.New(cfg.Config, bidder.Deps{Reserver: pools, Publisher: p}, log)
	if err != nil {
		t.Fatal(err)
	}
	public, _ := httpapi.NewServer(b, httpapi.Options{Pools: pools}, log).Handlers()

	// A bid, as in the README.
	bidReq := `{"id":"req-1","tmax":120,"cur":["USD"],"imp":[{"id":"1","bidfloor":0.5,"banner":{"w":300,"h":250}}],
	 "site":{"id":"site-42","domain":"financedaily.example","cat":["IAB13-5"],"publisher":{"id":"pub-finance-daily"}},
	 "device":{"ip":"73.12.44.9","devicetype":4,"geo":{"country":"USA","region":"CA"}}}`
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/openrtb2/bid")
	ctx.Request.SetBodyString(bidReq)
	public(&ctx)
	var resp struct {
		Seatbid []struct {
			Bid []struct{ Adm, Nurl, Burl, Lurl string } `json:"bid"`
		} `json:"seatbid"`
	}
	if ctx.Response.StatusCode() != 200 || json.Unmarshal(ctx.Response.Body(), &resp) != nil || len(resp.Seatbid) == 0 {
		t.Fatalf("no bid to take notice URLs from: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	bid := resp.Seatbid[0].Bid[0]
	local := func(u string) string {
		pu, err := url.Parse(strings.ReplaceAll(strings.ReplaceAll(u, "${AUCTION_PRICE}", "12.5"), "${AUCTION_LOSS}", "102"))
		if err != nil {
			t.Fatal(err)
		}
		return pu.RequestURI()
	}

	// Notices: applied, repeated, by POST and HEAD, forged, malformed.
	req, r := serve(t, public, "GET", local(bid.Nurl), nil, nil)
	check(t, v, "win notice", req, r, 204)
	req, r = serve(t, public, "GET", local(bid.Nurl), nil, nil)
	check(t, v, "repeated win notice", req, r, 204)
	req, r = serve(t, public, "POST", local(bid.Burl), nil, nil)
	check(t, v, "billing notice by POST", req, r, 204)
	req, r = serve(t, public, "HEAD", local(bid.Lurl), nil, nil)
	check(t, v, "loss notice by HEAD", req, r, 204)
	forged := regexp.MustCompile(`t=[A-Za-z0-9_-]{8}`).ReplaceAllString(local(bid.Nurl), "t=AAAAAAAA")
	req, r = serve(t, public, "GET", forged, nil, nil)
	if r.StatusCode != 403 && r.StatusCode != 400 {
		t.Errorf("forged token: %d", r.StatusCode)
	}
	check(t, v, "forged notice", req, r, r.StatusCode)
	// A token outside the documented alphabet: the request breaks the
	// document by design, so only the answer is checked.
	req, r = serve(t, public, "GET", "/notice/win?t=@@@", nil, nil)
	if r.StatusCode != 400 {
		t.Errorf("malformed token: %d, want 400", r.StatusCode)
	}
	if ok, errs := v.ValidateHttpResponse(req, r); !ok {
		t.Errorf("400 answer does not match: %v", errs[0].Message)
	}

	// The call to the number in the creative.
	m := regexp.MustCompile(`tel:(\+[0-9]+)(?:;ext=([0-9]+))?`).FindStringSubmatch(bid.Adm)
	if m == nil {
		t.Fatalf("no tel: link in %s", bid.Adm)
	}
	call, _ := json.Marshal(map[string]string{"call_id": "c-spec-1", "dnis": m[1], "ext": m[2], "ani": "+14155550188"})
	auth := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	req, r = serve(t, public, "POST", "/v1/calls", auth, call)
	body := check(t, v, "POST /v1/calls", req, r, 200)
	if !bytes.Contains(body, []byte(`"match":"exact"`)) || !bytes.Contains(body, []byte(`"campaign_id":"mortgage-refi"`)) {
		t.Errorf("call not attributed: %s", body)
	}
	unknown, _ := json.Marshal(map[string]string{"call_id": "c-spec-2", "dnis": "+12125550000"})
	req, r = serve(t, public, "POST", "/v1/calls", auth, unknown)
	check(t, v, "POST /v1/calls, unknown number", req, r, 200)
	req, r = serve(t, public, "POST", "/v1/calls", map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}, []byte(`{"call_id":""}`))
	r.Request = req
	if r.StatusCode != 400 {
		t.Errorf("bad body: %d", r.StatusCode)
	}
	// The request is invalid by design here: check only the answer.
	if ok, errs := v.ValidateHttpResponse(req, r); !ok {
		t.Errorf("400 answer does not match: %v", errs[0].Message)
	}
	req, r = serve(t, public, "POST", "/v1/calls", map[string]string{"Content-Type": "application/json"}, call)
	if r.StatusCode != 401 {
		t.Errorf("no token: %d", r.StatusCode)
	}
	if ok, errs := v.ValidateHttpResponse(req, r); !ok {
		t.Errorf("401 answer does not match: %v", errs[0].Message)
	}

	// The report, after feedback has seen the published impressions.
	p.mu.Lock()
	msgs := append([]kafkaio.Message(nil), p.msgs...)
	p.mu.Unlock()
	for _, msg := range msgs {
		if msg.Topic == events.TopicImpressions {
			fb.HandleImpression(msg)
		}
	}
	// The route's fasthttp glue (cmd/callbid/feedbackroutes.go) around
	// reports.ParseQuery, Reports.Report and View.WriteJSON/WriteCSV.
	admin := func(ctx *fasthttp.RequestCtx) {
		args := ctx.QueryArgs()
		q, csv, err := reports.ParseQuery(string(args.Peek("from")), string(args.Peek("to")), string(args.Peek("group_by")), string(args.Peek("format")))
		var v reports.View
		if err == nil {
			v, err = fb.Reports().Report(q)
		}
		if err != nil {
			ctx.Error(err.Error()+"\n", fasthttp.StatusBadRequest)
			return
		}
		var b bytes.Buffer
		if csv {
			ctx.SetContentType("text/csv; charset=utf-8")
			_ = v.WriteCSV(&b)
		} else {
			ctx.SetContentType("application/json")
			_ = v.WriteJSON(&b)
		}
		ctx.SetBody(b.Bytes())
	}
	req, r = serve(t, admin, "GET", "/v1/report?group_by=campaign", nil, nil)
	body = check(t, v, "GET /v1/report", req, r, 200)
	var rep reports.View
	if err := json.Unmarshal(body, &rep); err != nil || rep.Total.Wins != 1 {
		t.Errorf("report %s: want the one win", body)
	}
	req, r = serve(t, admin, "GET", "/v1/report?group_by=hour&from=2026-01-01T00:00:00Z&format=csv", nil, nil)
	check(t, v, "GET /v1/report csv", req, r, 200)
	// /admin/rates through httpapi.RatesRoute, after a rebuild that saw the win.
	fb.HitRates().Rebuild(time.Now().Add(time.Hour))
	rates := httpapi.RatesRoute(fb.HitRates(), fb.Pacer())
	ratesH := func(ctx *fasthttp.RequestCtx) {
		q, _ := url.ParseQuery(string(ctx.QueryArgs().QueryString()))
		ct, b, err := rates(q)
		if err != nil {
			ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
			return
		}
		ctx.SetContentType(ct)
		ctx.SetBody(b)
	}
	req, r = serve(t, ratesH, "GET", "/admin/rates", nil, nil)
	if body := check(t, v, "GET /admin/rates", req, r, 200); !bytes.Contains(body, []byte(`"exchange_factors": [
    {`)) {
		t.Errorf("rates %s: want the win's exchange factor", body)
	}
	req, r = serve(t, admin, "GET", "/v1/report?group_by=week", nil, nil)
	if r.StatusCode != 400 {
		t.Errorf("bad group_by: %d", r.StatusCode)
	}
	if ok, errs := v.ValidateHttpResponse(req, r); !ok {
		t.Errorf("400 answer does not match: %v", errs[0].Message)
	}
}
