package capacity

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// fakeClock is the model's injected clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time                { return c.t }
func (c *fakeClock) add(d time.Duration)           { c.t = c.t.Add(d) }
func (c *fakeClock) ago(d time.Duration) time.Time { return c.t.Add(-d) }

func newTestModel(t testing.TB, cfg Config, skills ...string) (*Model, *fakeClock) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	m := mustNew(t, cfg, skills)
	clk := &fakeClock{t: time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)}
	m.now = clk.now
	return m, clk
}

// agentEv is an agent-state event with its encoding to a Kafka message.
type agentEv struct {
	id    string
	seq   int64
	typ   string
	state string
	at    time.Time
	ttl   int
	sk    []events.AgentSkill
}

func (e agentEv) msg(t testing.TB) kafkaio.Message {
	t.Helper()
	b, err := json.Marshal(events.AgentState{
		AgentID: e.id, Seq: e.seq, EventType: e.typ, OccurredAt: e.at, RoutingState: e.state,
		Skills: e.sk, Channels: []string{"voice"}, TTLSeconds: e.ttl,
	})
	if err != nil {
		t.Fatal(err)
	}
	return kafkaio.Message{Topic: events.TopicAgentState, Key: []byte(e.id), Value: b, Time: e.at}
}

func sk(name string, prof float64) events.AgentSkill {
	return events.AgentSkill{Name: name, Proficiency: prof}
}

func callMsg(t testing.TB, c events.Call) kafkaio.Message {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return kafkaio.Message{Topic: events.TopicCall, Key: []byte(c.CallID), Value: b}
}

func agentID(i int) string { return "acme:agent-" + itoa(i) }

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// staff logs in n agents for skill at prof in state, ids from first.
func staff(t testing.TB, m *Model, clk *fakeClock, first, n int, skill string, prof float64, state string) {
	t.Helper()
	for i := first; i < first+n; i++ {
		feedAgent(m, agentEv{id: agentID(i), seq: 1, typ: "LOGIN", state: state, at: clk.t, sk: []events.AgentSkill{sk(skill, prof)}}.msg(t))
	}
}

func (m *Model) view(skill string) *skillView { return m.snap.Load().skills[skill] }

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

type fixedCommit map[string]float64

func (f fixedCommit) CommittedCalls(skill string) float64 { return f[skill] }

