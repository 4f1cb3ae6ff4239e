package httpapi

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/numbers"

	"github.com/valyala/fasthttp"
)

// Twilio's documented request-validation example (its security docs and
// the RequestValidator tests of its helper libraries): auth token 12345,
// this URL and these POST parameters sign to this value.
func TestTwilioSignatureDocumentedExample(t *testing.T) {
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675309"},
		"Digits":  {"1234"},
		"From":    {"+14158675309"},
		"To":      {"+18005551212"},
	}
	got := twilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params)
	if got != "RSOYDt4T1cUTdK1PDd93/VVr8B8=" {
		t.Fatalf("signature = %s, want Twilio's RSOYDt4T1cUTdK1PDd93/VVr8B8=", got)
	}
	params.Set("Digits", "9999")
	if twilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params) == got {
		t.Fatal("a changed parameter kept the signature")
	}
}

const twilioTok = "twilio-auth-token-1"

// twilioPost posts a form to /v1/calls as Twilio would, signed over
// signURL with token (no signature when token is empty).
func twilioPost(p *numbers.Pools, requestURI, signURL, token, accept string, form url.Values) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.SetRequestURI(requestURI)
	ctx.Request.Header.SetHost("callbid.internal:8080")
	ctx.Request.Header.SetContentType("application/x-www-form-urlencoded; charset=utf-8")
	if token != "" {
		ctx.Request.Header.Set("X-Twilio-Signature", twilioSignature(token, signURL, form))
	}
	if accept != "" {
		ctx.Request.Header.Set("Accept", accept)
	}
	ctx.Request.SetBodyString(form.Encode())
	serveCalls(&ctx, p)
	return &ctx
}

func twilioForm(callSid, to, from string) url.Values {
	// the fields Twilio's voice webhook sends, among them the three callbid reads
	return url.Values{
		"CallSid": {callSid}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"},
		"From": {from}, "To": {to}, "Caller": {from}, "Called": {to},
		"CallStatus": {"ringing"}, "Direction": {"inbound"}, "ApiVersion": {"2010-04-01"},
		"FromCountry": {"US"}, "ToCountry": {"US"},
	}
}

func TestTwilioWebhookAttributed(t *testing.T) {
	cfg := onePool(4)
	cfg.Twilio = numbers.TwilioConfig{AuthToken: twilioTok, PublicURL: "https://bid.example.com/v1/calls",
		NextURL: "https://cc.example.com/flow?x=1"}
	p := newPools(t, cfg)
	r := leaseOne(t, p, 1, time.Now().Add(-time.Minute))

	form := twilioForm("CA0001", r.E164, "+14155550188")
	ctx := twilioPost(p, "/v1/calls", "https://bid.example.com/v1/calls", twilioTok, "", form)
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if ct := string(ctx.Response.Header.ContentType()); ct != "text/xml" {
		t.Fatalf("content type %q, want text/xml", ct)
	}
	body := string(ctx.Response.Body())
	want := `<Redirect method="POST">https://cc.example.com/flow?x=1&amp;callbid_accept=true&amp;callbid_campaign=camp-mortgage&amp;callbid_match=exact&amp;callbid_publisher=pub-1</Redirect>`
	if !strings.Contains(body, want) {
		t.Fatalf("TwiML %s lacks %s", body, want)
	}

	// The same call again with Accept: JSON gets the JSON form's answer
	// (the same attribution, not counted twice).
	ctx = twilioPost(p, "/v1/calls", "https://bid.example.com/v1/calls", twilioTok, "application/json", form)
	var a answer
	if err := json.Unmarshal(ctx.Response.Body(), &a); err != nil {
		t.Fatalf("%v: %s", err, ctx.Response.Body())
	}
	if a.Match != numbers.MatchExact || a.Attribution == nil || a.Attribution.CampaignID != "camp-mortgage" || a.Attribution.BidID != "bid-1" {
		t.Fatalf("answer %+v", a)
	}
	st := p.Stats()
	if st.Calls[numbers.MatchExact] != 1 || st.DuplicateCalls != 1 || st.BadTwilioSignatures != 0 {
		t.Fatalf("stats: calls %v duplicates %d bad signatures %d", st.Calls, st.DuplicateCalls, st.BadTwilioSignatures)
	}
	// attributed as the JSON form would: call_id = CallSid, dnis = To (the
	// JSON form's same call is a duplicate)
	if code, _, raw := doCall(t, p, "tok", `{"call_id":"CA0001","dnis":"`+r.E164+`","ani":"+14155550188"}`); code != 200 ||
		p.Stats().DuplicateCalls != 2 {
		t.Fatalf("the same call by the JSON form: %d %s, %d duplicates", code, raw, p.Stats().DuplicateCalls)
	}
}

