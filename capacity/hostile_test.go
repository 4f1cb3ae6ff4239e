package capacity

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
	"github.com/rs/zerolog"
)

// TestSeqlessStateChangesAllApplied: a platform without a per-agent counter
// (Amazon Connect, Genesys, Twilio) sends five state changes for one agent,
// two of them in the same second. All five are applied in order; before,
// four were dropped as duplicates of seq 0 and the agent stayed AVAILABLE.
func TestSeqlessStateChangesAllApplied(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "mortgage")
	t0 := clk.ago(time.Minute).Truncate(time.Second)
	changes := []struct {
		state string
		at    time.Time
	}{
		{"AVAILABLE", t0}, {"RESERVED", t0.Add(time.Second)}, {"BUSY", t0.Add(time.Second)},
		{"ACW", t0.Add(3 * time.Second)}, {"NOT_ROUTABLE", t0.Add(4 * time.Second)},
	}
	for i, c := range changes {
		typ := "STATE_CHANGE"
		if i == 0 {
			typ = "LOGIN"
		}
		if err := feedAgent(m, agentEv{id: "connect:agent-7", typ: typ, state: c.state, at: c.at, sk: []events.AgentSkill{sk("mortgage", 3)}}.msg(t)); err != nil {
			t.Fatal(err)
		}
		m.rebuild()
		v := m.view("mortgage")
		want := map[string]int32{"AVAILABLE": v.available, "RESERVED": v.reserved, "BUSY": v.busy, "ACW": v.acw}
		if c.state != "NOT_ROUTABLE" && (want[c.state] != 1 || v.staffed != 1) {
			t.Fatalf("change %d (%s): view %+v", i+1, c.state, v)
		}
		if c.state == "NOT_ROUTABLE" && v.staffed != 0 {
			t.Fatalf("change %d: NOT_ROUTABLE agent still staffed: %+v", i+1, v)
		}
	}
	if n := m.counts[topicAgent][okEvent].Load(); n != 5 {
		t.Fatalf("applied %d of 5 state changes", n)
	}
	// An older one arriving late is ignored by time, not by a duplicate seq.
	feedAgent(m, agentEv{id: "connect:agent-7", typ: "STATE_CHANGE", state: "AVAILABLE", at: t0.Add(2 * time.Second), sk: []events.AgentSkill{sk("mortgage", 3)}}.msg(t))
	m.rebuild()
	if v := m.view("mortgage"); v.staffed != 0 || m.counts[topicAgent][ignOldTime].Load() != 1 {
		t.Fatalf("a late older change was applied: %+v", v)
	}
}

// TestSeqJump: one record with a far-future seq cannot pin the agent: it is
// rejected, and the real LOGOUT after it applies. A producer whose counter
// really jumped is followed once the next event confirms the jump.
func TestSeqJump(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "mortgage")
	ev := func(seq int64, typ, state string) kafkaio.Message {
		return agentEv{id: "a1", seq: seq, typ: typ, state: state, at: clk.t, sk: []events.AgentSkill{sk("mortgage", 4)}}.msg(t)
	}
	feedAgent(m, ev(5, "LOGIN", "BUSY"))
	if err := feedAgent(m, ev(9_000_000_000_000_000_000, "STATE_CHANGE", "AVAILABLE")); events.Reason(err) != events.ReasonSeqJump {
		t.Fatalf("far-future seq: %v", err)
	}
	feedAgent(m, ev(6, "LOGOUT", ""))
	m.rebuild()
	if v := m.view("mortgage"); v.staffed != 0 {
		t.Fatalf("after the poison and a LOGOUT: %+v", v)
	}
	// A counter that really moved on: the first big step is held back, the
	// next one continuing from it is applied.
	if err := feedAgent(m, ev(50_000_000, "LOGIN", "AVAILABLE")); events.Reason(err) != events.ReasonSeqJump {
		t.Fatalf("jump: %v", err)
	}
	if err := feedAgent(m, ev(50_000_001, "STATE_CHANGE", "AVAILABLE")); err != nil {
		t.Fatalf("confirmed jump: %v", err)
	}
	m.rebuild()
	if v := m.view("mortgage"); v.available != 1 {
		t.Fatalf("after a confirmed jump: %+v", v)
	}
	// The poison as the first record of its agent (a compacted topic kept it
	// as the agent's latest, or the agent's entry had expired): it pins
	// nothing, the next real event applies by time. An older one does not.
	m2, clk2 := newTestModel(t, Config{}, "mortgage")
	first := func(seq int64, typ, state string, at time.Time) kafkaio.Message {
		return agentEv{id: "a2", seq: seq, typ: typ, state: state, at: at, sk: []events.AgentSkill{sk("mortgage", 4)}}.msg(t)
	}
	if err := feedAgent(m2, first(9_000_000_000_000_000_000, "STATE_CHANGE", "AVAILABLE", clk2.ago(time.Minute))); err != nil {
		t.Fatal(err)
	}
	feedAgent(m2, first(6, "STATE_CHANGE", "BUSY", clk2.ago(2*time.Minute))) // older: ignored
	m2.rebuild()
	if v := m2.view("mortgage"); v.available != 1 || m2.counts[topicAgent][ignOldSeq].Load() != 1 {
		t.Fatalf("an older event replaced the first: %+v", v)
	}
	feedAgent(m2, first(7, "LOGOUT", "", clk2.t))
	feedAgent(m2, first(8, "LOGIN", "BUSY", clk2.t))
	feedAgent(m2, first(7, "STATE_CHANGE", "AVAILABLE", clk2.t.Add(time.Second))) // confirmed order now: old
	m2.rebuild()
	if v := m2.view("mortgage"); v.staffed != 1 || v.busy != 1 {
		t.Fatalf("after the real events: %+v", v)
	}
}