// TestWorkedExample is the doc.go example, computed by hand from the
// research table (λ_max(20 agents, AHT 360 s, 80/20) = 2.6582/min).
func TestWorkedExample(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DefaultHandleTime = 360 * time.Second
	m, clk := newTestModel(t, cfg, "mortgage")
	// 20 agents at proficiency ≥ 3 (one of them 4.5 and free), 5 at 2.0.
	staff(t, m, clk, 0, 12, "mortgage", 3.5, "BUSY")
	staff(t, m, clk, 12, 7, "mortgage", 3.0, "AVAILABLE")
	staff(t, m, clk, 19, 1, "mortgage", 4.5, "AVAILABLE")
	staff(t, m, clk, 20, 5, "mortgage", 2.0, "AVAILABLE")
	m.SetCommitments(fixedCommit{"mortgage": 0.3})
	// λ_now = λ_load = 1.5 calls/min, set directly: the EWMA has its own
	// test. (AHT 360 s > arrival_window: both average over 2 min.)
	m.mu.Lock()
	s := m.skills[m.skillIdx["mortgage"]]
	s.rate, s.rateAt = 1.5/60, clk.t.UnixNano()
	s.load, s.loadAt = 1.5/60, clk.t.UnixNano()
	m.mu.Unlock()
	m.rebuild()

	v := m.view("mortgage")
	if v.staffedAtLeast[bucketAtLeast(3)] != 20 || v.staffed != 25 || v.available != 13 || v.busy != 12 {
		t.Fatalf("counts: ≥3.0 %d, staffed %d, available %d, busy %d; want 20, 25, 13, 12",
			v.staffedAtLeast[6], v.staffed, v.available, v.busy)
	}
	if !near(v.staffedWeighted, 12*3.5+7*3+4.5+5*2, 1e-9) || !near(v.availableWeighted, 7*3+4.5+5*2, 1e-9) {
		t.Errorf("weighted staffed %.3f available %.3f", v.staffedWeighted, v.availableWeighted)
	}
	const lm20 = 2.6582
	if !near(v.lambdaMax[6], lm20, 1e-4) {
		t.Errorf("λ_max(≥3.0) = %.5f, want %.4f", v.lambdaMax[6], lm20)
	}
	wantH := lm20 - 1.5 - 0.3 // 0.8582
	if !near(v.headroom[6], wantH, 1e-4) {
		t.Errorf("headroom(≥3.0) = %.5f, want %.4f", v.headroom[6], wantH)
	}
	got := m.View("mortgage", 3.0, 0)
	if !near(got.Factor, wantH, 1e-4) || got.PremiumFree || got.State != Fresh {
		t.Errorf("View(min 3) = %+v, want factor %.4f", got, wantH)
	}
	got = m.View("mortgage", 3.0, 4.5)
	if !near(got.Factor, wantH, 1e-4) || !got.PremiumFree {
		t.Errorf("View(min 3, premium 4.5) = %+v, want factor %.4f premium free", got, wantH)
	}
	// Nobody at 5.0 is free: no premium.
	if got = m.View("mortgage", 3.0, 5); got.PremiumFree || !near(got.Factor, wantH, 1e-4) {
		t.Errorf("View(min 3, premium 5) = %+v", got)
	}
	// All 25 agents: λ_max(25) = 3.4194, headroom 1.62 ≥ full_headroom → 1.
	if got = m.View("mortgage", 0, 0); got.Factor != 1 {
		t.Errorf("View(min 0) = %+v, want factor 1", got)
	}
	// Only the one 4.5 agent: λ_max(1) = 0.0348 < demand → no bid.
	if got = m.View("mortgage", 4.5, 0); got.Factor != 0 || got.State != NoHeadroom {
		t.Errorf("View(min 4.5) = %+v, want no headroom", got)
	}
	// One call waiting: 1/horizon(1 min) more demand → headroom −0.14 → no bid.
	feedCall(m, callMsg(t, events.Call{CallID: "c1", EventType: "QUEUED", Skill: "mortgage", OccurredAt: clk.ago(5 * time.Second)}))
	m.mu.Lock()
	s.rate, s.rateAt = 1.5/60, clk.t.UnixNano() // undo the arrival's effect on the rate
	s.load, s.loadAt = 1.5/60, clk.t.UnixNano()
	m.mu.Unlock()
	m.rebuild()
	if h := m.view("mortgage").headroom[6]; !near(h, wantH-1, 1e-4) {
		t.Errorf("headroom with one waiting = %.5f, want %.4f", h, wantH-1)
	}
	if got = m.View("mortgage", 3, 0); got.Factor != 0 || got.State != NoHeadroom {
		t.Errorf("View with one waiting = %+v, want no headroom", got)
	}
	if h, late := m.Headroom("mortgage"); late || !near(h, 3.4194-1.5-0.3-1, 1e-3) {
		t.Errorf("Headroom = %.4f, %v; want %.4f, false", h, late, 3.4194-1.5-0.3-1)
	}
	if got := m.View("unknown-skill", 0, 0); got.Factor != 0 || got.State != NoHeadroom {
		t.Errorf("unknown skill: %+v", got)
	}
}

// TestPremiumFree: PremiumFree needs min_available premium agents free, and
// the factor stays the headroom ramp: the price multiplier is the bidder's.
func TestPremiumFree(t *testing.T) {
	m, clk := newTestModel(t, Config{Premium: PremiumConfig{MinAvailable: 2}}, "mortgage")
	staff(t, m, clk, 0, 30, "mortgage", 3, "BUSY")
	staff(t, m, clk, 30, 1, "mortgage", 5, "AVAILABLE")
	m.rebuild()
	if v := m.View("mortgage", 3, 5); v.PremiumFree || v.Factor != 1 {
		t.Fatalf("one free at 5 with min_available 2: %+v", v)
	}
	staff(t, m, clk, 31, 1, "mortgage", 5, "AVAILABLE")
	m.rebuild()
	if v := m.View("mortgage", 3, 5); !v.PremiumFree || v.Factor != 1 || v.State != Fresh {
		t.Fatalf("two free at 5: %+v, want premium free at factor 1", v)
	}
}