func TestTwilioWebhookBadSignature(t *testing.T) {
	cfg := onePool(2)
	cfg.Twilio = numbers.TwilioConfig{AuthToken: twilioTok, PublicURL: "https://bid.example.com/v1/calls"}
	p := newPools(t, cfg)
	r := leaseOne(t, p, 1, time.Now().Add(-time.Minute))
	form := twilioForm("CA0002", r.E164, "+14155550188")
	for name, c := range map[string]struct{ signURL, token string }{
		"wrong token":      {"https://bid.example.com/v1/calls", "another-token"},
		"internal URL":     {"http://callbid.internal:8080/v1/calls", twilioTok},
		"no signature":     {"", ""},
		"URL with a query": {"https://bid.example.com/v1/calls?x=1", twilioTok},
	} {
		ctx := twilioPost(p, "/v1/calls", c.signURL, c.token, "", form)
		if ctx.Response.StatusCode() != fasthttp.StatusForbidden {
			t.Fatalf("%s: status %d, want 403", name, ctx.Response.StatusCode())
		}
	}
	// a tampered body with a signature of the original
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.SetRequestURI("/v1/calls")
	ctx.Request.Header.SetContentType("application/x-www-form-urlencoded")
	ctx.Request.Header.Set("X-Twilio-Signature", twilioSignature(twilioTok, "https://bid.example.com/v1/calls", form))
	forged := twilioForm("CA0002", r.E164, "+19995550000")
	ctx.Request.SetBodyString(forged.Encode())
	serveCalls(&ctx, p)
	if ctx.Response.StatusCode() != fasthttp.StatusForbidden {
		t.Fatalf("tampered: status %d", ctx.Response.StatusCode())
	}
	st := p.Stats()
	if st.BadTwilioSignatures != 5 || st.Calls[numbers.MatchExact] != 0 {
		t.Fatalf("bad signatures %d (want 5), calls %v (want none)", st.BadTwilioSignatures, st.Calls)
	}
	if n := callsCounted(p); n != 0 {
		t.Fatalf("%d refused calls were attributed", n)
	}

	// no auth token configured: every form post is refused
	p2 := newPools(t, onePool(1))
	ctx2 := twilioPost(p2, "/v1/calls", "http://callbid.internal:8080/v1/calls", "", "", form)
	if ctx2.Response.StatusCode() != fasthttp.StatusForbidden || p2.Stats().BadTwilioSignatures != 1 {
		t.Fatalf("unconfigured: status %d", ctx2.Response.StatusCode())
	}
}

// Without public_url the signed URL is the request's own; a query string
// is part of it.
func TestTwilioWebhookOwnURLAndExtensions(t *testing.T) {
	cfg := numbers.Config{CallsToken: "tok", Twilio: numbers.TwilioConfig{AuthToken: twilioTok}, Pools: []numbers.PoolConfig{{
		ID: "p", Extensions: []numbers.ExtensionRange{{Number: "+18005550110", From: 100, To: 103}},
		Hold: 15 * time.Second, Lease: 30 * time.Minute, Cooldown: 30 * time.Minute,
	}}}
	p := newPools(t, cfg)
	r := leaseOne(t, p, 3, time.Now().Add(-time.Minute))
	own := "http://callbid.internal:8080/v1/calls?src=twilio"
	form := twilioForm("CA0003", r.E164, "+14155550188")
	ctx := twilioPost(p, "/v1/calls?src=twilio", own, twilioTok, "", form)
	body := string(ctx.Response.Body())
	if ctx.Response.StatusCode() != 200 || !strings.Contains(body, "<Gather") {
		t.Fatalf("without Digits on an extension number: %d %s, want a <Gather>", ctx.Response.StatusCode(), body)
	}
	if n := callsCounted(p); n != 0 {
		t.Fatal("the call was attributed before its extension was known")
	}
	if strings.Contains(body, "<Redirect") {
		t.Fatalf("no next_url, yet a Redirect after the Gather: %s", body)
	}
	form.Set("Digits", r.Ext)
	ctx = twilioPost(p, "/v1/calls?src=twilio", own, twilioTok, "application/json", form)
	var a answer
	if err := json.Unmarshal(ctx.Response.Body(), &a); err != nil {
		t.Fatalf("%v: %s", err, ctx.Response.Body())
	}
	if a.Match != numbers.MatchExact || a.Attribution == nil || a.Attribution.BidID != "bid-3" {
		t.Fatalf("with Digits %s: %+v", r.Ext, a)
	}
	// no next_url: an empty <Response/>
	ctx = twilioPost(p, "/v1/calls?src=twilio", own, twilioTok, "", form)
	if b := string(ctx.Response.Body()); !strings.HasSuffix(b, "<Response></Response>") {
		t.Fatalf("TwiML without next_url: %s", b)
	}
}

// A caller who enters no extension goes on to next_url, unattributed.
func TestTwilioGatherThenNextURL(t *testing.T) {
	cfg := numbers.Config{CallsToken: "tok", Twilio: numbers.TwilioConfig{AuthToken: twilioTok, NextURL: "https://cc.example.com/flow"},
		Pools: []numbers.PoolConfig{{ID: "p", Extensions: []numbers.ExtensionRange{{Number: "+18005550110", From: 100, To: 101}}}}}
	p := newPools(t, cfg)
	form := twilioForm("CA0004", "+18005550110", "+14155550188")
	ctx := twilioPost(p, "/v1/calls", "http://callbid.internal:8080/v1/calls", twilioTok, "", form)
	want := `<Response><Gather input="dtmf" finishOnKey="#" timeout="5"/><Redirect method="POST">https://cc.example.com/flow?callbid_accept=true&amp;callbid_campaign=&amp;callbid_match=none&amp;callbid_publisher=</Redirect></Response>`
	if b := string(ctx.Response.Body()); !strings.HasSuffix(b, want) {
		t.Fatalf("TwiML %s, want …%s", b, want)
	}
}

// callsCounted is the number of calls attributed (any match).
func callsCounted(p *numbers.Pools) uint64 {
	var n uint64
	for _, c := range p.Stats().Calls {
		n += c
	}
	return n
}
