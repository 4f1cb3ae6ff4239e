package ccsim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbid/callbid/events"
)

// Publisher takes one record for a topic; false means it was dropped.
// *kafkaio.Producer satisfies it.
type Publisher interface {
	Publish(topic string, key, value []byte) bool
}

// Sim is a simulated contact center. Step advances it by one tick and
// publishes what happened; Run steps it in real time (scaled by Speed).
// A Sim is used from one goroutine; Stats may be read from any.
type Sim struct {
	cfg    Config
	log    zerolog.Logger
	rng    *rand.Rand
	start  time.Time
	now    time.Time
	steps  int64
	seq0   int64 // seq base so a restarted simulator's seqs keep increasing
	callN  int64
	runID  string
	agents []agent
	skills []skillState
	offers []offer // contacts from tracking numbers and keys, started at the next Step (Offer)
	// meetings take agents off the queue at scheduled times (meeting.go)
	meetings []meetingState
	// aud calls won tracking numbers (audience.go)
	aud audience

	ev  events.AgentState
	cev events.Call

	published atomic.Uint64
	dropped   atomic.Uint64
	stats     atomic.Pointer[Stats]
}

type agent struct {
	id         string
	key        []byte
	skill      int
	skills     []events.AgentSkill
	state      string // events.State*; "" before the first login
	seq        int64
	until      time.Time // end of talk, ACW, break or offline
	loginAt    time.Time
	nextHB     time.Time
	nextBreak  time.Time
	nextLogout time.Time
	call       *call
	// A chat agent (chat.go) has sessions open at once, up to max.
	chat     bool
	sessions []*call
	max      int
	// meetingUntil is the end of the meeting the agent is called to
	// (meeting.go); next is the next_routing_state it announces meanwhile.
	meetingUntil time.Time
	next         string
}

type call struct {
	id        string
	skill     int
	offered   time.Time
	abandonAt time.Time
	answered  time.Time
	ani       string
	channel   string    // "" for a call, "chat"
	dnis      string    // the number or key dialled; "" for the skill's line
	ext       string    // the extension dialled after dnis (audience.go)
	until     time.Time // a chat's end
}

type skillState struct {
	cfg    SkillConfig
	queue  []*call
	cursor int // rotates the agent search so calls spread over agents
	agents []int
	calls  counts    // call events by type
	chat   chatState // chat.go
}

// counts are contact events by type.
type counts struct{ offered, answered, abandoned, ended int64 }

// SkillStats is one skill's live counts.
type SkillStats struct {
	Name                                    string
	Staffed, Available, Busy, ACW, NotReady int
	Waiting                                 int
	Offered, Answered, Abandoned, Ended     int64
	// Chat: agents staffed on chat, sessions open, chats waiting, and
	// counts of chats by event type.
	ChatStaffed, ChatSessions, ChatWaiting              int
	ChatOffered, ChatAnswered, ChatAbandoned, ChatEnded int64
}

// Stats is a snapshot after a step.
type Stats struct {
	SimTime   time.Time
	Skills    []SkillStats
	Published uint64
	Dropped   uint64
}

// New builds a simulator whose simulated clock starts at start (Run uses
// time.Now()). cfg is defaulted; an invalid cfg is an error naming the field.
func New(cfg Config, start time.Time, log zerolog.Logger) (*Sim, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	s := &Sim{
		cfg:   cfg,
		log:   log.With().Str("component", "ccsim").Logger(),
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x63616c6c626964)),
		start: start,
		now:   start,
		seq0:  start.UnixMilli() * 1000,
		runID: strconv.FormatInt(start.Unix(), 36),
	}
	for si, k := range cfg.Skills {
		s.skills = append(s.skills, skillState{cfg: k})
		for i := range k.Agents {
			prof := k.ProficiencyMin
			if len(k.Proficiencies) > 0 {
				prof = k.Proficiencies[s.rng.IntN(len(k.Proficiencies))]
			} else if k.ProficiencyMax > k.ProficiencyMin {
				// Half-point steps read naturally in dashboards.
				prof = math.Round((k.ProficiencyMin+s.rng.Float64()*(k.ProficiencyMax-k.ProficiencyMin))*2) / 2
			}
			id := fmt.Sprintf("%s:%s-%04d", cfg.Tenant, k.Name, i+1)
			a := agent{
				id: id, key: []byte(id), skill: si,
				skills:  []events.AgentSkill{{Name: k.Name, Proficiency: prof}},
				loginAt: start.Add(time.Duration(s.rng.Float64() * float64(cfg.Shift.LoginSpread))),
			}
			s.skills[si].agents = append(s.skills[si].agents, len(s.agents))
			s.agents = append(s.agents, a)
		}
		s.addChatAgents(si, k)
	}
	s.initMeetings()
	s.snapshot()
	return s, nil
}