func TestRamp(t *testing.T) {
	f := func(h, min, full, want float64) {
		t.Helper()
		if got := ramp(h, FactorConfig{MinHeadroom: min, FullHeadroom: full}); !near(got, want, 1e-12) {
			t.Errorf("ramp(%v; %v..%v) = %v, want %v", h, min, full, got, want)
		}
	}
	f(-1, 0, 1, 0)
	f(0, 0, 1, 0)
	f(0.25, 0, 1, 0.25)
	f(1, 0, 1, 1)
	f(7, 0, 1, 1)
	f(0.5, 0.5, 2.5, 0)
	f(1.5, 0.5, 2.5, 0.5)
	f(math.NaN(), 0, 1, 0)
}

func TestBucketAtLeast(t *testing.T) {
	f := func(p float64, want int) {
		t.Helper()
		if got := bucketAtLeast(p); got != want {
			t.Errorf("bucketAtLeast(%v) = %d, want %d", p, got, want)
		}
	}
	f(-1, 0)
	f(0, 0)
	f(math.NaN(), 0)
	f(0.1, 1)
	f(0.5, 1)
	f(3, 6)
	f(3.2, 7)
	f(4.5, 9)
	f(4.99, 10)
	f(5, 10)
	f(99, 10)
}

func TestBadEventsRejectedBeforeTheModel(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "mortgage")
	staff(t, m, clk, 0, 1, "mortgage", 4, "AVAILABLE")
	bad := map[string]string{
		`{"agent_id":`: events.ReasonMalformedJSON,
		`not json`:     events.ReasonMalformedJSON,
		`{"agent_id":"a","seq":"x","event_type":"LOGIN","routing_state":"AVAILABLE"}`:                                          events.ReasonMalformedJSON,
		`{"agent_id":"a","seq":-1,"event_type":"LOGIN","routing_state":"AVAILABLE"}`:                                           events.ReasonNegativeSeq,
		`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","ttl_seconds":-5}`:                           events.ReasonNegativeTTL,
		`{"agent_id":"a","seq":2,"event_type":"LOGOUT","routing_state":"GONE"}`:                                                events.ReasonUnknownState,
		`{"seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE"}`:                                                           events.ReasonMissingAgentID,
		`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"ON_BREAK"}`:                                             events.ReasonUnknownState,
		`{"agent_id":"a","seq":1,"event_type":"STATE_CHANGE"}`:                                                                 events.ReasonUnknownState,
		`{"agent_id":"a","seq":1,"event_type":"CONFIG_CHANGE","routing_state":"AVAILABLE"}`:                                    events.ReasonUnknownEventType,
		`{"agent_id":"a","seq":1,"routing_state":"AVAILABLE"}`:                                                                 events.ReasonUnknownEventType,
		`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"name":"m","proficiency":-0.5}]}`: events.ReasonNegativeProficiency,
		`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"name":"m","proficiency":5.5}]}`:  events.ReasonProficiencyOutOfRange,
		`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"name":"m","proficiency":1e9}]}`:  events.ReasonProficiencyOutOfRange,
		`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"proficiency":3}]}`:               events.ReasonMissingSkillName,
		`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","occurred_at":"9999-12-31T23:59:59Z"}`:       events.ReasonFutureTime,
		`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","next_routing_state":"BUSY"}`:                events.ReasonUnknownNextState,
		`{"agent_id":"a","event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"name":"mortgage","proficiency":1}]}`:     events.ReasonMissingTime,
		`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","ttl_seconds":99999999999}`:                  events.ReasonTTLOutOfRange,
	}
	for v, want := range bad {
		if got := events.Reason(feedAgent(m, kafkaio.Message{Value: []byte(v)})); got != want {
			t.Errorf("agent-state %s: reason %q, want %q", v, got, want)
		}
	}
	badCalls := map[string]string{
		`{"call_id":`: events.ReasonMalformedJSON,
		`{"event_type":"QUEUED","skill":"mortgage","occurred_at":"2026-11-23T14:00:00Z"}`:                             events.ReasonMissingCallID,
		`{"call_id":"c","event_type":"RINGING","skill":"mortgage","occurred_at":"2026-11-23T14:00:00Z"}`:              events.ReasonUnknownEventType,
		`{"call_id":"c","event_type":"ENDED","skill":"mortgage","occurred_at":"2100-01-01T00:00:00Z"}`:                events.ReasonFutureTime,
		`{"call_id":"c","event_type":"ENDED","skill":"mortgage","occurred_at":"2026-11-23T14:00:00Z","talk_ms":-1}`:   events.ReasonNegativeDuration,
		`{"call_id":"c","event_type":"ENDED","skill":"mortgage","occurred_at":"2026-11-23T14:00:00Z","talk_ms":1e12}`: events.ReasonMalformedJSON,
	}
	for v, want := range badCalls {
		if got := events.Reason(feedCall(m, kafkaio.Message{Value: []byte(v)})); got != want {
			t.Errorf("call %s: reason %q, want %q", v, got, want)
		}
	}
	if err := feedCall(m, kafkaio.Message{Value: []byte(`{"call_id":"c","event_type":"QUEUED","occurred_at":"2026-11-23T14:00:00Z"}`)}); err != nil {
		t.Fatal(err)
	}
	if got := m.counts[topicCall][ignNoSkill].Load(); got != 1 {
		t.Errorf("call without skill: no_skill counted %d, want 1", got)
	}
	// None of it touched the state: one agent, nothing waiting.
	m.rebuild()
	if v := m.view("mortgage"); v.staffed != 1 || v.waiting != 0 {
		t.Errorf("after bad events staffed=%d waiting=%d, want 1 and 0", v.staffed, v.waiting)
	}
	if _, ok := m.snap.Load().skills["m"]; ok {
		t.Error("a rejected event created skill \"m\"")
	}
}

