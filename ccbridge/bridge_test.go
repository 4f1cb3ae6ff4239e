package ccbridge

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbid/callbid/ccbridge/ccbridgetest"
	"github.com/callbid/callbid/events"
)

func newTestBridge(t *testing.T, yaml string) (*Bridge, *ccbridgetest.Sink, *ccbridgetest.Clock) {
	t.Helper()
	cfg, err := Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.Embedded.Enabled = true // no brokers needed: the sink is fake
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	clk := ccbridgetest.NewClock()
	sink := &ccbridgetest.Sink{}
	br, err := New(*cfg, sink, zerolog.Nop(), WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	return br, sink, clk
}

func ms(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

const connectYAML = `
agent_id_prefix: "acme:"
connect:
  queues:
    - arn: arn:aws:connect:us-west-2:123456789012:instance/aaaaaaaa-bbbb-cccc-dddd-111111111111/queue/9c8b7a65-4321-4fed-cba9-876543210fed
      name: Mortgage
      skill: mortgage
      proficiency: 4
  proficiencies:
    - {attribute: Language, value: Spanish, skill: spanish}
`

func TestConnectAgentAndContactEvents(t *testing.T) {
	b, sink, _ := newTestBridge(t, connectYAML)
	if err := b.ReadNDJSON(context.Background(), bytes.NewReader(ccbridgetest.Fixture(t, "connect-agent-events.ndjson")), "connect"); err != nil {
		t.Fatal(err)
	}
	for i, f := range []string{"1-initiated", "2-queued", "3-connected_to_agent", "4-disconnected"} {
		if err := b.HandleJSON(ccbridgetest.Fixture(t, "connect-contact-event-"+f+".json")); err != nil {
			t.Fatalf("contact event %d: %v", i+1, err)
		}
	}
	got := ccbridgetest.AgentStates(t, sink)
	ccbridgetest.CheckSteps(t, got, []ccbridgetest.Step{
		{"LOGIN", "AVAILABLE", ""},
		{"STATE_CHANGE", "RESERVED", ""},    // INCOMING
		{"STATE_CHANGE", "BUSY", ""},        // CONNECTED
		{"STATE_CHANGE", "BUSY", "OFFLINE"}, // NextAgentStatus Offline during the call
		{"HEARTBEAT", "BUSY", "OFFLINE"},    // HEART_BEAT (from a Lambda Kinesis record)
		{"STATE_CHANGE", "ACW", "OFFLINE"},  // contact ENDED: After Contact Work
		{"LOGOUT", "OFFLINE", ""},           // status Offline once the contact is cleared
		{"LOGOUT", "OFFLINE", ""},           // LOGOUT
	})
	a := got[0]
	if a.AgentID != "acme:4f3c2b1a-0d9e-4c8b-a7f6-5e4d3c2b1a09" {
		t.Errorf("agent_id %q", a.AgentID)
	}
	wantSkills := []events.AgentSkill{{Name: "mortgage", Proficiency: 4}, {Name: "spanish", Proficiency: 4}}
	if !slices.Equal(a.Skills, wantSkills) {
		t.Errorf("skills %+v, want %+v (BasicQueue and the agent queue are not mapped)", a.Skills, wantSkills)
	}
	if len(a.Channels) != 1 || a.Channels[0] != "voice" || a.TTLSeconds != 300 || a.Seq != 0 {
		t.Errorf("channels %v ttl %d seq %d, want [voice] 300 0 (chat has 0 slots)", a.Channels, a.TTLSeconds, a.Seq)
	}
	if !got[0].OccurredAt.Equal(ms("2026-11-23T13:58:00Z")) || !got[5].OccurredAt.Equal(ms("2026-11-23T14:04:41.877Z")) {
		t.Errorf("occurred_at not the platform's EventTimestamp: %s, %s", got[0].OccurredAt, got[5].OccurredAt)
	}
	if st := b.Stats(); st.Stale != 1 || st.Bad != 0 {
		t.Errorf("stale %d bad %d, want the repeated record stale and nothing bad", st.Stale, st.Bad)
	}
	for _, r := range sink.Topic(events.TopicAgentState) {
		if bytes.Contains(r.Value, []byte(`"seq"`)) {
			t.Fatalf("seq written without synthesize_seq: %s", r.Value)
		}
	}

	cs := ccbridgetest.Calls(t, sink)
	if len(cs) != 4 {
		t.Fatalf("%d call records, want 4: %+v", len(cs), cs)
	}
	const id = "5ba0c9e2-7d1f-4e5a-9b3c-2f8e6d4a1c07"
	for i, kind := range []string{"OFFERED", "QUEUED", "ANSWERED", "ENDED"} {
		c := cs[i]
		if c.EventType != kind || c.CallID != id || c.DNIS != "+18005550110" || c.ANI != "+14155550188" {
			t.Errorf("call %d: %+v, want %s with dnis/ani from the endpoints", i, c, kind)
		}
	}
	if cs[1].Skill != "mortgage" || cs[1].Queue != "Mortgage" {
		t.Errorf("QUEUED skill %q queue %q", cs[1].Skill, cs[1].Queue)
	}
	if cs[2].AgentID != a.AgentID || cs[2].QueueWaitMS != 6394 {
		t.Errorf("ANSWERED agent %q wait %d, want %s 6394", cs[2].AgentID, cs[2].QueueWaitMS, a.AgentID)
	}
	if cs[3].TalkMS != 274363 || cs[3].EndReason != "CUSTOMER_HANGUP" || cs[3].QueueWaitMS != 6394 {
		t.Errorf("ENDED talk %d reason %q wait %d", cs[3].TalkMS, cs[3].EndReason, cs[3].QueueWaitMS)
	}
}

const genesysYAML = `
genesys:
  skills:
    8f2d4c6e-1a3b-4d5f-9e7c-2b4d6f8a0c1e: [{name: mortgage, proficiency: 4.5}]
  queues: {3b5d7f9a-2c4e-4a6b-8d0f-1e3a5c7e9b2d: mortgage}
dispositions: {7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a: SALE}
`

func TestGenesysNotifications(t *testing.T) {
	b, sink, _ := newTestBridge(t, genesysYAML)
	if err := b.ReadNDJSON(context.Background(), bytes.NewReader(ccbridgetest.Fixture(t, "genesys-notifications.ndjson")), "genesys"); err != nil {
		t.Fatal(err)
	}
	got := ccbridgetest.AgentStates(t, sink)
	ccbridgetest.CheckSteps(t, got, []ccbridgetest.Step{
		{"LOGIN", "AVAILABLE", ""},          // presence On Queue
		{"STATE_CHANGE", "AVAILABLE", ""},   // routing IDLE
		{"STATE_CHANGE", "BUSY", ""},        // routing INTERACTING
		{"STATE_CHANGE", "BUSY", "OFFLINE"}, // presence Offline during the interaction
		{"LOGOUT", "OFFLINE", ""},           // routing OFF_QUEUE after the call
	})
	if !slices.Equal(got[0].Skills, []events.AgentSkill{{Name: "mortgage", Proficiency: 4.5}}) || got[0].TTLSeconds != 180 {
		t.Errorf("first record %+v: want skills from the lookup table, ttl 180", got[0])
	}
	if b.Stats().Stale != 1 {
		t.Errorf("stale %d, want the late presence dropped", b.Stats().Stale)
	}
	cs := ccbridgetest.Calls(t, sink)
	kinds := []string{"OFFERED", "QUEUED", "ANSWERED", "ENDED"}
	if len(cs) != len(kinds) {
		t.Fatalf("%d call records: %+v", len(cs), cs)
	}
	for i, c := range cs {
		if c.EventType != kinds[i] || c.CallID != "c0e1d2f3-a4b5-4c6d-8e7f-90a1b2c3d4e5" || c.ANI != "+14155550188" || c.DNIS != "+18005550110" {
			t.Errorf("call %d: %+v", i, c)
		}
	}
	if cs[1].Skill != "mortgage" || cs[2].AgentID != got[0].AgentID || cs[2].QueueWaitMS != 7500 {
		t.Errorf("QUEUED skill %q, ANSWERED agent %q wait %d", cs[1].Skill, cs[2].AgentID, cs[2].QueueWaitMS)
	}
	if cs[3].TalkMS != 240100 || cs[3].EndReason != "CUSTOMER_HANGUP" {
		t.Errorf("ENDED talk %d reason %q", cs[3].TalkMS, cs[3].EndReason)
	}
	if os := ccbridgetest.Outcomes(t, sink); len(os) != 1 || os[0].Disposition != "SALE" {
		t.Errorf("outcomes %+v, want the wrap-up code mapped to SALE", os)
	}
}

func TestSynthesizedHeartbeatsAndOrdering(t *testing.T) {
	b, sink, clk := newTestBridge(t, genesysYAML+"synthesize_seq: true\n")
	note := func(topic, status, at string) {
		t.Helper()
		var body string
		if topic == "presence" {
			body = `{"presenceDefinition":{"systemPresence":"` + status + `"},"modifiedDate":"` + at + `"}`
		} else {
			body = `{"routingStatus":{"status":"` + status + `","startTime":"` + at + `"}}`
		}
		if err := b.HandleJSON([]byte(`{"topicName":"v2.users.u1.` + topic + `","eventBody":` + body + `}`)); err != nil {
			t.Fatal(err)
		}
	}
	note("presence", "On Queue", "2026-11-23T16:00:00Z")
	note("routingStatus", "IDLE", "2026-11-23T16:00:00.100Z")
	clk.Add(59 * time.Second)
	b.Heartbeat()
	if n := len(ccbridgetest.AgentStates(t, sink)); n != 2 {
		t.Fatalf("%d records before heartbeat_interval, want 2", n)
	}
	clk.Add(2 * time.Second)
	b.Heartbeat()
	got := ccbridgetest.AgentStates(t, sink)
	if len(got) != 3 || got[2].EventType != "HEARTBEAT" || got[2].RoutingState != "AVAILABLE" || !got[2].OccurredAt.Equal(clk.Now()) {
		t.Fatalf("after heartbeat_interval: %+v, want a HEARTBEAT AVAILABLE stamped now", got)
	}
	// A routing change the platform timed before that heartbeat (delivered
	// late) is still news for its facet: applied, stamped just after the
	// heartbeat so it is not ordered behind it.
	note("routingStatus", "INTERACTING", "2026-11-23T16:00:30Z")
	got = ccbridgetest.AgentStates(t, sink)
	last := got[len(got)-1]
	if last.RoutingState != "BUSY" || !last.OccurredAt.Equal(got[2].OccurredAt.Add(time.Millisecond)) {
		t.Errorf("late routing change: %+v, want BUSY at heartbeat+1ms", last)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq || got[i].Seq != got[i].OccurredAt.UnixMicro() {
			t.Errorf("record %d: seq %d after %d, want occurred_at in µs, increasing", i, got[i].Seq, got[i-1].Seq)
		}
	}
	if b.Stats().Restamped != 1 || b.Stats().Heartbeats != 1 {
		t.Errorf("stats %+v", b.Stats())
	}
	// Logged out: no more heartbeats; forgotten after forget_after.
	note("presence", "Offline", "2026-11-23T16:02:00Z")
	note("routingStatus", "OFF_QUEUE", "2026-11-23T16:02:00Z")
	n := len(ccbridgetest.AgentStates(t, sink))
	clk.Add(10 * time.Minute)
	b.Heartbeat()
	if len(ccbridgetest.AgentStates(t, sink)) != n {
		t.Error("a logged-out agent got a heartbeat")
	}
	clk.Add(25 * time.Hour)
	b.Heartbeat()
	if len(b.agents) != 0 || len(b.calls) != 0 {
		t.Errorf("%d agents %d calls left after forget_after", len(b.agents), len(b.calls))
	}
}

func TestConnectAgentsGetNoSynthesizedHeartbeat(t *testing.T) {
	b, sink, clk := newTestBridge(t, connectYAML)
	lines := bytes.Split(ccbridgetest.Fixture(t, "connect-agent-events.ndjson"), []byte("\n"))
	if err := b.HandleJSON(lines[3]); err != nil { // the LOGIN
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	b.Heartbeat()
	if n := len(ccbridgetest.AgentStates(t, sink)); n != 1 {
		t.Errorf("%d records, want only the LOGIN: Connect sends its own HEART_BEAT", n)
	}
}

func TestConfig(t *testing.T) {
	if _, err := Parse([]byte("conect:\n  ttl: 1m\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("misspelt key: %v, want an error naming line 1", err)
	}
	cfg, err := Parse([]byte(`
heartbeat_interval: 2m
dispositions: {won: WON}
webhook: {listen: "nohost"}
connect:
  queues: [{name: Mortgage}]
  statuses: {Lunch: LUNCH}
twilio: {auth_token: x, level_scale: 9}
genesys:
  skills: {u1: [{name: "", proficiency: 7}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil {
		t.Fatal("invalid config passed")
	}
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		lines = append(lines, strings.SplitN(l, ":", 2)[0])
	}
	sort.Strings(lines)
	want := []string{
		`connect.queues[0].skill`, `connect.statuses["Lunch"]`, `dispositions["won"]`, `genesys.skills["u1"][0].name`,
		`genesys.skills["u1"][0].proficiency`, `genesys.ttl`, `kafka.brokers`, `twilio.level_scale`, `twilio.public_url`,
		`twilio.ttl`, `webhook.listen`,
	}
	if strings.Join(lines, ",") != strings.Join(want, ",") {
		t.Errorf("field paths\n got %v\nwant %v\n(%v)", lines, want, err)
	}
	// The example config is valid.
	if _, err := Load(filepath.Join("..", "configs", "ccbridge.yaml"), func(k string) string {
		if k == EnvKafkaBrokers {
			return "127.0.0.1:9092"
		}
		return ""
	}); err != nil {
		t.Errorf("configs/ccbridge.yaml: %v", err)
	}
}

type countingLookup struct {
	n    int
	fail bool
}

func (c *countingLookup) Skills(string) ([]events.AgentSkill, error) {
	c.n++
	if c.fail {
		return nil, ErrNoSkills
	}
	return []events.AgentSkill{{Name: "mortgage", Proficiency: float64(c.n)}}, nil
}

func TestCachedSkills(t *testing.T) {
	clk := ccbridgetest.NewClock()
	inner := &countingLookup{}
	c := NewCachedSkills(inner, 10*time.Minute, clk.Now)
	for range 3 {
		if s, err := c.Skills("u1"); err != nil || s[0].Proficiency != 1 {
			t.Fatalf("%v %v", s, err)
		}
	}
	if inner.n != 1 {
		t.Errorf("%d lookups within the TTL, want 1", inner.n)
	}
	clk.Add(11 * time.Minute)
	inner.fail = true
	if s, err := c.Skills("u1"); err == nil || len(s) != 1 || s[0].Proficiency != 1 {
		t.Errorf("failed refresh: %v %v, want the last known skills and the error", s, err)
	}
	if _, err := c.Skills("u1"); err == nil || inner.n != 2 {
		t.Errorf("failure not cached: %d lookups", inner.n)
	}
	clk.Add(11 * time.Minute)
	inner.fail = false
	if s, _ := c.Skills("u1"); s[0].Proficiency != 3 {
		t.Errorf("after the TTL: %v, want a fresh lookup", s)
	}
}