// Now is the simulated time.
func (s *Sim) Now() time.Time { return s.now }

// Stats returns the counts after the last step.
func (s *Sim) Stats() Stats { return *s.stats.Load() }

// Run logs that the contact center is simulated, then steps it in real time
// (Tick/Speed per step) until ctx is done.
func (s *Sim) Run(ctx context.Context, pub Publisher) {
	agents := 0
	names := make([]string, 0, len(s.skills))
	for _, k := range s.skills {
		agents += k.cfg.Agents
		names = append(names, k.cfg.Name)
	}
	s.log.Warn().Str("tenant", s.cfg.Tenant).Strs("skills", names).Int("agents", agents).Uint64("seed", s.cfg.Seed).
		Float64("speed", s.cfg.Speed).Msg("contact center is SIMULATED: agent states and calls are generated by ccsim, not a real contact center")
	real := time.Duration(float64(s.cfg.Tick) / s.cfg.Speed)
	perWake := 1
	if real < 5*time.Millisecond {
		// Wake at most every 5ms and do several steps instead.
		perWake = int(math.Ceil(float64(5*time.Millisecond) / float64(max(real, 1))))
		real = time.Duration(float64(real) * float64(perWake))
	}
	t := time.NewTicker(real)
	defer t.Stop()
	var logT <-chan time.Time
	if s.cfg.LogEvery > 0 {
		lt := time.NewTicker(s.cfg.LogEvery)
		defer lt.Stop()
		logT = lt.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for range perWake {
				s.Step(pub)
			}
		case <-logT:
			s.logSummary()
		}
	}
}

func (s *Sim) logSummary() {
	st := s.Stats()
	// One line for every skill, every log_every (default 5m): the status page
	// and metrics show the live figures, the log only needs a heartbeat.
	ev := s.log.Info().Time("sim_time", st.SimTime)
	for _, k := range st.Skills {
		ev = ev.Dict(k.Name, zerolog.Dict().Int("staffed", k.Staffed).Int("available", k.Available).Int("busy", k.Busy).
			Int("acw", k.ACW).Int("not_ready", k.NotReady).Int("waiting", k.Waiting).Int64("offered", k.Offered).
			Int64("abandoned", k.Abandoned))
	}
	ev.Msg("SIMULATED contact center")
	if st.Dropped > 0 {
		s.log.Warn().Uint64("dropped", st.Dropped).Uint64("published", st.Published).Msg("simulated events dropped by the publisher")
	}
}

// Step advances the simulated clock by one tick and publishes the events of
// that tick.
func (s *Sim) Step(pub Publisher) {
	s.steps++
	s.now = s.start.Add(time.Duration(s.steps) * s.cfg.Tick)
	now := s.now
	sh := s.cfg.Shift
	s.startMeetings(pub)
	for i := range s.agents {
		a := &s.agents[i]
		k := &s.skills[a.skill].cfg
		if a.chat {
			s.stepChatAgent(pub, a)
			continue
		}
		s.meetingOver(pub, a)
		switch a.state {
		case "", events.StateOffline:
			if !now.Before(a.loginAt) {
				s.login(pub, a)
			}
		case events.StateBusy:
			if !now.Before(a.until) {
				s.endCall(pub, a, k)
			}
		case events.StateACW, events.StateNotRoutable:
			if !now.Before(a.until) && !s.inMeeting(pub, a) {
				s.setState(pub, a, events.AgentStateChange, events.StateAvailable)
			}
		case events.StateAvailable:
			switch {
			case !a.nextLogout.IsZero() && !now.Before(a.nextLogout):
				a.loginAt = now.Add(s.exp(sh.OfflineFor))
				s.setState(pub, a, events.AgentLogout, events.StateOffline)
			case !a.nextBreak.IsZero() && !now.Before(a.nextBreak):
				a.until = now.Add(s.exp(sh.BreakLength))
				a.nextBreak = s.after(sh.BreakEvery)
				s.setState(pub, a, events.AgentStateChange, events.StateNotRoutable)
			}
		}
	}
	s.stepAudience()
	s.startOffers(pub)
	for si := range s.skills {
		sk := &s.skills[si]
		s.stepChats(pub, sk, si)
		sk.queue = s.abandon(pub, sk.queue)
		// Arrivals.
		rate := sk.cfg.ArrivalPerMin / 60 * (1 + sh.WaveAmplitude*math.Sin(2*math.Pi*now.Sub(s.start).Seconds()/sh.WavePeriod.Seconds()))
		for range s.poisson(rate * s.cfg.Tick.Seconds()) {
			s.callN++
			c := &call{
				id: fmt.Sprintf("%s-%s-%06d", s.cfg.Tenant, s.runID, s.callN), skill: si, offered: now,
				abandonAt: now.Add(s.exp(sk.cfg.Patience)),
				ani:       fmt.Sprintf("+1415555%04d", s.rng.IntN(10000)),
			}
			s.enqueue(pub, sk, c)
		}
		// Routing: longest-waiting call to the next available agent.
		s.route(pub, &sk.queue, func() int { return s.nextAvailable(sk) }, func(c *call, a *agent) {
			a.call = c
			a.until = now.Add(max(10*time.Second, s.exp(sk.cfg.HandleTime)))
			s.setState(pub, a, events.AgentStateChange, events.StateBusy)
		})
	}
	// Heartbeats for agents with nothing else to say.
	for i := range s.agents {
		a := &s.agents[i]
		if a.state != "" && a.state != events.StateOffline && !now.Before(a.nextHB) {
			s.agentEvent(pub, a, events.AgentHeartbeat)
		}
	}
	s.snapshot()
}