func TestSeqOrdering(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "mortgage")
	ev := func(seq int64, state string) kafkaio.Message {
		return agentEv{id: "a1", seq: seq, typ: "STATE_CHANGE", state: state, at: clk.t, sk: []events.AgentSkill{sk("mortgage", 4)}}.msg(t)
	}
	feedAgent(m, ev(10, "AVAILABLE"))
	feedAgent(m, ev(12, "BUSY"))
	feedAgent(m, ev(11, "AVAILABLE")) // older: ignored
	feedAgent(m, ev(12, "AVAILABLE")) // duplicate: ignored
	m.rebuild()
	v := m.view("mortgage")
	if v.busy != 1 || v.available != 0 || v.staffed != 1 {
		t.Fatalf("busy=%d available=%d staffed=%d, want 1/0/1", v.busy, v.available, v.staffed)
	}
	if o, d := m.counts[topicAgent][ignOldSeq].Load(), m.counts[topicAgent][ignDuplicateSeq].Load(); o != 1 || d != 1 {
		t.Errorf("old_seq=%d duplicate_seq=%d, want 1 and 1", o, d)
	}
	// LOGOUT removes from staffing; an older LOGIN replayed later stays ignored.
	feedAgent(m, agentEv{id: "a1", seq: 13, typ: "LOGOUT", at: clk.t}.msg(t))
	feedAgent(m, ev(9, "AVAILABLE"))
	m.rebuild()
	if v := m.view("mortgage"); v.staffed != 0 {
		t.Fatalf("after LOGOUT staffed=%d, want 0", v.staffed)
	}
	// OFFLINE likewise; NOT_ROUTABLE is not staffed either.
	feedAgent(m, ev(14, "AVAILABLE"))
	feedAgent(m, ev(15, "NOT_ROUTABLE"))
	m.rebuild()
	if v := m.view("mortgage"); v.staffed != 0 {
		t.Fatalf("NOT_ROUTABLE staffed=%d, want 0", v.staffed)
	}
	// A heartbeat that repeats the seq renews the TTL only.
	clk.add(time.Minute)
	feedAgent(m, agentEv{id: "a1", seq: 15, typ: "HEARTBEAT", at: clk.t}.msg(t))
	if h := m.agents["a1"].heard; h != clk.t.UnixNano() {
		t.Fatalf("same-seq heartbeat did not renew: heard %v", time.Unix(0, h))
	}
	// A heartbeat without a state keeps the state and skills.
	feedAgent(m, ev(16, "ACW"))
	feedAgent(m, agentEv{id: "a1", seq: 17, typ: "HEARTBEAT", at: clk.t}.msg(t))
	m.rebuild()
	if v := m.view("mortgage"); v.acw != 1 || v.staffed != 1 {
		t.Fatalf("after heartbeat acw=%d staffed=%d, want 1/1", v.acw, v.staffed)
	}
}

