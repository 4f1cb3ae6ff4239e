package capacity

import (
	"strconv"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
)

// TestGateOpensWithinAHandleTimeOfAFall: 10 agents on a 24 s skill take 20
// calls/min, then 6 log out and the calls fall to 1/min. The gate (View)
// must read the fall within about one handle time, while λ_now (a 2-minute
// memory, what Headroom and pacing's budget use) still holds the 10-agent
// arrivals. Before the gate read min(λ_now, λ_load) it stayed shut for
// about 2 minutes here: 20·exp(−t/120) stays above λ_max(4) ≈ 7 until
// t ≈ 130 s.
func TestGateOpensWithinAHandleTimeOfAFall(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SkillHandleTimes = map[string]time.Duration{"sales": 24 * time.Second}
	m, clk := newTestModel(t, cfg, "sales")
	var seq int64 = 1
	staffed := 10
	beat := func() { // keeps the feed fresh and the agents alive
		seq++
		for i := range staffed {
			feedAgent(m, agentEv{id: agentID(i), seq: seq, typ: "HEARTBEAT", state: "AVAILABLE", at: clk.t,
				sk: []events.AgentSkill{sk("sales", 3)}}.msg(t))
		}
	}
	staff(t, m, clk, 0, staffed, "sales", 3, "AVAILABLE")
	calls := 0
	call := func() { // one arrival, its wait over at once
		calls++
		id := "c" + strconv.Itoa(calls)
		feedCall(m, callMsg(t, events.Call{CallID: id, EventType: "QUEUED", Skill: "sales", OccurredAt: clk.t}))
		feedCall(m, callMsg(t, events.Call{CallID: id, EventType: "ENDED", Skill: "sales", OccurredAt: clk.t,
			EndReason: "CUSTOMER_HANGUP"}))
	}
	step := func(d time.Duration, every time.Duration) {
		for end := clk.t.Add(d); clk.t.Before(end); {
			clk.add(time.Second)
			if clk.t.Unix()%int64(every.Seconds()) == 0 {
				call()
			}
			if clk.t.Unix()%10 == 0 {
				beat()
			}
			m.rebuild()
		}
	}
	step(5*time.Minute, 3*time.Second) // 20 calls/min
	v := m.view("sales")
	t.Logf("10 agents: λ_max %.2f, λ_now %.2f, λ_load %.2f, AHT %.1f s", v.lambdaMax[0], v.arrivalPerMin, v.loadPerMin, v.ahtSec)
	if v.ahtSec < 20 || v.ahtSec > 40 {
		t.Fatalf("AHT %.1f s, want about the 24 s seed", v.ahtSec)
	}

	// 6 agents leave; calls fall to 1/min.
	seq++
	for i := 4; i < 10; i++ {
		feedAgent(m, agentEv{id: agentID(i), seq: seq, typ: "LOGOUT", at: clk.t}.msg(t))
	}
	staffed = 4
	m.rebuild()
	if got := m.View("sales", 0, 0); got.State != NoHeadroom {
		t.Errorf("right after the drop: View %+v, want no headroom (the 10-agent calls are still the load)", got)
	}
	aht := time.Duration(v.ahtSec * float64(time.Second))
	step(aht*3/2, time.Minute)
	v = m.view("sales")
	h, _ := m.Headroom("sales")
	t.Logf("4 agents, %v later: λ_max %.2f, λ_now %.2f, λ_load %.2f, Headroom %.2f", aht*3/2, v.lambdaMax[0], v.arrivalPerMin, v.loadPerMin, h)
	if got := m.View("sales", 0, 0); got.State != Fresh || got.Factor <= 0 {
		t.Errorf("1.5 handle times after the calls fell: View %+v, want the gate open", got)
	}
	if h >= 0 {
		t.Errorf("Headroom %.2f: λ_now (arrival_window) should still hold the 10-agent arrivals", h)
	}
}
