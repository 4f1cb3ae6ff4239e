package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/numbers"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// The /v1/calls tests run real number pools on the real clock: leases are
// taken a minute before the calls.

type answer struct {
	Accept      bool                `json:"accept"`
	Reason      string              `json:"reason"`
	Match       string              `json:"match"`
	Attribution *events.Attribution `json:"attribution"`
	Error       string              `json:"error"`
}

func newPools(t testing.TB, cfg numbers.Config) *numbers.Pools {
	t.Helper()
	p, err := numbers.New(cfg, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func onePool(n int) numbers.Config {
	nums := make([]string, n)
	for i := range nums {
		nums[i] = fmt.Sprintf("+1800%07d", i)
	}
	return numbers.Config{CallsToken: "tok", Pools: []numbers.PoolConfig{{
		ID: "p", Numbers: nums, Hold: 15 * time.Second, Lease: 30 * time.Minute, Cooldown: 30 * time.Minute,
	}}}
}

func testClaim(k int) *numbers.Claim {
	return &numbers.Claim{
		CampaignID: "camp-mortgage", PublisherID: fmt.Sprintf("pub-%d", k%7), SiteOrApp: "news.example.com",
		Exchange: "xchg", RequestID: fmt.Sprintf("req-%d", k), ImpID: "1", BidID: fmt.Sprintf("bid-%d", k),
		Skill: "mortgage", PriceMicros: 2_500_000, IPHash: uint64(k) * 31, IFAHash: uint64(k) * 17,
	}
}

// leaseOne reserves and wins a number for claim k at at.
func leaseOne(t testing.TB, p *numbers.Pools, k int, at time.Time) numbers.Reservation {
	t.Helper()
	r, ok := p.Reserve(0, testClaim(k), at)
	if !ok {
		t.Fatal("pool exhausted")
	}
	if w := p.Win(r.Ref, false, at.Add(time.Second)); w != numbers.WinLeased {
		t.Fatalf("Win = %s", w)
	}
	return r
}

func callBody(id, dnis, ext, ani string, at time.Time) string {
	return fmt.Sprintf(`{"call_id":%q,"dnis":%q,"ext":%q,"ani":%q,"started_at":%q}`, id, dnis, ext, ani, at.Format(time.RFC3339Nano))
}

// doCall posts body to /v1/calls with a bearer token (none when empty).
func doCall(t *testing.T, p *numbers.Pools, token, body string) (int, answer, string) {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.SetRequestURI("/v1/calls")
	if token != "" {
		ctx.Request.Header.Set("Authorization", "Bearer "+token)
	}
	ctx.Request.SetBodyString(body)
	serveCalls(&ctx, p)
	raw := string(ctx.Response.Body())
	var a answer
	if err := json.Unmarshal(ctx.Response.Body(), &a); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, raw)
	}
	return ctx.Response.StatusCode(), a, raw
}

func TestCallsAttributed(t *testing.T) {
	p := newPools(t, onePool(2))
	at := time.Now().Add(-time.Minute)
	r := leaseOne(t, p, 1, at)
	code, a, raw := doCall(t, p, "tok", callBody("c1", r.E164, "", "+14155550188", at.Add(30*time.Second)))
	if code != 200 || a.Match != numbers.MatchExact || !a.Accept || a.Reason != "attributed" || a.Attribution == nil ||
		a.Attribution.BidID != "bid-1" || a.Attribution.CampaignID != "camp-mortgage" {
		t.Fatalf("%d %s", code, raw)
	}
}