// TestAgentTableBounded: 100k distinct agent ids cannot grow the table past
// max_agents, junk skills take no entry at all, and staffed agents already
// known are never evicted for newcomers.
func TestAgentTableBounded(t *testing.T) {
	m, clk := newTestModel(t, Config{MaxAgents: 1000}, "mortgage")
	staff(t, m, clk, 0, 10, "mortgage", 4, "AVAILABLE")
	for i := range 100_000 {
		skill := "mortgage"
		if i%2 == 0 {
			skill = "junk-" + itoa(i)
		}
		state := "AVAILABLE"
		if i%4 == 1 {
			state = "NOT_ROUTABLE"
		}
		feedAgent(m, agentEv{id: "flood-" + itoa(i), seq: 1, typ: "LOGIN", state: state, at: clk.t, sk: []events.AgentSkill{sk(skill, 1)}}.msg(t))
		if i%1000 == 999 {
			clk.add(time.Second) // evictions are at most once a second
		}
	}
	if n := len(m.agents); n > 1000 {
		t.Fatalf("agent table holds %d agents, max_agents 1000", n)
	}
	for i := range 10 {
		if a := m.agents[agentID(i)]; a == nil || a.state != stateAvailable {
			t.Fatalf("staffed agent %d was evicted", i)
		}
	}
	if len(m.skills) != 1 {
		t.Fatalf("%d skills tracked, want 1", len(m.skills))
	}
	if m.evicted.Load() == 0 || m.counts[topicAgent][ignAgentTableFull].Load() == 0 || m.counts[topicAgent][ignUntrackedSkill].Load() != 50_000 {
		t.Fatalf("evicted %d, table full %d, untracked %d", m.evicted.Load(), m.counts[topicAgent][ignAgentTableFull].Load(),
			m.counts[topicAgent][ignUntrackedSkill].Load())
	}
}

// TestCallTableBounded: call ids beyond max_calls are not remembered.
func TestCallTableBounded(t *testing.T) {
	m, clk := newTestModel(t, Config{MaxCalls: 100}, "mortgage")
	for i := range 1000 {
		feedCall(m, callMsg(t, events.Call{CallID: "c" + itoa(i), EventType: "ENDED", Skill: "mortgage", OccurredAt: clk.t}))
	}
	if len(m.calls) != 100 || m.counts[topicCall][ignCallTableFull].Load() != 900 {
		t.Fatalf("calls %d, table full %d", len(m.calls), m.counts[topicCall][ignCallTableFull].Load())
	}
}

