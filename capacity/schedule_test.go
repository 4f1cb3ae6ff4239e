package capacity

import (
	"testing"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
)

func shift(skill, ch string, agents float64, start, end time.Time) *events.Schedule {
	return &events.Schedule{Skill: skill, Intervals: []events.ScheduleInterval{{Start: start, End: end,
		Staffing: []events.PlannedStaff{{Channel: ch, Agents: agents}}}}}
}

// A shift of 10 voice agents starts in 10 minutes and ends 40 minutes
// later. Contacts arriving 5 minutes after the win: ViewAhead(5m) opens 5
// minutes before the shift and closes 5 minutes + a handle time before it
// ends.
func TestScheduleShiftAhead(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "s", "other")
	c := NewChannels(ChannelsConfig{}, m, []string{"s", "other"})
	chanAgent(t, m, c, clk, "keepalive", events.StateAvailable, nil, "other") // the feed is live
	t0 := clk.now()
	start, end := t0.Add(10*time.Minute), t0.Add(50*time.Minute)
	if err := c.HandleSchedule(shift("s", "voice", 10, start, end)); err != nil {
		t.Fatal(err)
	}
	delay := 5 * time.Minute
	open := func() bool {
		rebuildBoth(m, c)
		return c.ViewAhead("s", channel.Voice, delay).Factor > 0
	}
	if open() || c.View("s", channel.Voice).Factor > 0 {
		t.Fatal("bids 10 minutes before the shift with a 5-minute delay")
	}
	var opened, closed time.Duration = -1, -1
	for k := time.Duration(0); k <= 50*time.Minute; k += time.Minute {
		clk.t = t0.Add(k)
		chanAgent(t, m, c, clk, "keepalive", events.StateAvailable, nil, "other") // within stale_after
		if k >= 10*time.Minute && k < 50*time.Minute {                            // the shift is logged in
			for i := range 10 {
				chanAgent(t, m, c, clk, "v"+itoa(i), events.StateAvailable, nil, "s")
			}
		}
		o := open()
		if o && opened < 0 {
			opened = k
		}
		if !o && opened >= 0 && closed < 0 {
			closed = k
		}
	}
	if opened != 5*time.Minute {
		t.Errorf("buying opened at +%v, want +5m (shift at +10m, delay 5m)", opened)
	}
	// Handle time 300 s: a call arriving after end−5m would outlast the shift.
	aht := time.Duration(m.view("s").ahtSec * float64(time.Second)).Round(time.Minute)
	if want := 50*time.Minute - delay - aht; closed < want-time.Minute || closed > want+time.Minute {
		t.Errorf("buying closed at +%v, want about +%v (end − delay − AHT)", closed, want)
	}
}

func TestScheduleChatAheadAndWithdraw(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "s")
	c := NewChannels(ChannelsConfig{}, m, []string{"s"})
	chanAgent(t, m, c, clk, "a", events.StateAvailable, []string{"chat"}, "s")
	t0 := clk.now()
	sch := shift("s", "chat", 2, t0.Add(3*time.Minute), t0.Add(2*time.Hour))
	sch.Intervals = append(sch.Intervals, events.ScheduleInterval{Start: t0.Add(-time.Hour), End: t0.Add(-time.Minute),
		Staffing: []events.PlannedStaff{{Channel: "chat", Agents: 50}}}) // over: dropped
	if err := c.HandleSchedule(sch); err != nil {
		t.Fatal(err)
	}
	rebuildBoth(m, c)
	if v := c.View("s", channel.Chat); v.Free != 3 {
		t.Fatalf("now: %+v, want the live agent's 3 sessions", v)
	}
	if v := c.ViewAhead("s", channel.Chat, 5*time.Minute); v.Free != 6 {
		t.Fatalf("ahead 5m: %+v, want 2 planned agents × 3 (the live one among them)", v)
	}
	if v := c.ViewAhead("s", channel.Chat, 24*time.Hour); v.Free != 6 {
		t.Fatalf("beyond the horizon reads the last minute: %+v", v)
	}
	if err := c.HandleSchedule(&events.Schedule{Skill: "s"}); err != nil { // withdrawn
		t.Fatal(err)
	}
	rebuildBoth(m, c)
	if v := c.ViewAhead("s", channel.Chat, 5*time.Minute); v.Free != 3 {
		t.Fatalf("withdrawn: %+v", v)
	}
}