func TestSkillChangeAndDuplicateSkill(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "mortgage", "auto")
	feedAgent(m, agentEv{id: "a1", seq: 1, typ: "LOGIN", state: "AVAILABLE", at: clk.t,
		sk: []events.AgentSkill{sk("mortgage", 2), sk("mortgage", 4), sk("auto", 1)}}.msg(t))
	m.rebuild()
	if v := m.view("mortgage"); v.staffed != 1 || v.availAtLeast[8] != 1 || v.staffedWeighted != 4 {
		t.Fatalf("repeated skill: staffed=%d ≥4=%d weighted=%v, want 1/1/4", v.staffed, v.availAtLeast[8], v.staffedWeighted)
	}
	feedAgent(m, agentEv{id: "a1", seq: 2, typ: "STATE_CHANGE", state: "AVAILABLE", at: clk.t,
		sk: []events.AgentSkill{sk("auto", 3)}}.msg(t))
	m.rebuild()
	if m.view("mortgage").staffed != 0 || m.view("auto").staffedAtLeast[6] != 1 {
		t.Fatalf("skill change not applied: mortgage %d, auto≥3 %d", m.view("mortgage").staffed, m.view("auto").staffedAtLeast[6])
	}
}

func TestTTLExpiry(t *testing.T) {
	m, clk := newTestModel(t, Config{DefaultAgentTTL: 60 * time.Second}, "mortgage")
	feedAgent(m, agentEv{id: "short", seq: 1, typ: "LOGIN", state: "AVAILABLE", at: clk.t, ttl: 10, sk: []events.AgentSkill{sk("mortgage", 3)}}.msg(t))
	feedAgent(m, agentEv{id: "default", seq: 1, typ: "LOGIN", state: "AVAILABLE", at: clk.t, sk: []events.AgentSkill{sk("mortgage", 3)}}.msg(t))
	m.rebuild()
	if v := m.view("mortgage"); v.staffed != 2 {
		t.Fatalf("staffed=%d, want 2", v.staffed)
	}
	clk.add(11 * time.Second)
	// Keep the feed fresh with a third agent so only TTLs matter.
	feedAgent(m, agentEv{id: "fresh", seq: 1, typ: "LOGIN", state: "NOT_ROUTABLE", at: clk.t}.msg(t))
	m.rebuild()
	if v := m.view("mortgage"); v.staffed != 1 {
		t.Fatalf("after 11 s staffed=%d, want 1 (ttl_seconds 10 expired)", v.staffed)
	}
	// A heartbeat renews; silence past the default TTL drops the agent.
	clk.add(40 * time.Second)
	feedAgent(m, agentEv{id: "default", seq: 2, typ: "HEARTBEAT", at: clk.t}.msg(t))
	clk.add(50 * time.Second) // 50 s since the heartbeat < 60 s
	feedAgent(m, agentEv{id: "fresh", seq: 2, typ: "HEARTBEAT", at: clk.t}.msg(t))
	m.rebuild()
	if v := m.view("mortgage"); v.staffed != 1 {
		t.Fatalf("heartbeat did not renew: staffed=%d", v.staffed)
	}
	clk.add(11 * time.Second)
	feedAgent(m, agentEv{id: "fresh", seq: 3, typ: "HEARTBEAT", at: clk.t}.msg(t))
	m.rebuild()
	if v := m.view("mortgage"); v.staffed != 0 {
		t.Fatalf("after 61 s silence staffed=%d, want 0", v.staffed)
	}
	if n := m.expired.Load(); n != 2 {
		t.Errorf("expired=%d, want 2", n)
	}
	// Replayed history (occurred_at older than its TTL) never counts.
	feedAgent(m, agentEv{id: "old", seq: 1, typ: "LOGIN", state: "AVAILABLE", at: clk.ago(time.Hour), sk: []events.AgentSkill{sk("mortgage", 3)}}.msg(t))
	m.rebuild()
	if v := m.view("mortgage"); v.staffed != 0 || m.counts[topicAgent][ignExpiredOnArrival].Load() != 1 {
		t.Fatalf("replayed old agent counted: staffed=%d", v.staffed)
	}
}

