package bridge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/ccbridge"
	"github.com/callbid/callbid/ccbridge/ccbridgetest"
	"github.com/callbid/callbid/events"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// The webhook tests run the bridge behind its listener, with the test
// doubles and fixtures of ccbridge's tests (ccbridgetest).

func newTestBridge(t *testing.T, yaml string) (*ccbridge.Bridge, *ccbridgetest.Sink, *ccbridgetest.Clock) {
	t.Helper()
	cfg, err := ccbridge.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.Embedded.Enabled = true // no brokers needed: the sink is fake
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	clk := ccbridgetest.NewClock()
	sink := &ccbridgetest.Sink{}
	br, err := ccbridge.New(*cfg, sink, zerolog.Nop(), ccbridge.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	return br, sink, clk
}

const twilioYAML = `
twilio:
  auth_token: 0123456789abcdef0123456789abcdef
  public_url: https://bridge.example.com
  task_queues: {Mortgage: mortgage}
dispositions: {Sale: SALE}
`

const genesysYAML = `
genesys:
  skills:
    8f2d4c6e-1a3b-4d5f-9e7c-2b4d6f8a0c1e: [{name: mortgage, proficiency: 4.5}]
  queues: {3b5d7f9a-2c4e-4a6b-8d0f-1e3a5c7e9b2d: mortgage}
dispositions: {7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a: SALE}
`

// postTwilioEvents posts body as the Event Streams webhook sink does:
// bodySHA256 in the URL, the URL signed.
func postTwilioEvents(b *ccbridge.Bridge, body []byte, token string) int {
	sum := sha256.Sum256(body)
	uri := PathTwilioEvents + "?bodySHA256=" + hex.EncodeToString(sum[:])
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI(uri)
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.Header.Set("X-Twilio-Signature", TwilioSignature(token, "https://bridge.example.com"+uri, nil))
	ctx.Request.SetBody(body)
	(&webhook{br: b, auth: b.WebhookAuth()}).serve(&ctx)
	return ctx.Response.StatusCode()
}

func TestTwilioEventStreams(t *testing.T) {
	b, sink, _ := newTestBridge(t, twilioYAML)
	for i := 1; i <= 7; i++ {
		body := ccbridgetest.Fixture(t, "twilio-eventstreams-"+string(rune('0'+i))+".json")
		if code := postTwilioEvents(b, body, "0123456789abcdef0123456789abcdef"); code != 204 {
			t.Fatalf("batch %d: status %d", i, code)
		}
	}
	got := ccbridgetest.AgentStates(t, sink)
	ccbridgetest.CheckSteps(t, got, []ccbridgetest.Step{
		{"LOGIN", "AVAILABLE", ""},
		{"STATE_CHANGE", "RESERVED", ""},    // reservation.created
		{"STATE_CHANGE", "BUSY", ""},        // reservation.accepted
		{"STATE_CHANGE", "BUSY", "OFFLINE"}, // activity Offline while the call goes on
		{"STATE_CHANGE", "ACW", "OFFLINE"},  // reservation.wrapup
		{"LOGOUT", "OFFLINE", ""},           // reservation.completed: nothing in hand, activity Offline
	})
	want := []events.AgentSkill{{Name: "mortgage", Proficiency: 4}, {Name: "spanish", Proficiency: 5}}
	if !slices.Equal(got[0].Skills, want) || got[0].AgentID != "WKa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6" || got[0].TTLSeconds != 180 {
		t.Errorf("first record %+v, want skills %+v from the worker attributes string, ttl 180", got[0], want)
	}
	cs := ccbridgetest.Calls(t, sink)
	kinds := []string{"OFFERED", "QUEUED", "ANSWERED", "ENDED"}
	if len(cs) != len(kinds) {
		t.Fatalf("%d call records, want %d (task.completed after task.wrapup is not a second ENDED): %+v", len(cs), len(kinds), cs)
	}
	for i, c := range cs {
		if c.EventType != kinds[i] || c.CallID != "CA5f4e3d2c1b0a99887766554433221100" || c.ANI != "+14155550188" || c.DNIS != "+18005550110" {
			t.Errorf("call %d: %+v", i, c)
		}
	}
	if cs[1].Skill != "mortgage" || cs[2].AgentID != got[0].AgentID || cs[2].QueueWaitMS != 12000 {
		t.Errorf("QUEUED skill %q, ANSWERED agent %q wait %d", cs[1].Skill, cs[2].AgentID, cs[2].QueueWaitMS)
	}
	if cs[3].TalkMS != 230486 || cs[3].EndReason != "CUSTOMER_HANGUP" {
		t.Errorf("ENDED talk %d reason %q", cs[3].TalkMS, cs[3].EndReason)
	}
	os := ccbridgetest.Outcomes(t, sink)
	if len(os) != 1 || os[0].CallID != cs[0].CallID || os[0].Disposition != "SALE" || !os[0].IsFinal {
		t.Errorf("outcomes %+v, want one final SALE from conversations.outcome", os)
	}

	// A wrong signature is refused and counted; nothing is mapped.
	before := sink.Len()
	if code := postTwilioEvents(b, ccbridgetest.Fixture(t, "twilio-eventstreams-1.json"), "not-the-token"); code != 401 {
		t.Errorf("bad signature: status %d, want 401", code)
	}
	if sink.Len() != before || b.Stats().Bad != 1 {
		t.Errorf("bad signature mapped something or was not counted: %+v", b.Stats())
	}
}

func TestTwilioTaskRouterCallback(t *testing.T) {
	b, sink, _ := newTestBridge(t, twilioYAML)
	var params map[string]string
	if err := json.Unmarshal(ccbridgetest.Fixture(t, "twilio-taskrouter-callback-worker-activity-update.json"), &params); err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	post := func(sig string) int {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI(PathTwilioTaskRouter)
		ctx.Request.Header.SetContentType("application/x-www-form-urlencoded")
		ctx.Request.Header.Set("X-Twilio-Signature", sig)
		ctx.Request.SetBodyString(form.Encode())
		(&webhook{br: b, auth: b.WebhookAuth()}).serve(&ctx)
		return ctx.Response.StatusCode()
	}
	if code := post(TwilioSignature("0123456789abcdef0123456789abcdef", "https://bridge.example.com"+PathTwilioTaskRouter, params)); code != 204 {
		t.Fatalf("status %d", code)
	}
	got := ccbridgetest.AgentStates(t, sink)
	ccbridgetest.CheckSteps(t, got, []ccbridgetest.Step{{"LOGIN", "AVAILABLE", ""}})
	if !got[0].OccurredAt.Equal(time.UnixMilli(1795443000000)) || len(got[0].Skills) != 2 {
		t.Errorf("record %+v: want TimestampMs and two skills", got[0])
	}
	params["WorkerActivityName"] = "Offline" // tampered after signing
	if code := post(TwilioSignature("0123456789abcdef0123456789abcdef", "https://bridge.example.com"+PathTwilioTaskRouter, map[string]string{"x": "y"})); code != 401 {
		t.Errorf("signature over other params: status %d, want 401", code)
	}
}

func TestGenesysViaEventBridge(t *testing.T) {
	b, sink, _ := newTestBridge(t, genesysYAML+"webhook: {api_key: s3cret}\n")
	post := func(key string) int {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI(PathEventBridge)
		ctx.Request.Header.Set("X-Api-Key", key)
		ctx.Request.SetBody(ccbridgetest.Fixture(t, "genesys-eventbridge-routing-status.json"))
		(&webhook{br: b, auth: b.WebhookAuth()}).serve(&ctx)
		return ctx.Response.StatusCode()
	}
	if code := post("wrong"); code != 401 {
		t.Errorf("wrong API key: %d, want 401", code)
	}
	if code := post("s3cret"); code != 204 {
		t.Fatalf("status %d", code)
	}
	ccbridgetest.CheckSteps(t, ccbridgetest.AgentStates(t, sink), []ccbridgetest.Step{{"LOGIN", "AVAILABLE", ""}})
}

func TestBadInput(t *testing.T) {
	b, sink, _ := newTestBridge(t, "webhook: {allow_unauthenticated: true}\n")
	post := func(path, body string) int {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI(path)
		ctx.Request.SetBodyString(body)
		(&webhook{br: b, auth: b.WebhookAuth()}).serve(&ctx)
		return ctx.Response.StatusCode()
	}
	for _, tc := range []struct {
		path, body string
		code       int
	}{
		{PathEventBridge, `{"detail-type":`, 400},
		{PathGenesys, `{"hello":"world"}`, 400},
		{PathGenesys, `{"topicName":"v2.users.u1.presence","eventBody":{"presenceDefinition":{}}}`, 400},
		{PathTwilioEvents, `[{"specversion":"1.0","type":"com.twilio.taskrouter.worker.activity.update","data":{}}]`, 400},
		{PathTwilioEvents, `[{"specversion":"1.0","type":"com.twilio.voice.status-callback.call.ringing","data":{}}]`, 204},
		{PathEventBridge, `{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}`, 204},
		{"/nope", `{}`, 404},
	} {
		if code := post(tc.path, tc.body); code != tc.code {
			t.Errorf("POST %s %s: %d, want %d", tc.path, tc.body, code, tc.code)
		}
	}
	if st := b.Stats(); st.Bad != 4 || st.Ignored != 2 || sink.Len() != 0 {
		t.Errorf("stats %+v, %d records", st, sink.Len())
	}
	// NDJSON: a bad line is skipped, the rest mapped.
	in := "not json\n{\"topicName\":\"v2.users.u2.routingStatus\",\"eventBody\":{\"routingStatus\":{\"status\":\"IDLE\"}}}\n"
	if err := b.ReadNDJSON(context.Background(), strings.NewReader(in), "t"); err != nil {
		t.Fatal(err)
	}
	if len(ccbridgetest.AgentStates(t, sink)) != 1 || b.Stats().Bad != 5 {
		t.Errorf("NDJSON with one bad line: %+v", b.Stats())
	}
	// A line past max_body_bytes is skipped, not the end of the input; the
	// last line has no newline.
	long := "{\"topicName\":\"" + strings.Repeat("x", 2<<20) + "\"}\n"
	in = long + "{\"topicName\":\"v2.users.u3.routingStatus\",\"eventBody\":{\"routingStatus\":{\"status\":\"IDLE\"}}}"
	if err := b.ReadNDJSON(context.Background(), strings.NewReader(in), "t"); err != nil {
		t.Fatal(err)
	}
	if len(ccbridgetest.AgentStates(t, sink)) != 2 || b.Stats().Bad != 6 {
		t.Errorf("NDJSON with an overlong line: %+v", b.Stats())
	}
}

func TestMetrics(t *testing.T) {
	b, _, _ := newTestBridge(t, genesysYAML)
	if err := b.ReadNDJSON(context.Background(), bytes.NewReader(ccbridgetest.Fixture(t, "genesys-notifications.ndjson")), "genesys"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := b.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/metrics")
	adminHandler(reg)(&ctx)
	body := string(ctx.Response.Body())
	for _, want := range []string{
		`ccbridge_records_total{topic="cc.agent-state.v1"} 5`,
		`ccbridge_records_total{topic="cc.call.v1"} 4`,
		`ccbridge_records_total{topic="cc.outcome.v1"} 1`,
		`ccbridge_stale_events_total 1`,
		`ccbridge_agents 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestWebhookListener posts through a real socket to the fasthttp server:
// a signed Event Streams batch is mapped, an oversized body refused.
func TestWebhookListener(t *testing.T) {
	b, sink, _ := newTestBridge(t, twilioYAML+"webhook: {max_body_bytes: 65536}\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Webhook(b)
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown() }()
	body := ccbridgetest.Fixture(t, "twilio-eventstreams-1.json")
	sum := sha256.Sum256(body)
	uri := PathTwilioEvents + "?bodySHA256=" + hex.EncodeToString(sum[:])
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+uri, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Twilio-Signature", TwilioSignature("0123456789abcdef0123456789abcdef", "https://bridge.example.com"+uri, nil))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || len(ccbridgetest.AgentStates(t, sink)) != 1 {
		t.Fatalf("status %d, %d records", resp.StatusCode, len(ccbridgetest.AgentStates(t, sink)))
	}
	resp, err = http.Post("http://"+ln.Addr().String()+PathGenesys, "application/json", bytes.NewReader(make([]byte, 70000)))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Errorf("oversized body: %d, want 413", resp.StatusCode)
		}
	} // fasthttp may also close the connection on an oversized body: refused either way
	resp, err = http.Get("http://" + ln.Addr().String() + PathGenesys)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET %s: %d, want 405", PathGenesys, resp.StatusCode)
	}
}

// A Shutdown that comes before Serve (SIGTERM during start-up) still makes
// Serve return and closes its listener: fasthttp's own Shutdown does
// nothing to a listener it does not serve yet.
func TestShutdownBeforeServeReturns(t *testing.T) {
	br, _, _ := newTestBridge(t, twilioYAML)
	srv := Webhook(br)
	if err := srv.Shutdown(); err != nil {
		t.Fatalf("Shutdown before Serve: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("the listener still accepts after Serve returned")
	}
}
