package ccsim

import (
	"fmt"
	"math"
	"time"

	"github.com/callbid/callbid/events"
)

// Meetings: at scheduled times a share of a skill's voice agents leave the
// queue together — a team huddle, a shift handover — and come back when it
// ends. Random breaks (shift.break_every) spread over the day and seldom
// move capacity much; a meeting is the step change a contact center really
// has, and the one the demo needs to show bids stopping and resuming.
//
// An AVAILABLE agent goes NOT_ROUTABLE at the start. An agent on a call or
// in after-call work announces it (next_routing_state NOT_ROUTABLE on its
// events, as Genesys and Connect send it) and goes NOT_ROUTABLE when its
// work ends; an agent on a break stays out until the meeting ends. An
// agent logged out at the start is called in too: if it logs in before the
// end, it logs in NOT_ROUTABLE and joins the meeting (or capacity would come
// back in the middle of it, as a chat agent back from a logout once did in
// the demo). Everyone is back (AVAILABLE) at the end, except agents whose
// own break outlasts it.

// MeetingConfig is one recurring meeting (yaml simulator.shift.meetings[]).
type MeetingConfig struct {
	// Skill whose voice agents meet; required.
	Skill string `yaml:"skill"`
	// Share of the skill's voice agents called in, [0, 1]; the first
	// round(share × agents) agents by id.
	Share float64 `yaml:"share"`
	// ChatShare of its chat agents called in too, [0, 1]; default 0. A
	// chat agent takes no new chat from the start and leaves when its open
	// chats end.
	ChatShare float64 `yaml:"chat_share"`
	// First is when the first meeting starts, after the simulator's start.
	First time.Duration `yaml:"first"`
	// Every repeats it; 0 means once.
	Every time.Duration `yaml:"every"`
	// Length is how long the agents are away; required.
	Length time.Duration `yaml:"length"`
}

// validateMeetings reports the problems of shift.meetings with their paths.
func (c *Config) validateMeetings(add func(format string, args ...any)) {
	skills := map[string]bool{}
	for _, k := range c.Skills {
		skills[k.Name] = true
	}
	for i, m := range c.Shift.Meetings {
		p := fmt.Sprintf("shift.meetings[%d]", i)
		if !skills[m.Skill] {
			add("%s.skill: %q is not one of skills[].name", p, m.Skill)
		}
		if !(m.Share >= 0 && m.Share <= 1) {
			add("%s.share: %g is outside 0-1", p, m.Share)
		}
		if !(m.ChatShare >= 0 && m.ChatShare <= 1) {
			add("%s.chat_share: %g is outside 0-1", p, m.ChatShare)
		}
		if m.Share == 0 && m.ChatShare == 0 {
			add("%s.share: calls in no agent (share and chat_share are 0)", p)
		}
		if m.First < 0 || m.First > 7*24*time.Hour {
			add("%s.first: %s is outside 0-168h", p, m.First)
		}
		if m.Length < time.Second || m.Length > 24*time.Hour {
			add("%s.length: %s is outside 1s-24h", p, m.Length)
		}
		if m.Every != 0 && (m.Every <= m.Length || m.Every > 7*24*time.Hour) {
			add("%s.every: %s must be longer than length %s and at most 168h (0: once)", p, m.Every, m.Length)
		}
	}
}

// meetingState is one configured meeting's schedule.
type meetingState struct {
	cfg   MeetingConfig
	skill int
	next  time.Time // start of the next meeting; zero: no more
}

// initMeetings schedules the configured meetings (skills are in place).
func (s *Sim) initMeetings() {
	for _, m := range s.cfg.Shift.Meetings {
		for si := range s.skills {
			if s.skills[si].cfg.Name == m.Skill {
				s.meetings = append(s.meetings, meetingState{cfg: m, skill: si, next: s.start.Add(m.First)})
			}
		}
	}
}