func TestDeadmanStaleAndRecover(t *testing.T) {
	m, clk := newTestModel(t, Config{StaleAfter: 30 * time.Second}, "mortgage")
	if ok, why := m.Ready(); ok || why != "capacity feed stale: no agent-state event received yet" {
		t.Fatalf("Ready before any event = %v, %q", ok, why)
	}
	if v := m.View("mortgage", 0, 0); v.Factor != 0 || v.State != Stale {
		t.Fatalf("View before any event = %+v, want stale", v)
	}
	staff(t, m, clk, 0, 10, "mortgage", 3, "AVAILABLE")
	m.rebuild()
	if ok, why := m.Ready(); !ok || why != "" {
		t.Fatalf("Ready after events = %v, %q", ok, why)
	}
	if v := m.View("mortgage", 0, 0); v.Factor <= 0 {
		t.Fatalf("View with 10 free agents = %+v, want a factor", v)
	}
	clk.add(42 * time.Second)
	if ok, why := m.Ready(); ok || why != "capacity feed stale: no agent-state event for 42s" {
		t.Fatalf("Ready after 42 s = %v, %q", ok, why)
	}
	m.rebuild()
	for _, s := range []string{"mortgage", "unknown"} {
		if v := m.View(s, 0, 0); v.Factor != 0 || v.State != Stale {
			t.Fatalf("View(%s) stale = %+v", s, v)
		}
	}
	if h, late := m.Headroom("mortgage"); h != 0 || late {
		t.Fatalf("Headroom stale = %v, %v", h, late)
	}
	// A heartbeat brings it back.
	feedAgent(m, agentEv{id: agentID(0), seq: 2, typ: "HEARTBEAT", at: clk.t}.msg(t))
	m.rebuild()
	if ok, _ := m.Ready(); !ok {
		t.Fatal("not ready after the feed resumed")
	}
	if v := m.View("mortgage", 0, 0); v.Factor <= 0 {
		t.Fatalf("View after recovery = %+v", v)
	}
}

func TestCallsWaitingHandleTime(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "mortgage")
	staff(t, m, clk, 0, 10, "mortgage", 3, "AVAILABLE")
	call := func(id, typ string, at time.Time, talk int64) {
		feedCall(m, callMsg(t, events.Call{CallID: id, EventType: typ, Skill: "mortgage", OccurredAt: at, TalkMS: talk}))
	}
	call("c1", "OFFERED", clk.t, 0)
	call("c1", "QUEUED", clk.t, 0) // same call: one arrival
	call("c2", "QUEUED", clk.t, 0)
	clk.add(25 * time.Second)
	feedAgent(m, agentEv{id: agentID(0), seq: 2, typ: "HEARTBEAT", at: clk.t}.msg(t))
	m.rebuild()
	v := m.view("mortgage")
	if v.waiting != 2 || v.oldestWait != 25*time.Second || !v.waitingTooLong {
		t.Fatalf("waiting=%d oldest=%v tooLong=%v, want 2, 25s, true", v.waiting, v.oldestWait, v.waitingTooLong)
	}
	if got := m.View("mortgage", 0, 0); got.Factor != 0 || got.State != NoHeadroom {
		t.Fatalf("queue late but View = %+v", got)
	}
	if _, late := m.Headroom("mortgage"); !late {
		t.Fatal("Headroom waitingTooLong = false")
	}
	call("c1", "ANSWERED", clk.t, 0)
	call("c2", "ANSWERED", clk.t, 0)
	call("c2", "ANSWERED", clk.t, 0) // repeated
	m.rebuild()
	if v := m.view("mortgage"); v.waiting != 0 || v.waitingTooLong {
		t.Fatalf("after answers waiting=%d tooLong=%v", v.waiting, v.waitingTooLong)
	}
	if n := m.counts[topicCall][ignCallRepeated].Load(); n != 2 {
		t.Errorf("repeated transitions = %d, want 2", n)
	}
	// AHT: the seed 300 s weighs as two calls: (2·300 + (400 + 30))/3 s; a
	// repeated ENDED is not sampled twice.
	call("c1", "ENDED", clk.t, 400_000)
	call("c1", "ENDED", clk.t, 400_000)
	call("c2", "ENDED", clk.t, 0) // abandoned after answer with no talk: not a sample
	m.rebuild()
	if v := m.view("mortgage"); !near(v.ahtSec, 1030.0/3, 1e-9) {
		t.Errorf("AHT = %v, want 343.33", v.ahtSec)
	}
	// An answer before its offer: the late offer is not a waiting call.
	call("c3", "ANSWERED", clk.t, 0)
	call("c3", "QUEUED", clk.t, 0)
	m.rebuild()
	if v := m.view("mortgage"); v.waiting != 0 {
		t.Errorf("out-of-order call left waiting=%d", v.waiting)
	}
}