func TestExpected(t *testing.T) {
	for _, c := range []struct{ live, pNow, pT, want float64 }{
		{0, 0, 10, 10},  // a shift starts
		{12, 0, 10, 12}, // they logged in early: not twice
		{10, 10, 4, 4},  // six leave
		{3, 10, 4, 0},   // fewer there than planned: never negative
		{5, 5, 5, 5},
	} {
		if got := expected(c.live, c.pNow, c.pT); got != c.want {
			t.Errorf("expected(%v, %v, %v) = %v, want %v", c.live, c.pNow, c.pT, got, c.want)
		}
	}
}

func TestScheduleCallbackSlots(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "s", "other")
	c := NewChannels(ChannelsConfig{Callback: CallbackConfig{Window: 20 * time.Minute}}, m, []string{"s", "other"})
	chanAgent(t, m, c, clk, "keepalive", events.StateAvailable, nil, "other")
	t0 := clk.now()
	if err := c.HandleSchedule(shift("s", "voice", 5, t0.Add(10*time.Minute), t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	rebuildBoth(m, c)
	// 5 agents for the last 10 of 20 minutes at 0.85 × 60/300 s a minute each.
	want := 5 * 10 * 0.85 * 60 / 300.0
	if v := c.View("s", channel.Callback); v.Free < want*0.95 || v.Free > want*1.05 {
		t.Fatalf("callback slots %+v, want about %.2f", v, want)
	}
}

// Agent-keyed plans add up per skill × channel; a new record of a key
// replaces its plan; steps at the same instant make one step.
func TestScheduleSteps(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "s")
	c := NewChannels(ChannelsConfig{}, m, []string{"s"})
	t0 := clk.now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	agentPlan := func(id string, from, to time.Duration, agents float64) *events.Schedule {
		return &events.Schedule{AgentID: id, Intervals: []events.ScheduleInterval{{Start: at(from), End: at(to),
			Staffing: []events.PlannedStaff{{Skill: "s", Agents: agents}}}}}
	}
	for _, ev := range []*events.Schedule{
		agentPlan("a", 10*time.Minute, 40*time.Minute, 1),
		agentPlan("b", 10*time.Minute, 20*time.Minute, 1),
		agentPlan("c", 20*time.Minute, 40*time.Minute, 0.5),
		agentPlan("b", 10*time.Minute, 30*time.Minute, 1), // replaces b's plan
	} {
		if err := c.HandleSchedule(ev); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	tab := c.indexSchedule(t0.UnixNano())
	c.mu.Unlock()
	ns := func(d time.Duration) int64 { return at(d).UnixNano() }
	for d, want := range map[time.Duration]float64{0: 0, 10 * time.Minute: 2, 19 * time.Minute: 2, 20 * time.Minute: 2.5,
		30 * time.Minute: 1.5, 39 * time.Minute: 1.5, 40 * time.Minute: 0} {
		if got := tab.planned("s", channel.Voice, ns(d)); got != want {
			t.Errorf("planned(+%v) = %v, want %v", d, got, want)
		}
	}
	if got := tab.minPlanned("s", channel.Voice, ns(15*time.Minute), ns(35*time.Minute)); got != 1.5 {
		t.Errorf("minPlanned(+15m, +35m) = %v, want 1.5", got)
	}
	if got := tab.minPlanned("s", channel.Voice, ns(5*time.Minute), ns(15*time.Minute)); got != 0 {
		t.Errorf("minPlanned(+5m, +15m) = %v, want 0", got)
	}
	if tab.has("s", channel.Chat) || !tab.has("s", channel.Voice) {
		t.Error("has")
	}
	var nilTab *scheduleTable
	if nilTab.planned("s", channel.Voice, 0) != 0 || nilTab.has("s", channel.Voice) {
		t.Error("nil table plans something")
	}
}