// startMeetings calls in the agents of every meeting due now.
func (s *Sim) startMeetings(pub Publisher) {
	for i := range s.meetings {
		m := &s.meetings[i]
		if m.next.IsZero() || s.now.Before(m.next) {
			continue
		}
		end := m.next.Add(m.cfg.Length)
		if m.cfg.Every > 0 {
			m.next = m.next.Add(m.cfg.Every)
		} else {
			m.next = time.Time{}
		}
		sk := &s.skills[m.skill]
		called := 0
		for _, team := range []struct {
			agents []int
			share  float64
		}{{sk.agents, m.cfg.Share}, {sk.chat.agents, m.cfg.ChatShare}} {
			n := int(math.Round(team.share * float64(len(team.agents))))
			for _, ai := range team.agents[:n] {
				if s.callIn(pub, &s.agents[ai], end) {
					called++
				}
			}
		}
		s.log.Info().Str("skill", m.cfg.Skill).Int("agents", called).Dur("length", m.cfg.Length).
			Msg("SIMULATED team meeting: agents leave the queue")
	}
}

// callIn calls agent a to a meeting ending at end; false if it is logged
// out (it joins when it logs in before the end: login).
func (s *Sim) callIn(pub Publisher, a *agent, end time.Time) bool {
	switch {
	case a.state == "" || a.state == events.StateOffline:
		a.meetingUntil = later(a.meetingUntil, end)
		return false
	case a.state == events.StateNotRoutable: // on a break: stays out until the end
		a.meetingUntil = later(a.meetingUntil, end)
	case a.state == events.StateAvailable && len(a.sessions) == 0:
		a.meetingUntil = end
		a.until = end
		s.setState(pub, a, events.AgentStateChange, events.StateNotRoutable)
	default: // on a call, in after-call work, or with chats open
		a.meetingUntil = later(a.meetingUntil, end)
		a.next = events.StateNotRoutable
		s.agentEvent(pub, a, events.AgentStateChange) // the announcement
	}
	return true
}

// inMeeting reports whether agent a, about to become AVAILABLE, is due in a
// meeting instead; then it is (or stays) NOT_ROUTABLE until the meeting ends.
func (s *Sim) inMeeting(pub Publisher, a *agent) bool {
	if !s.now.Before(a.meetingUntil) {
		return false
	}
	a.next = ""
	a.until = a.meetingUntil
	if a.state != events.StateNotRoutable {
		s.setState(pub, a, events.AgentStateChange, events.StateNotRoutable)
	}
	return true
}

// meetingOver ends agent a's meeting once its time is up (Step calls it
// before the agent's own transitions): an agent still on a call withdraws
// its announcement, and a break or logout that fell due during the meeting
// is redrawn, or a tenth of the team would leave again at once.
func (s *Sim) meetingOver(pub Publisher, a *agent) {
	if a.meetingUntil.IsZero() || s.now.Before(a.meetingUntil) {
		return
	}
	a.meetingUntil = time.Time{}
	if a.state == "" || a.state == events.StateOffline {
		return // its login draws its next break and logout
	}
	if a.next != "" {
		a.next = ""
		s.agentEvent(pub, a, events.AgentStateChange)
	}
	sh := s.cfg.Shift
	if !a.nextBreak.IsZero() && !s.now.Before(a.nextBreak) {
		a.nextBreak = s.after(sh.BreakEvery)
	}
	if !a.nextLogout.IsZero() && !s.now.Before(a.nextLogout) {
		a.nextLogout = s.after(sh.LogoutEvery)
	}
}

// login logs agent a in: AVAILABLE, or NOT_ROUTABLE until the end of a
// meeting it is called to that is under way.
func (s *Sim) login(pub Publisher, a *agent) {
	sh := s.cfg.Shift
	a.nextBreak = s.after(sh.BreakEvery)
	a.nextLogout = s.after(sh.LogoutEvery)
	if s.now.Before(a.meetingUntil) {
		a.until = a.meetingUntil
		s.setState(pub, a, events.AgentLogin, events.StateNotRoutable)
		return
	}
	s.setState(pub, a, events.AgentLogin, events.StateAvailable)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