func TestCallsBadInput(t *testing.T) {
	t0 := time.Now()
	p := newPools(t, onePool(2))
	for _, c := range []struct {
		token, body string
		code        int
		msg         string
	}{
		{"", callBody("a", "+18000000000", "", "", t0), 401, "bearer token"},
		{"wrong", callBody("a", "+18000000000", "", "", t0), 401, "bearer token"},
		{"tok", `{"call_id":`, 400, "not valid JSON"},
		{"tok", `[]`, 400, "JSON object"},
		{"tok", `{"call_id":"a","dnis":"18005550100"}`, 400, `dnis "18005550100" is not an E.164 number`},
		{"tok", `{"dnis":"+18005550100"}`, 400, "call_id is required"},
		{"tok", `{"call_id":"a","dnis":"+18005550100","ext":"12a"}`, 400, "digits only"},
		{"tok", `{"call_id":"a","dnis":"+18005550100","started_at":"yesterday"}`, 400, "RFC 3339"},
		{"tok", `{"call_id":7,"dnis":"+18005550100"}`, 400, "call_id must be a string"},
	} {
		code, a, raw := doCall(t, p, c.token, c.body)
		if code != c.code || !strings.Contains(a.Error, c.msg) {
			t.Errorf("%q: %d %s, want %d with %q", c.body, code, raw, c.code, c.msg)
		}
	}
	// unknown number: 200, match none, counted
	code, a, _ := doCall(t, p, "tok", callBody("u1", "+19995550100", "", "+14155550188", t0))
	if code != 200 || a.Match != numbers.MatchNone || a.Attribution != nil || !a.Accept || a.Reason != "unattributed" {
		t.Fatalf("unknown number: %d %+v", code, a)
	}
	if st := p.Stats(); st.UnknownNumberCalls != 1 || st.BadCallBodies != 7 || st.Unauthorized != 2 {
		t.Fatalf("stats %+v", st)
	}
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodGet)
	serveCalls(&ctx, p)
	if ctx.Response.StatusCode() != 405 || string(ctx.Response.Header.Peek("Allow")) != "POST" ||
		string(ctx.Response.Body()) != `{"error":"use POST"}` {
		t.Fatalf("GET: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

// curl -d labels a JSON body form-encoded: it is still the JSON form with its
// bearer token (the README's own example), not a Twilio webhook.
func TestJSONCallLabelledFormEncoded(t *testing.T) {
	p := newPools(t, onePool(1))
	at := time.Now().Add(-time.Minute)
	r := leaseOne(t, p, 1, at)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.SetRequestURI("/v1/calls")
	ctx.Request.Header.Set("Authorization", "Bearer tok")
	ctx.Request.Header.SetContentType("application/x-www-form-urlencoded")
	ctx.Request.SetBodyString(callBody("c1", r.E164, "", "+14155550188", at.Add(time.Minute)))
	serveCalls(&ctx, p)
	var a answer
	if err := json.Unmarshal(ctx.Response.Body(), &a); err != nil || ctx.Response.StatusCode() != 200 || a.Match != numbers.MatchExact {
		t.Fatalf("status %d, answer %s (%v): want 200 and an exact match", ctx.Response.StatusCode(), ctx.Response.Body(), err)
	}
}

// FuzzCallBody: the /v1/calls body parser never panics, accepts only bodies
// that satisfy its checks, and what it accepts gives a JSON answer.
func FuzzCallBody(f *testing.F) {
	for _, s := range []string{
		`{"call_id":"c1","dnis":"+18005550100","ext":"","ani":"+14155550188","started_at":"2026-11-23T12:00:00Z"}`,
		`{"call_id":"c2","dnis":"+18000000000","ext":"42","ani":"anonymous"}`,
		`{"call_id":"c3","dnis":"+18000000001","started_at":"2026-11-23T12:00:00.123456789+02:00"}`,
		`{"call_id":"","dnis":"+1"}`, `{"call_id":"x","dnis":"+18005550100","ext":"1\u0000"}`,
		`[]`, `null`, `{`, `{"call_id":1}`, `{"call_id":"a\"b","dnis":"+18005550100","ani":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	cfg := onePool(1)
	cfg.Pools[0].Numbers = []string{"+18005550100"}
	p := newPools(f, cfg)
	leaseOne(f, p, 1, time.Now().Add(-time.Minute))
	f.Fuzz(func(t *testing.T, body []byte) {
		var ps fastjson.Parser
		var req numbers.CallRequest
		if err := parseCallBody(&ps, body, &req); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if len(req.CallID) == 0 || !numbers.ValidE164(string(req.DNIS)) {
			t.Fatalf("accepted %q: call id %q dnis %q", body, req.CallID, req.DNIS)
		}
		for _, c := range req.Ext {
			if c < '0' || c > '9' {
				t.Fatalf("accepted ext %q", req.Ext)
			}
		}
		if ans := p.Attribute(&req, nil).JSON; !json.Valid(ans) {
			t.Fatalf("answer is not JSON: %s", ans)
		}
	})
}

// BenchmarkHandleCalls: the whole POST /v1/calls route (auth, parse,
// lookup, answer) on a constructed RequestCtx; after the first 4,096 calls
// the call ids repeat (answered from the call memory). numbers'
// BenchmarkAttribute measures fresh calls.
func BenchmarkHandleCalls(b *testing.B) {
	cfg := onePool(100)
	p := newPools(b, cfg)
	at := time.Now().Add(-time.Minute)
	var refs []numbers.Reservation
	for k := range 100 {
		refs = append(refs, leaseOne(b, p, k, at))
	}
	bodies := make([][]byte, 1<<12)
	for k := range bodies {
		r := refs[k%len(refs)]
		bodies[k] = fmt.Appendf(nil, `{"call_id":"call-%d","dnis":%q,"ext":%q,"ani":"+14155550188","started_at":%q}`,
			k, r.E164, r.Ext, at.Add(time.Second).Format(time.RFC3339))
	}
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.Header.Set("Authorization", "Bearer tok")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ctx.Request.SetBodyRaw(bodies[i%len(bodies)])
		serveCalls(&ctx, p)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}

// A chat started from a tracking key is attributed through /v1/calls like a
// call: by key, or by dnis with its channel; once per call_id (a repeat gets
// the same answer), and a reused call_id for another key is a new contact.
func TestCallsTrackingKey(t *testing.T) {
	p := newPools(t, numbers.Config{CallsToken: "tok", Pools: []numbers.PoolConfig{{
		ID: "chat", Channel: "chat", Keys: numbers.KeysConfig{Prefix: "CH", Count: 4},
		Hold: 15 * time.Second, Lease: 30 * time.Minute, Cooldown: 30 * time.Minute,
	}}})
	at := time.Now().Add(-time.Minute)
	r1, r2 := leaseOne(t, p, 1, at), leaseOne(t, p, 2, at)
	started := at.Add(30 * time.Second).Format(time.RFC3339Nano)
	byKey := fmt.Sprintf(`{"call_id":"s1","key":%q,"channel":"chat","started_at":%q}`, r1.E164, started)
	code, a, raw := doCall(t, p, "tok", byKey)
	if code != 200 || a.Match != numbers.MatchExact || a.Attribution == nil || a.Attribution.BidID != "bid-1" {
		t.Fatalf("by key: %d %s", code, raw)
	}
	if _, _, again := doCall(t, p, "tok", byKey); again != raw {
		t.Fatalf("repeat answered %s, want %s", again, raw)
	}
	byDNIS := fmt.Sprintf(`{"call_id":"s2","dnis":%q,"channel":"chat","started_at":%q}`, r2.E164, started)
	if code, a, raw := doCall(t, p, "tok", byDNIS); code != 200 || a.Match != numbers.MatchExact || a.Attribution.BidID != "bid-2" {
		t.Fatalf("by dnis and channel: %d %s", code, raw)
	}
	// s1 again, now for the other key: a new contact (found in its cooldown), not s1's answer.
	reused := fmt.Sprintf(`{"call_id":"s1","key":%q,"started_at":%q}`, r2.E164, started)
	if code, a, raw := doCall(t, p, "tok", reused); code != 200 || a.Match != numbers.MatchCooldown || a.Attribution.BidID != "bid-2" {
		t.Fatalf("reused call_id: %d %s", code, raw)
	}
	st := p.Stats()
	if st.Calls[numbers.MatchExact] != 2 || st.DuplicateCalls != 1 || st.ReusedCallIDs != 1 {
		t.Fatalf("stats %+v", st)
	}
	for _, c := range []struct{ body, msg string }{
		{`{"call_id":"a","dnis":"CH00"}`, `dnis "CH00" is not an E.164 number (a tracking key needs channel`},
		{`{"call_id":"a","key":"CH00","dnis":"+18005550100"}`, "dnis or key, not both"},
		{`{"call_id":"a","key":"CH 00"}`, "is not a tracking key"},
		{`{"call_id":"a","key":"CH00","channel":"voice"}`, "not voice"},
		{`{"call_id":"a","dnis":"+18005550100","channel":"chat"}`, "needs a tracking key"},
		{`{"call_id":"a","key":"CH00","channel":"fax"}`, `channel "fax" is not voice, chat, sms or callback`},
		{`{"call_id":"a"}`, "dnis is required (or key"},
	} {
		if code, a, raw := doCall(t, p, "tok", c.body); code != 400 || !strings.Contains(a.Error, c.msg) {
			t.Errorf("%s: %d %s, want 400 with %q", c.body, code, raw, c.msg)
		}
	}
}
