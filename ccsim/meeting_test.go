package ccsim

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbid/callbid/events"
)

// A meeting takes the called share of a skill off the queue at its start
// (AVAILABLE agents at once, agents on a call or in ACW after announcing it
// with next_routing_state), keeps them out until its end, brings them back
// then, and repeats.
func TestMeetingTakesAgentsOffTheQueue(t *testing.T) {
	cfg := Config{Skills: []SkillConfig{{Name: "mortgage", Agents: 20, ArrivalPerMin: 6, HandleTime: time.Minute,
		Chat: ChatConfig{Agents: 4, ArrivalPerMin: 3, HandleTime: time.Minute}}},
		Shift: ShiftConfig{BreakEvery: -1, LogoutEvery: -1, Meetings: []MeetingConfig{
			{Skill: "mortgage", Share: 0.5, ChatShare: 1, First: 2 * time.Minute, Every: 3 * time.Minute, Length: 40 * time.Second}}}}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := mustSim(t, cfg, t0, zerolog.Nop())
	r := &recorder{}
	called := map[string]bool{} // the first half of the voice agents by id, and the chat team
	for i, a := range s.agents {
		if i < 10 || a.chat {
			called[a.id] = true
		}
	}
	announced := map[string]bool{}
	outAt := func(at time.Duration) (out, staffedOthers int) {
		for _, a := range s.agents {
			switch {
			case called[a.id] && (a.state == events.StateNotRoutable || a.next == events.StateNotRoutable):
				out++ // away, or announced
			case !a.chat && !called[a.id] && a.state != events.StateNotRoutable:
				staffedOthers++
			}
		}
		return out, staffedOthers
	}
	for step := 1; step <= 6*600; step++ { // 6 simulated minutes
		n := len(r.recs)
		s.Step(r)
		el := s.Now().Sub(t0)
		inMeeting := (el%(3*time.Minute)) >= 2*time.Minute && (el%(3*time.Minute)) < 2*time.Minute+40*time.Second && el > time.Minute
		for _, m := range r.recs[n:] {
			if m.topic == events.TopicCall && inMeeting {
				var ev events.Call
				if err := events.DecodeCall(m.value, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Channel == "chat" && ev.EventType == events.CallAnswered {
					t.Fatalf("+%v: a chat answered while the chat team meets", el)
				}
			}
			if m.topic != events.TopicAgentState {
				continue
			}
			var ev events.AgentState
			if err := events.DecodeAgentState(m.value, &ev); err != nil {
				t.Fatalf("agent event rejected: %v\n%s", err, m.value)
			}
			if ev.NextRoutingState != "" {
				if !called[ev.AgentID] || ev.NextRoutingState != events.StateNotRoutable || ev.RoutingState == events.StateNotRoutable {
					t.Fatalf("unexpected announcement %+v", ev)
				}
				announced[ev.AgentID] = true
			}
		}
		switch el {
		case 2*time.Minute + 39*time.Second, 5*time.Minute + 39*time.Second: // near the end of a meeting (some may still be on a call)
			out, others := outAt(el)
			if out != 14 || others != 10 {
				t.Errorf("+%v: %d called agents away or leaving, %d others staffed; want 14 and 10", el, out, others)
			}
		case 2*time.Minute + 41*time.Second, 5*time.Minute + 41*time.Second: // just after it
			if out, _ := outAt(el); out != 0 {
				t.Errorf("+%v: %d called agents still NOT_ROUTABLE after the meeting", el, out)
			}
		}
	}
	if len(announced) == 0 {
		t.Error("no agent on a call announced leaving with next_routing_state")
	}
}

// An agent logged out when a meeting starts is called in too: logging in
// before it ends, it logs in NOT_ROUTABLE and stays out until the end, on
// voice and on chat — or capacity comes back in the middle of a meeting
// (the lead's demo run: chat bids 15 s into the 8:00 meeting, from a chat
// agent back from a logout).
func TestMeetingCallsInAgentsWhoLogIn(t *testing.T) {
	const start, length = 10 * time.Second, time.Minute
	cfg := Config{Skills: []SkillConfig{{Name: "mortgage", Agents: 10, ArrivalPerMin: 6, HandleTime: time.Minute,
		Chat: ChatConfig{Agents: 4, ArrivalPerMin: 3, HandleTime: time.Minute}}},
		Shift: ShiftConfig{LoginSpread: 50 * time.Second, BreakEvery: -1, LogoutEvery: -1, Meetings: []MeetingConfig{
			{Skill: "mortgage", Share: 1, ChatShare: 1, First: start, Length: length}}}}
	cfg.SetDefaults()
	s := mustSim(t, cfg, t0, zerolog.Nop())
	r := &recorder{}
	// A voice and a chat agent log in at 1 s and out (by the test) at 5 s,
	// until 40 s; the others log in over the first 50 s.
	out := []*agent{&s.agents[0], &s.agents[s.skills[0].chat.agents[0]]}
	loggedOut := map[string]bool{}
	for _, a := range out {
		a.loginAt = t0.Add(time.Second)
	}
	lateLogins := 0
	for step := 1; step <= 2*600; step++ { // 2 simulated minutes
		if s.Now().Sub(t0) == 5*time.Second {
			for _, a := range out {
				if a.state != events.StateAvailable {
					t.Fatalf("+5s: %s is %s, want AVAILABLE", a.id, a.state)
				}
				a.state, a.loginAt = events.StateOffline, t0.Add(40*time.Second)
				loggedOut[a.id] = true
			}
		}
		n := len(r.recs)
		s.Step(r)
		el := s.Now().Sub(t0)
		during := el >= start && el < start+length
		for _, m := range r.recs[n:] {
			if !during {
				break
			}
			if m.topic == events.TopicCall {
				var ev events.Call
				if err := events.DecodeCall(m.value, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.EventType == events.CallAnswered {
					t.Fatalf("+%v: %s answered by %s while everyone meets", el, ev.CallID, ev.AgentID)
				}
				continue
			}
			var ev events.AgentState
			if err := events.DecodeAgentState(m.value, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.EventType == events.AgentLogin {
				lateLogins++
				delete(loggedOut, ev.AgentID)
			}
			if ev.RoutingState == events.StateAvailable || ev.RoutingState == events.StateBusy {
				t.Fatalf("+%v: %s %s %s during the meeting it is called to", el, ev.AgentID, ev.EventType, ev.RoutingState)
			}
		}
		if el == start+length+time.Second {
			for _, a := range s.agents {
				if a.state != events.StateAvailable && a.state != events.StateBusy {
					t.Errorf("+%v: %s is %s after the meeting", el, a.id, a.state)
				}
			}
		}
	}
	if lateLogins < 5 || len(loggedOut) != 0 {
		t.Errorf("%d logins during the meeting, %v not back: want several, and the two logged out back", lateLogins, loggedOut)
	}
}

func TestMeetingConfig(t *testing.T) {
	cfg := Config{Skills: []SkillConfig{{Name: "a", Agents: 1}}, Shift: ShiftConfig{Meetings: []MeetingConfig{
		{Skill: "b", Share: 1.5, ChatShare: -1, First: -time.Second, Every: 10 * time.Second, Length: 0},
		{Skill: "a", Share: 1, Every: 10 * time.Second, Length: 20 * time.Second},
		{Skill: "a", Length: time.Second}}}}
	err := cfg.Validate()
	for _, want := range []string{
		`shift.meetings[0].skill: "b" is not one of skills[].name`,
		"shift.meetings[0].share: 1.5 is outside 0-1",
		"shift.meetings[2].share: calls in no agent",
		"shift.meetings[0].chat_share: -1 is outside 0-1",
		"shift.meetings[0].first: -1s is outside 0-168h",
		"shift.meetings[0].length: 0s is outside 1s-24h",
		"shift.meetings[1].every: 10s must be longer than length 20s",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want …%s…", err, want)
		}
	}
}