func (s *Sim) endCall(pub Publisher, a *agent, k *SkillConfig) {
	c := a.call
	a.call = nil
	reason := events.EndCustomerHangup
	if s.rng.IntN(5) == 0 {
		reason = events.EndAgentHangup
	}
	s.callEvent(pub, c, events.CallEnded, a.id, c.answered.Sub(c.offered), s.now.Sub(c.answered), reason)
	if k.ACWTime > 0 {
		a.until = s.now.Add(k.ACWTime)
		s.setState(pub, a, events.AgentStateChange, events.StateACW)
	} else if !s.inMeeting(pub, a) {
		s.setState(pub, a, events.AgentStateChange, events.StateAvailable)
	}
}

// enqueue offers call c to skill sk's voice queue.
func (s *Sim) enqueue(pub Publisher, sk *skillState, c *call) {
	s.callEvent(pub, c, events.CallOffered, "", 0, 0, "")
	sk.queue = append(sk.queue, c)
	if !s.hasAvailable(sk) {
		s.callEvent(pub, c, events.CallQueued, "", 0, 0, "")
	}
}

func (s *Sim) hasAvailable(sk *skillState) bool {
	for _, ai := range sk.agents {
		if s.agents[ai].state == events.StateAvailable {
			return true
		}
	}
	return false
}

func (s *Sim) nextAvailable(sk *skillState) int {
	n := len(sk.agents)
	for j := range n {
		ai := sk.agents[(sk.cursor+j)%n]
		if s.agents[ai].state == events.StateAvailable {
			sk.cursor = (sk.cursor + j + 1) % n
			return ai
		}
	}
	return -1
}

func (s *Sim) setState(pub Publisher, a *agent, eventType, state string) {
	a.state = state
	s.agentEvent(pub, a, eventType)
}

func (s *Sim) agentEvent(pub Publisher, a *agent, eventType string) {
	a.seq++
	a.nextHB = s.now.Add(s.cfg.HeartbeatInterval)
	chans := voice
	if a.chat {
		chans = chatOnly
	}
	s.ev = events.AgentState{
		AgentID: a.id, Seq: s.seq0 + a.seq, EventType: eventType, OccurredAt: s.now,
		RoutingState: a.state, NextRoutingState: a.next, Skills: a.skills, Channels: chans, TTLSeconds: int(s.cfg.TTL / time.Second),
	}
	b, err := json.Marshal(&s.ev)
	if err != nil {
		s.log.Error().Err(err).Msg("cannot encode a simulated agent state") // cannot happen: plain fields
		return
	}
	s.publish(pub, events.TopicAgentState, a.key, b)
}

var voice, chatOnly = []string{"voice"}, []string{"chat"}

func (s *Sim) callEvent(pub Publisher, c *call, eventType, agentID string, wait, talk time.Duration, reason string) {
	ss := &s.skills[c.skill]
	sk := &ss.cfg
	n := &ss.calls
	if c.channel != "" {
		n = &ss.chat.counts
	}
	switch eventType {
	case events.CallOffered:
		n.offered++
	case events.CallAnswered:
		n.answered++
	case events.CallEnded:
		n.ended++
		if reason == events.EndAbandonedInQueue {
			n.abandoned++
		}
	}
	dnis := sk.DNIS
	if c.dnis != "" || c.channel != "" {
		dnis = c.dnis // a tracking number or key; an organic chat has none
	}
	s.cev = events.Call{
		CallID: c.id, EventType: eventType, DNIS: dnis, ANI: c.ani, OccurredAt: s.now,
		Ext: c.ext, Queue: sk.Name, Skill: sk.Name, AgentID: agentID, Channel: c.channel,
		QueueWaitMS: wait.Milliseconds(), TalkMS: talk.Milliseconds(), EndReason: reason,
	}
	b, err := json.Marshal(&s.cev)
	if err != nil {
		s.log.Error().Err(err).Msg("cannot encode a simulated call")
		return
	}
	s.publish(pub, events.TopicCall, []byte(c.id), b)
}

