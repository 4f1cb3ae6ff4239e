package ccsim

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/callbid/callbid/events"
)

type rec struct {
	topic      string
	key, value []byte
}

// recorder is a Publisher keeping copies of everything.
type recorder struct {
	mu   sync.Mutex
	recs []rec
	full bool
}

func (r *recorder) Publish(topic string, key, value []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full {
		return false
	}
	r.recs = append(r.recs, rec{topic, bytes.Clone(key), bytes.Clone(value)})
	return true
}

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func runSteps(t *testing.T, cfg Config, steps int, each func(*Sim)) *recorder {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := mustSim(t, cfg, t0, zerolog.Nop())
	r := &recorder{}
	for range steps {
		s.Step(r)
		if each != nil {
			each(s)
		}
	}
	return r
}

func TestEveryEventPassesTheValidators(t *testing.T) {
	cfg := DemoConfig()
	// An overloaded skill so queueing and abandonment happen too.
	cfg.Skills = append(cfg.Skills, SkillConfig{Name: "overflow", Agents: 2, HandleTime: 2 * time.Minute,
		ArrivalPerMin: 6, Patience: 20 * time.Second, DNIS: "+18005550199",
		Chat: ChatConfig{Agents: 1, Sessions: 2, ArrivalPerMin: 6, Patience: 20 * time.Second}})
	cfg.SetDefaults()
	r := runSteps(t, cfg, 3*600, nil) // 3 simulated minutes
	lastSeq := map[string]int64{}
	callSteps := map[string][]string{}
	types := map[string]int{}
	for _, m := range r.recs {
		switch m.topic {
		case events.TopicAgentState:
			var ev events.AgentState
			if err := events.DecodeAgentState(m.value, &ev); err != nil {
				t.Fatalf("agent event rejected: %v\n%s", err, m.value)
			}
			if string(m.key) != ev.AgentID {
				t.Fatalf("key %q != agent_id %q", m.key, ev.AgentID)
			}
			if ev.Seq <= lastSeq[ev.AgentID] {
				t.Fatalf("%s: seq %d after %d", ev.AgentID, ev.Seq, lastSeq[ev.AgentID])
			}
			lastSeq[ev.AgentID] = ev.Seq
			if ev.TTLSeconds != 30 || len(ev.Skills) != 1 || ev.RoutingState == "" {
				t.Fatalf("unexpected agent event %+v", ev)
			}
			types[ev.EventType]++
		case events.TopicCall:
			var ev events.Call
			if err := events.DecodeCall(m.value, &ev); err != nil {
				t.Fatalf("call event rejected: %v\n%s", err, m.value)
			}
			if string(m.key) != ev.CallID || ev.Skill == "" || (ev.DNIS == "") != (ev.Channel == "chat") { // an organic chat has no key
				t.Fatalf("unexpected call event %+v", ev)
			}
			if ev.EventType == events.CallEnded && ev.EndReason != events.EndAbandonedInQueue && ev.TalkMS < 10_000 {
				t.Fatalf("ended call without a handle time: %+v", ev)
			}
			if ev.EventType == events.CallAnswered && ev.AgentID == "" {
				t.Fatalf("answered without agent: %+v", ev)
			}
			callSteps[ev.CallID] = append(callSteps[ev.CallID], ev.EventType)
			types[ev.EventType]++
			types[ev.Channel+ev.EventType]++
			if ev.EndReason == events.EndAbandonedInQueue {
				types[ev.Channel+"abandoned"]++
			}
		default:
			t.Fatalf("unexpected topic %q", m.topic)
		}
	}
	if len(lastSeq) != 119 { // the demo skills (40 + 60 + 16), the 2 overflow agents and its chat agent
		t.Errorf("%d agents seen, want 119", len(lastSeq))
	}
	for _, typ := range []string{events.AgentLogin, events.AgentStateChange, events.AgentHeartbeat, events.CallOffered, events.CallQueued, events.CallAnswered, events.CallEnded, events.AgentLogout} {
		if types[typ] == 0 {
			t.Errorf("no %s event in 3 minutes (counts %v)", typ, types)
		}
	}
	if types["abandoned"] == 0 || types["chatabandoned"] == 0 || types["chatANSWERED"] == 0 || types["chatENDED"] == 0 {
		t.Errorf("no caller abandoned the overloaded queue, or no chat was answered, ended and abandoned (counts %v)", types)
	}
	valid := map[string]bool{
		"OFFERED": true, "OFFERED QUEUED": true, "OFFERED ANSWERED": true, "OFFERED QUEUED ANSWERED": true,
		"OFFERED ANSWERED ENDED": true, "OFFERED QUEUED ANSWERED ENDED": true, "OFFERED QUEUED ENDED": true,
	}
	for id, seq := range callSteps {
		if s := strings.Join(seq, " "); !valid[s] {
			t.Errorf("call %s went %s", id, s)
		}
	}
}

