package ccsim

import (
	"fmt"
	"math"
	"time"

	"github.com/callbid/callbid/events"
)

// Chat. A skill's chat team (SkillConfig.Chat) are agents on the chat
// channel only (channels ["chat"]), each handling up to chat.sessions
// chats at once: AVAILABLE while it has a free session, BUSY when full,
// breaks and logouts only between chats. Chats arrive organically
// (Poisson, no key) and from Offer (a visitor opening the chat from a
// creative's tracking key); each is a cc.call.v1 session with channel
// "chat": OFFERED, QUEUED when no session is free, ANSWERED when an agent
// takes it (the agent with the fewest chats open), ENDED after an
// exponential chat length, or ENDED with ABANDONED_IN_QUEUE after the
// visitor's patience.

type chatState struct {
	counts
	queue  []*call
	agents []int
	cursor int
}

// offer is one contact Offer asked for.
type offer struct {
	skill   int
	channel string
	dnis    string
	ext     string // the extension after the number; "" for none
}

// Offer starts a contact at the next Step: a call (channel "" or "voice")
// to a tracking number, or a chat (channel "chat") from a tracking key,
// on skill — what a person who saw a creative does. It reports false for
// an unknown skill, a chat on a skill without chat agents, or another
// channel. Offer is called from the goroutine that calls Step.
func (s *Sim) Offer(skill, channel, dnis string) bool {
	return s.offer(skill, channel, dnis, "")
}

// offer is Offer with the extension dialled after the number (audience.go).
func (s *Sim) offer(skill, channel, dnis, ext string) bool {
	for i := range s.skills {
		if s.skills[i].cfg.Name != skill {
			continue
		}
		switch channel {
		case "", "voice":
			channel = ""
		case "chat":
			if len(s.skills[i].chat.agents) == 0 {
				return false
			}
		default:
			return false
		}
		s.offers = append(s.offers, offer{skill: i, channel: channel, dnis: dnis, ext: ext})
		return true
	}
	return false
}

// addChatAgents creates skill si's chat team.
func (s *Sim) addChatAgents(si int, k SkillConfig) {
	prof := k.ProficiencyMin
	if len(k.Proficiencies) > 0 {
		prof = k.Proficiencies[0]
	}
	for i := range k.Chat.Agents {
		id := fmt.Sprintf("%s:%s-chat-%04d", s.cfg.Tenant, k.Name, i+1)
		a := agent{
			id: id, key: []byte(id), skill: si, chat: true, max: k.Chat.Sessions,
			skills:  []events.AgentSkill{{Name: k.Name, Proficiency: prof}},
			loginAt: s.start.Add(time.Duration(s.rng.Float64() * float64(s.cfg.Shift.LoginSpread))),
		}
		s.skills[si].chat.agents = append(s.skills[si].chat.agents, len(s.agents))
		s.agents = append(s.agents, a)
	}
}

// stepChatAgent advances one chat agent: log in, end its chats that are
// over, take breaks and log out between chats.
func (s *Sim) stepChatAgent(pub Publisher, a *agent) {
	now, sh := s.now, s.cfg.Shift
	s.meetingOver(pub, a)
	switch a.state {
	case "", events.StateOffline:
		if !now.Before(a.loginAt) {
			s.login(pub, a)
		}
		return
	case events.StateNotRoutable:
		if !now.Before(a.until) && !s.inMeeting(pub, a) {
			s.setState(pub, a, events.AgentStateChange, events.StateAvailable)
		}
		return
	}
	kept := a.sessions[:0]
	for _, c := range a.sessions {
		if now.Before(c.until) {
			kept = append(kept, c)
			continue
		}
		s.callEvent(pub, c, events.CallEnded, a.id, c.answered.Sub(c.offered), now.Sub(c.answered), events.EndCustomerHangup)
	}
	clear(a.sessions[len(kept):])
	a.sessions = kept
	if len(a.sessions) == 0 {
		switch {
		case s.inMeeting(pub, a):
			return
		case !a.nextLogout.IsZero() && !now.Before(a.nextLogout):
			a.loginAt = now.Add(s.exp(sh.OfflineFor))
			s.setState(pub, a, events.AgentLogout, events.StateOffline)
			return
		case !a.nextBreak.IsZero() && !now.Before(a.nextBreak):
			a.until = now.Add(s.exp(sh.BreakLength))
			a.nextBreak = s.after(sh.BreakEvery)
			s.setState(pub, a, events.AgentStateChange, events.StateNotRoutable)
			return
		}
	}
	s.chatState(pub, a)
}