func (s *Sim) publish(pub Publisher, topic string, key, value []byte) {
	if pub.Publish(topic, key, value) {
		s.published.Add(1)
	} else {
		s.dropped.Add(1)
	}
}

// after is now plus an exponential draw with mean d; zero time (never) for
// d < 0.
func (s *Sim) after(d time.Duration) time.Time {
	if d < 0 {
		return time.Time{}
	}
	return s.now.Add(s.exp(d))
}

func (s *Sim) exp(mean time.Duration) time.Duration {
	return time.Duration(s.rng.ExpFloat64() * float64(mean))
}

// poisson draws from Poisson(mean) by Knuth's method (means here are small:
// arrivals per tick); large means fall back to a normal approximation.
func (s *Sim) poisson(mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 30 {
		return max(0, int(math.Round(mean+s.rng.NormFloat64()*math.Sqrt(mean))))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= s.rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func (s *Sim) snapshot() {
	st := &Stats{SimTime: s.now, Published: s.published.Load(), Dropped: s.dropped.Load(), Skills: make([]SkillStats, len(s.skills))}
	for i := range s.skills {
		st.Skills[i] = SkillStats{Name: s.skills[i].cfg.Name, Waiting: len(s.skills[i].queue)}
	}
	for i := range s.agents {
		a := &s.agents[i]
		k := &st.Skills[a.skill]
		if a.chat {
			if a.state == events.StateAvailable || a.state == events.StateBusy {
				k.ChatStaffed++
				k.ChatSessions += len(a.sessions)
			}
			continue
		}
		switch a.state {
		case events.StateAvailable:
			k.Available++
		case events.StateBusy:
			k.Busy++
		case events.StateACW:
			k.ACW++
		case events.StateNotRoutable:
			k.NotReady++
		}
	}
	for i := range st.Skills {
		k := &st.Skills[i]
		k.Staffed = k.Available + k.Busy + k.ACW
	}
	for i := range s.skills {
		k, sk := &st.Skills[i], &s.skills[i]
		k.Offered, k.Answered, k.Abandoned, k.Ended = sk.calls.offered, sk.calls.answered, sk.calls.abandoned, sk.calls.ended
		k.ChatOffered, k.ChatAnswered, k.ChatAbandoned, k.ChatEnded = sk.chat.offered, sk.chat.answered, sk.chat.abandoned, sk.chat.ended
		k.ChatWaiting = len(sk.chat.queue)
	}
	s.stats.Store(st)
}

// RegisterMetrics registers callbid_ccsim_* gauges (SIMULATED agents per
// skill and state, waiting calls) and counters of published and dropped
// events.
func (s *Sim) RegisterMetrics(reg prometheus.Registerer) error {
	var cs []prometheus.Collector
	for i, k := range s.cfg.Skills {
		for _, st := range []string{"staffed", "available", "busy", "acw", "not_ready"} {
			cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "callbid_ccsim_agents", Help: "SIMULATED contact center: agents per skill and state.",
				ConstLabels: prometheus.Labels{"skill": k.Name, "state": st},
			}, func() float64 {
				sk := s.Stats().Skills[i]
				return float64(map[string]int{"staffed": sk.Staffed, "available": sk.Available, "busy": sk.Busy, "acw": sk.ACW, "not_ready": sk.NotReady}[st])
			}))
		}
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callbid_ccsim_waiting_calls", Help: "SIMULATED contact center: calls waiting in queue per skill.",
			ConstLabels: prometheus.Labels{"skill": k.Name},
		}, func() float64 { return float64(s.Stats().Skills[i].Waiting) }))
	}
	cs = append(cs,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_ccsim_events_published_total", Help: "SIMULATED events accepted by the publisher."},
			func() float64 { return float64(s.published.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_ccsim_events_dropped_total", Help: "SIMULATED events the publisher dropped."},
			func() float64 { return float64(s.dropped.Load()) }),
	)
	cs = append(cs, s.audienceMetrics()...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("cannot register ccsim metrics: %w", err)
		}
	}
	return nil
}
