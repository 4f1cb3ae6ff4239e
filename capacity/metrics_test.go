package capacity

import (
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterMetrics(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "mortgage")
	staff(t, m, clk, 0, 3, "mortgage", 4, "AVAILABLE")
	feedAgent(m, agentEv{id: "old", seq: 1, typ: "LOGIN", state: "AVAILABLE", at: clk.ago(time.Hour), sk: []events.AgentSkill{sk("mortgage", 3)}}.msg(t))
	m.rebuild()
	reg := prometheus.NewPedanticRegistry()
	if err := m.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	f := func(name string, labels map[string]string, want float64) {
		t.Helper()
		got, ok := gathered(t, reg, name, labels)
		if !ok || got != want {
			t.Errorf("%s%v = %v (found %v), want %v", name, labels, got, ok, want)
		}
	}
	f("callbid_capacity_ignored_events_total", map[string]string{"topic": "cc.agent-state.v1", "reason": "expired_on_arrival"}, 1)
	f("callbid_capacity_ignored_events_total", map[string]string{"topic": "cc.call.v1", "reason": "untracked_skill"}, 0)
	f("callbid_capacity_events_applied_total", map[string]string{"topic": "cc.agent-state.v1"}, 3)
	f("callbid_capacity_skill_available_agents", map[string]string{"skill": "mortgage"}, 3)
	f("callbid_capacity_skill_available_agents_at_least", map[string]string{"skill": "mortgage", "proficiency": "4"}, 3)
	f("callbid_capacity_skill_available_agents_at_least", map[string]string{"skill": "mortgage", "proficiency": "4.5"}, 0)
	f("callbid_capacity_stale", nil, 0)
	f("callbid_capacity_agents", nil, 3)
	if err := m.RegisterMetrics(reg); err == nil {
		t.Error("registering twice did not fail")
	}
}

// gathered is the value of the series name{labels}.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range mt.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			if c := mt.GetCounter(); c != nil {
				return c.GetValue(), true
			}
			return mt.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func TestStats(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "mortgage", "auto")
	staff(t, m, clk, 0, 4, "mortgage", 4, "BUSY")
	m.rebuild()
	st, stale := m.Stats()
	if stale || len(st) != 2 || st[0].Skill != "auto" || st[1].Skill != "mortgage" {
		t.Fatalf("Stats = %+v, %v", st, stale)
	}
	if s := st[1]; s.Staffed != 4 || s.Busy != 4 || s.StaffedByMinProficiency[8] != 4 || s.StaffedByMinProficiency[9] != 0 ||
		s.HandleTimeSeconds != 300 || s.LambdaMaxPerMinute <= 0 {
		t.Fatalf("mortgage stats %+v", s)
	}
}