func TestAfterCallWorkLearned(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "mortgage")
	a := func(seq int64, state string) {
		feedAgent(m, agentEv{id: "a1", seq: seq, typ: "STATE_CHANGE", state: state, at: clk.t, sk: []events.AgentSkill{sk("mortgage", 3)}}.msg(t))
	}
	a(1, "BUSY")
	clk.add(100 * time.Second)
	a(2, "ACW")
	clk.add(50 * time.Second)
	a(3, "AVAILABLE")
	// The 30 s seed weighs as two periods.
	if got, want := m.acwWin.mean(30), (2*30+50.0)/3; !near(got, want, 1e-9) {
		t.Fatalf("ACW estimate %v, want %v", got, want)
	}
}

func TestWaitingTimeout(t *testing.T) {
	m, clk := newTestModel(t, Config{WaitingTimeout: time.Minute}, "mortgage")
	staff(t, m, clk, 0, 1, "mortgage", 3, "AVAILABLE")
	feedCall(m, callMsg(t, events.Call{CallID: "lost", EventType: "QUEUED", Skill: "mortgage", OccurredAt: clk.t}))
	clk.add(61 * time.Second)
	feedAgent(m, agentEv{id: agentID(0), seq: 2, typ: "HEARTBEAT", at: clk.t}.msg(t))
	m.rebuild()
	if v := m.view("mortgage"); v.waiting != 0 || m.waitTimeouts.Load() != 1 {
		t.Fatalf("waiting=%d timeouts=%d, want 0 and 1", v.waiting, m.waitTimeouts.Load())
	}
	// Replayed history older than the timeout is not waiting.
	feedCall(m, callMsg(t, events.Call{CallID: "old", EventType: "QUEUED", Skill: "mortgage", OccurredAt: clk.ago(time.Hour)}))
	m.rebuild()
	if v := m.view("mortgage"); v.waiting != 0 {
		t.Fatalf("replayed call waiting=%d", v.waiting)
	}
}

func TestArrivalRate(t *testing.T) {
	m, clk := newTestModel(t, Config{ArrivalWindow: time.Minute}, "mortgage")
	staff(t, m, clk, 0, 1, "mortgage", 3, "AVAILABLE")
	// 6 calls/min, evenly spaced, for 10 windows.
	for i := range 600 {
		feedCall(m, callMsg(t, events.Call{CallID: "c" + itoa(i), EventType: "OFFERED", Skill: "mortgage", OccurredAt: clk.t}))
		feedCall(m, callMsg(t, events.Call{CallID: "c" + itoa(i), EventType: "ENDED", Skill: "mortgage", OccurredAt: clk.t}))
		clk.add(10 * time.Second)
	}
	m.mu.Lock()
	r := m.skills[0].ratePerMin(clk.t.UnixNano(), 60)
	m.mu.Unlock()
	// Just before the next arrival the estimate is at its low point of the
	// sawtooth: (1/τ)·e^(−Δ/τ)/(1−e^(−Δ/τ)) per s with Δ=10 s, τ=60 s.
	want := 60 * (1.0 / 60) * math.Exp(-10.0/60) / (1 - math.Exp(-10.0/60))
	if !near(r, want, 1e-6) || !near(r, 6, 0.6) {
		t.Fatalf("arrival rate %.4f/min, want %.4f (≈6)", r, want)
	}
	// It decays with silence: after one window to 1/e.
	clk.add(time.Minute)
	m.mu.Lock()
	r2 := m.skills[0].ratePerMin(clk.t.UnixNano(), 60)
	m.mu.Unlock()
	if !near(r2, r/math.E, 1e-9) {
		t.Fatalf("decayed rate %.4f, want %.4f", r2, r/math.E)
	}
}

func TestCommitmentsReduceHeadroom(t *testing.T) {
	m, clk := newTestModel(t, Config{DefaultHandleTime: 360 * time.Second}, "mortgage")
	staff(t, m, clk, 0, 20, "mortgage", 3, "BUSY")
	m.rebuild()
	h0, _ := m.Headroom("mortgage")
	m.SetCommitments(fixedCommit{"mortgage": 2.0})
	m.rebuild()
	h1, _ := m.Headroom("mortgage")
	if !near(h0, 2.6582, 1e-4) || !near(h1, 0.6582, 1e-4) {
		t.Fatalf("headroom %v → %v, want 2.6582 → 0.6582", h0, h1)
	}
	m.SetCommitments(nil)
	m.rebuild()
	if h, _ := m.Headroom("mortgage"); h != h0 {
		t.Fatalf("nil commitments: %v, want %v", h, h0)
	}
}