// TestHostileAgentRecordsBeforeAndAfterReplay sends, as a contact center
// would through Kafka, each hostile agent-state record of issue 12, then
// restarts (a fresh model replays the topic from the first offset): each is
// counted as bad, none has a lasting effect, before and after.
func TestHostileAgentRecordsBeforeAndAfterReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker; skipped with -short")
	}
	broker, err := startBroker(1, events.TopicAgentState)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	kcfg := kafkaio.Config{Brokers: []string{broker.Addr()}}
	now := time.Now().UTC()
	at := now.Add(-time.Second).Format(time.RFC3339Nano)
	rec := func(id string, seq int64, typ, state, skills, extra string) string {
		s := fmt.Sprintf(`{"agent_id":%q,"event_type":%q,"occurred_at":%q,"routing_state":%q,"skills":[%s],"ttl_seconds":3600%s`,
			id, typ, at, state, skills, extra)
		if seq > 0 {
			s += fmt.Sprintf(`,"seq":%d`, seq)
		}
		return s + "}"
	}
	mortgage := `{"name":"mortgage","proficiency":4}`
	var junk []string
	for i := range 1000 {
		junk = append(junk, fmt.Sprintf(`{"name":"junk-%d","proficiency":1}`, i))
	}
	values := []string{
		rec("real", 5, "LOGIN", "BUSY", mortgage, ""),
		rec("real", 9_000_000_000_000_000_000, "STATE_CHANGE", "AVAILABLE", mortgage, ""), // far-future seq
		rec("real", 6, "LOGOUT", "OFFLINE", mortgage, ""),
		strings.Replace(rec("ghost", 1, "LOGIN", "AVAILABLE", mortgage, ""), at, "9999-12-31T23:59:59Z", 1),
		rec("huge", 1, "LOGIN", "AVAILABLE", `{"name":"mortgage","proficiency":1e9}`, ""),
		strings.Replace(rec("neg", 1, "LOGIN", "AVAILABLE", mortgage, ""), "3600", "-5", 1),
		rec("junk", 1, "LOGIN", "AVAILABLE", strings.Join(junk[:60], ","), ""), // 60 junk skills: no entry
		rec("connect-1", 0, "LOGIN", "AVAILABLE", mortgage, ""),                // no seq: ordered by time
		rec("connect-1", 0, "STATE_CHANGE", "BUSY", mortgage, ""),
		rec("connect-1", 0, "STATE_CHANGE", "ACW", mortgage, ""),
		rec("connect-1", 0, "STATE_CHANGE", "AVAILABLE", mortgage, `,"next_routing_state":"OFFLINE"`),
		rec("connect-1", 0, "STATE_CHANGE", "BUSY", mortgage, `,"next_routing_state":"OFFLINE"`),
		"\x00\x00\x00\x00\x07" + rec("framed", 3, "LOGIN", "AVAILABLE", mortgage, ""), // Schema Registry framing
	}
	prod := kafkaio.NewProducer(kcfg, zerolog.Nop())
	for _, v := range values {
		if !prod.Publish(events.TopicAgentState, nil, []byte(v)) {
			t.Fatal("producer queue full")
		}
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := prod.Close(cctx); err != nil {
		t.Fatal(err)
	}
	ccancel()

	wantBad := map[string]uint64{events.ReasonSeqJump: 1, events.ReasonFutureTime: 1, events.ReasonProficiencyOutOfRange: 1, events.ReasonNegativeTTL: 1}
	for _, run := range []string{"first consumption", "replay after a restart"} {
		m := mustNew(t, Config{}, []string{"mortgage"})
		c := kafkaio.NewRecordConsumer[events.AgentState](kcfg, zerolog.Nop(), m.HandleAgentState)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.Run(ctx); close(done) }()
		waitUntil(t, run+": caught up", c.CaughtUp)
		cancel()
		<-done
		m.rebuild()
		v := m.view("mortgage")
		// framed AVAILABLE; connect-1 BUSY; real logged out; ghost, huge, neg rejected
		if v.staffed != 2 || v.available != 1 || v.busy != 1 {
			t.Errorf("%s: mortgage %+v, want 2 staffed (framed available, connect-1 busy)", run, v)
		}
		if len(m.skills) != 1 || m.agents["junk"] != nil || m.agents["ghost"] != nil {
			t.Errorf("%s: %d skills, junk agent %v, ghost %v", run, len(m.skills), m.agents["junk"], m.agents["ghost"])
		}
		bad := c.BadRecords()
		for r, n := range wantBad {
			if bad[r] != n {
				t.Errorf("%s: bad %s = %d, want %d (all %v)", run, r, bad[r], n, bad)
			}
		}
		if st := c.Stats(); st.Bad != 4 {
			t.Errorf("%s: %d bad records, want 4", run, st.Bad)
		}
	}
}

// waitUntil waits for cond, checking every 5ms, for at most 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not within 10s", what)
		}
	}
}