// chatState sends BUSY when a's sessions are full, AVAILABLE when one is
// free, on a change only.
func (s *Sim) chatState(pub Publisher, a *agent) {
	want := events.StateAvailable
	if len(a.sessions) >= a.max {
		want = events.StateBusy
	}
	if a.state != want {
		s.setState(pub, a, events.AgentStateChange, want)
	}
}

// startOffers starts the contacts Offer asked for.
func (s *Sim) startOffers(pub Publisher) {
	for _, o := range s.offers {
		sk := &s.skills[o.skill]
		c := s.newContact(o.skill, o.channel, o.dnis)
		c.ext = o.ext
		if o.channel == "" {
			c.abandonAt = s.now.Add(s.exp(sk.cfg.Patience))
			s.enqueue(pub, sk, c)
			continue
		}
		s.enqueueChat(pub, sk, c)
	}
	s.offers = s.offers[:0]
}

func (s *Sim) newContact(si int, channel, dnis string) *call {
	s.callN++
	return &call{
		id: fmt.Sprintf("%s-%s-%06d", s.cfg.Tenant, s.runID, s.callN), skill: si, offered: s.now,
		ani: fmt.Sprintf("+1415555%04d", s.rng.IntN(10000)), channel: channel, dnis: dnis,
	}
}

func (s *Sim) enqueueChat(pub Publisher, sk *skillState, c *call) {
	c.abandonAt = s.now.Add(s.exp(sk.cfg.Chat.Patience))
	s.callEvent(pub, c, events.CallOffered, "", 0, 0, "")
	sk.chat.queue = append(sk.chat.queue, c)
	if s.nextChatAgent(sk) < 0 {
		s.callEvent(pub, c, events.CallQueued, "", 0, 0, "")
	}
}

// abandon ends the contacts in queue whose patience ran out (as
// abandoned in queue) and returns the queue of those still waiting.
func (s *Sim) abandon(pub Publisher, queue []*call) []*call {
	kept := queue[:0]
	for _, c := range queue {
		if !s.now.Before(c.abandonAt) {
			s.callEvent(pub, c, events.CallEnded, "", s.now.Sub(c.offered), 0, events.EndAbandonedInQueue)
			continue
		}
		kept = append(kept, c)
	}
	clear(queue[len(kept):])
	return kept
}

// stepChats runs skill si's chat queue: abandonment, organic arrivals,
// and routing to the agent with the fewest chats open.
func (s *Sim) stepChats(pub Publisher, sk *skillState, si int) {
	if len(sk.chat.agents) == 0 {
		return
	}
	now, q := s.now, &sk.chat
	q.queue = s.abandon(pub, q.queue)
	rate := sk.cfg.Chat.ArrivalPerMin / 60 * s.cfg.Tick.Seconds()
	for range s.poisson(rate) {
		s.enqueueChat(pub, sk, s.newContact(si, "chat", ""))
	}
	s.route(pub, &q.queue, func() int { return s.nextChatAgent(sk) }, func(c *call, a *agent) {
		c.until = now.Add(max(30*time.Second, s.exp(sk.cfg.Chat.HandleTime)))
		a.sessions = append(a.sessions, c)
		s.chatState(pub, a)
	})
}

// route answers the queue's longest-waiting contacts while next finds an
// agent (index, or −1): each is marked answered and its answer published,
// then take hands it to the agent (the voice and chat queues differ only
// there).
func (s *Sim) route(pub Publisher, queue *[]*call, next func() int, take func(c *call, a *agent)) {
	for len(*queue) > 0 {
		ai := next()
		if ai < 0 {
			return
		}
		c := (*queue)[0]
		(*queue)[0] = nil
		*queue = (*queue)[1:]
		a := &s.agents[ai]
		c.answered = s.now
		s.callEvent(pub, c, events.CallAnswered, a.id, s.now.Sub(c.offered), 0, "")
		take(c, a)
	}
}

// nextChatAgent is the AVAILABLE chat agent with the fewest chats open
// (the rotation breaks ties), or −1.
func (s *Sim) nextChatAgent(sk *skillState) int {
	q := &sk.chat
	n, best, fewest := len(q.agents), -1, math.MaxInt
	for j := range n {
		ai := q.agents[(q.cursor+j)%n]
		a := &s.agents[ai]
		if a.state == events.StateAvailable && a.next == "" && len(a.sessions) < a.max && len(a.sessions) < fewest {
			best, fewest = ai, len(a.sessions)
		}
	}
	if best >= 0 {
		q.cursor = (q.cursor + 1) % n
	}
	return best
}