// TestJunkSkillsNotTracked: 1,000 skill names no campaign uses take no
// table entries, and a campaign added later still gets its skill.
func TestJunkSkillsNotTracked(t *testing.T) {
	m, clk := newTestModel(t, Config{MaxSkills: 2}, "mortgage")
	for i := range 1000 {
		if err := feedAgent(m, agentEv{id: "junk-" + itoa(i), seq: 1, typ: "LOGIN", state: "AVAILABLE", at: clk.t,
			sk: []events.AgentSkill{sk("junk-skill-"+itoa(i), 1)}}.msg(t)); err != nil {
			t.Fatal(err)
		}
	}
	feedAgent(m, agentEv{id: "a", seq: 1, typ: "LOGIN", state: "AVAILABLE", at: clk.t,
		sk: []events.AgentSkill{sk("x", 1), sk("legal", 1), sk("mortgage", 1)}}.msg(t))
	m.rebuild()
	if n := len(m.snap.Load().skills); n != 1 || m.skillDropped.Load() != 2 {
		t.Fatalf("skills=%d dropped=%d, want 1 and 2", n, m.skillDropped.Load())
	}
	if len(m.agents) != 1 || m.counts[topicAgent][ignUntrackedSkill].Load() != 1000 {
		t.Fatalf("agents=%d untracked=%d, want 1 and 1000", len(m.agents), m.counts[topicAgent][ignUntrackedSkill].Load())
	}
	// A campaign for "legal" is added by a reload: the next event carrying
	// the skill counts the agent.
	m.SetSkills([]string{"mortgage", "legal"})
	feedAgent(m, agentEv{id: "a", seq: 2, typ: "STATE_CHANGE", state: "AVAILABLE", at: clk.t,
		sk: []events.AgentSkill{sk("x", 1), sk("legal", 1), sk("mortgage", 1)}}.msg(t))
	m.rebuild()
	if v := m.view("legal"); v == nil || v.available != 1 {
		t.Fatalf("legal after reload: %+v, want 1 available", v)
	}
}

// TestRunReflectsChange runs the real loop on the real clock: every state
// change reaches View. How fast is a timing question, asserted in
// TestRunReflectsChangePromptly (build tag timing).
func TestRunReflectsChange(t *testing.T) {
	reflectChanges(t)
}

// reflectChanges feeds 20 alternating state changes to a running model and
// returns how long each took to show in View. The 10 s bound is a wait, not
// an assertion on speed.
func reflectChanges(t *testing.T) []time.Duration {
	t.Helper()
	m := mustNew(t, Config{RebuildInterval: 20 * time.Millisecond}, []string{"mortgage"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	var took []time.Duration
	for i := range 20 {
		state := "AVAILABLE"
		if i%2 == 1 {
			state = "NOT_ROUTABLE"
		}
		start := time.Now()
		feedAgent(m, agentEv{id: "a1", seq: int64(i + 1), typ: "STATE_CHANGE", state: state, at: start, sk: []events.AgentSkill{sk("mortgage", 3)}}.msg(t))
		for (m.View("mortgage", 0, 0).Factor > 0) != (state == "AVAILABLE") {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("change %d not visible after 10 s", i)
			}
			time.Sleep(time.Millisecond) // polling View: the rebuild has no completion signal
		}
		took = append(took, time.Since(start))
	}
	cancel()
	<-done
	return took
}

func TestReasonLabels(t *testing.T) {
	for r := range numReasons {
		if reasonLabel[r] == "" || strings.ContainsAny(reasonLabel[r], " -") {
			t.Errorf("reason %d label %q", r, reasonLabel[r])
		}
	}
}

// feedAgent hands one Kafka record to the model as the events consumer does:
// decoded and checked once, then HandleAgentState. It returns the error the
// consumer would count (nil for an applied or ignored event).
func feedAgent(m *Model, msg kafkaio.Message) error {
	return kafkaio.NewDispatch[events.AgentState](kafkaio.Config{}, m.HandleAgentState)(msg)
}

// feedCall is feedAgent for cc.call.v1.
func feedCall(m *Model, msg kafkaio.Message) error {
	return kafkaio.NewDispatch[events.Call](kafkaio.Config{}, m.HandleCall)(msg)
}