// Available agents rise as the shift logs in and fall as calls are answered,
// within the first simulated minute.
func TestAvailabilityMovesWithinTheFirstMinute(t *testing.T) {
	var rises, falls, peak int
	prev := 0
	runSteps(t, DemoConfig(), 600, func(s *Sim) {
		avail := 0
		for _, k := range s.Stats().Skills {
			avail += k.Available
		}
		if avail > prev {
			rises++
		}
		if avail < prev {
			falls++
		}
		peak = max(peak, avail)
		prev = avail
	})
	if rises < 10 || falls < 5 || peak < 20 {
		t.Errorf("available agents in the first minute: %d rises, %d falls, peak %d", rises, falls, peak)
	}
}

func TestDeterministic(t *testing.T) {
	a := runSteps(t, DemoConfig(), 900, nil)
	b := runSteps(t, DemoConfig(), 900, nil)
	if len(a.recs) != len(b.recs) {
		t.Fatalf("same seed, %d vs %d events", len(a.recs), len(b.recs))
	}
	for i := range a.recs {
		if !bytes.Equal(a.recs[i].value, b.recs[i].value) {
			t.Fatalf("same seed, event %d differs:\n%s\n%s", i, a.recs[i].value, b.recs[i].value)
		}
	}
	cfg := DemoConfig()
	cfg.Seed = 2
	c := runSteps(t, cfg, 900, nil)
	same := len(a.recs) == len(c.recs)
	for i := 0; same && i < len(a.recs); i++ {
		same = bytes.Equal(a.recs[i].value, c.recs[i].value)
	}
	if same {
		t.Error("seeds 1 and 2 produced the same stream")
	}
}

func TestDroppedEventsAreCounted(t *testing.T) {
	s := mustSim(t, DemoConfig(), t0, zerolog.Nop())
	r := &recorder{full: true}
	for range 700 {
		s.Step(r)
	}
	st := s.Stats()
	if st.Published != 0 || st.Dropped == 0 {
		t.Errorf("stats %+v, want all dropped", st)
	}
}

func TestRunSaysSimulated(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	cfg := DemoConfig()
	cfg.Speed = 600 // ten simulated minutes per real second
	cfg.LogEvery = 50 * time.Millisecond
	s := mustSim(t, cfg, time.Now(), zerolog.New(zerolog.SyncWriter(&lockedWriter{&logs, &mu})))
	r := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s.Run(ctx, r)
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if !strings.Contains(out, "contact center is SIMULATED") || !strings.Contains(out, `"available"`) {
		t.Errorf("logs do not say SIMULATED with a summary:\n%s", out)
	}
	if el := s.Now().Sub(s.start); el < 30*time.Second {
		t.Errorf("simulated only %s in 300ms at speed 600", el)
	}
	if len(r.recs) == 0 {
		t.Error("nothing published")
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func TestConfig(t *testing.T) {
	var root struct {
		Sim Config `yaml:"simulator"`
	}
	src := `
simulator:
  enabled: true
  tenant: acme
  seed: 7
  heartbeat_interval: 5s
  skills:
    - {name: mortgage, agents: 10, proficiency_min: 3, proficiency_max: 5, handle_time: 4m, arrival_per_min: 2}
    - {name: legal, agents: 3, proficiencies: [4, 5], handle_time: 6m}
`
	if err := yaml.Unmarshal([]byte(src), &root); err != nil {
		t.Fatal(err)
	}
	c := root.Sim
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if c.TTL != 15*time.Second || c.Skills[1].ACWTime != 20*time.Second || c.Skills[0].HandleTime != 4*time.Minute {
		t.Errorf("defaults: %+v", c)
	}
	bad := Config{
		Tenant: "a b", HeartbeatInterval: time.Minute, TTL: 30 * time.Second, Speed: -1,
		Shift: ShiftConfig{WaveAmplitude: 2},
		Skills: []SkillConfig{
			{Name: "x", Agents: 0, ProficiencyMin: 4, ProficiencyMax: 3},
			{Name: "x", Agents: 1, Proficiencies: []float64{6}, DNIS: "555", ArrivalPerMin: -1},
		},
	}
	err := bad.Validate()
	for _, w := range []string{
		`tenant: "a b"`, `ttl: 30s must be longer than heartbeat_interval 1m0s`, `speed: -1`,
		`shift.wave_amplitude: 2`, `skills[0].agents: 0`, `skills[0].proficiency_min: 4 is above proficiency_max 3`,
		`skills[1].name: "x" repeats skills[0]`, `skills[1].proficiencies[0]: 6`, `skills[1].dnis: "555" is not E.164`,
		`skills[1].arrival_per_min: -1`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
}

func TestRegisterMetrics(t *testing.T) {
	s := mustSim(t, DemoConfig(), t0, zerolog.Nop())
	reg := prometheus.NewRegistry()
	if err := s.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	for range 600 {
		s.Step(r)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var staffed float64
	for _, mf := range mfs {
		if mf.GetName() != "callbid_ccsim_agents" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "state" && l.GetValue() == "staffed" {
					staffed += m.GetGauge().GetValue()
				}
			}
		}
	}
	want := 0
	for _, k := range s.Stats().Skills {
		want += k.Staffed
	}
	if staffed != float64(want) || want == 0 {
		t.Errorf("staffed gauge sum %v, stats %d", staffed, want)
	}
}

// mustSim is New for tests whose config is valid by construction.
func mustSim(tb testing.TB, cfg Config, start time.Time, log zerolog.Logger) *Sim {
	tb.Helper()
	s, err := New(cfg, start, log)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
