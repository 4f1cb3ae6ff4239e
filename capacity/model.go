package capacity

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/rs/zerolog"
)

// numBuckets is the number of proficiency thresholds 0, 0.5, …, 5.0 that
// headroom is precomputed for.
const numBuckets = 11

// Commitments reports calls already committed by won impressions that have
// not arrived yet, per skill, in calls per minute. The feedback package
// implements it; nil means zero. It is called from the rebuild goroutine
// only, never on the bid path.
type Commitments interface {
	CommittedCalls(skill string) float64
}

// View is what the bid path learns about one skill requirement. It carries
// no price and no OpenRTB code: the bidder maps State to its no-bid reasons
// and applies the campaign's premium_multiplier when PremiumFree.
type View struct {
	Factor      float64 // 0 unless State is Fresh; rising to 1 with headroom
	PremiumFree bool    // an agent at or above the premium proficiency is available
	State       State
}

// State is what the model knows about a skill requirement right now.
type State uint8

const (
	// Fresh: the agent feed is live and the skill has headroom (Factor > 0).
	Fresh State = iota
	// NoHeadroom: the feed is live but the skill, at that proficiency, has
	// no headroom, or no agent has ever had the skill.
	NoHeadroom
	// Stale: no agent-state event within stale_after; nothing is known.
	Stale
)

// Model turns agent state and call events into per-skill headroom.
type Model struct {
	cfg Config
	sl  slParams
	log zerolog.Logger
	now func() time.Time

	snap           atomic.Pointer[snapshot] // read by View/Headroom; written by rebuild
	lastAgentEvent atomic.Int64             // unix ns of the last valid agent-state event; 0 = never
	dirty          atomic.Bool              // something changed since the last rebuild
	notify         chan struct{}            // cap 1: wakes Run for a prompt rebuild
	commit         atomic.Pointer[commitHolder]

	counts       [2][numReasons]atomic.Uint64 // [topicAgent|topicCall][reason]
	expired      atomic.Uint64                // agents dropped for silence past their TTL
	waitTimeouts atomic.Uint64                // waiting calls forgotten after waiting_timeout
	skillDropped atomic.Uint64                // agent skills no campaign uses (or beyond max_skills)
	evicted      atomic.Uint64                // agents evicted from a full table
	nAgents      atomic.Int64                 // agents in the table (incl. logged-out tombstones)
	rebuildNanos atomic.Int64                 // duration of the last rebuild
	rebuilds     atomic.Uint64                // snapshots built

	// mu guards the tables below; taken by the consumer goroutines and the
	// rebuild, never by View or Headroom.
	mu        sync.Mutex
	agents    map[string]*agent
	skills    []*skillState
	skillIdx  map[string]int32
	calls     map[string]callRec
	acwWin    handleWindow // agents' after-call work periods, seconds
	ringWin   handleWindow // agents' ring (RESERVED) periods, seconds
	lastSweep int64
	lastEvict int64 // unix ns of the last eviction scan of a full agent table

	// buildMu serialises rebuilds (Run, tests); guards the fields below.
	buildMu   sync.Mutex
	lastBuild int64
	builtWith bool // staleness the current snapshot was built with
	lmCache   map[lmKey]float64
	scratch   []skillCopy
}

const (
	topicAgent = 0
	topicCall  = 1
)

type commitHolder struct{ c Commitments }

// agent is the latest state of one agent, ordered by seq (or by event
// time when there is none: see order).
type agent struct {
	seq        int64 // 0: the last applied event had no seq
	at         int64 // unix ns event time of the last applied event
	pendingSeq int64 // a rejected seq jump the next event may confirm (order)
	seqChecked bool  // a second event has confirmed seq's order (order)
	state      routingState
	skills     []agentSkill
	heard      int64 // unix ns the agent was last heard from (event time, ≤ receive time)
	ttl        int64 // ns
	stateSince int64 // unix ns the current routing state began
	leaving    bool  // next_routing_state OFFLINE/NOT_ROUTABLE: no capacity
}

type agentSkill struct {
	idx   int32 // into Model.skills
	hb    int8  // histogram bucket: floor(2·proficiency), 0–10
	milli int32 // proficiency × 1000, for the weighted sums without float drift
}

// skillState is the running per-skill aggregate. The four histograms count
// agents by floor(2·proficiency); the rebuild turns them into "at or above
// threshold" counts with a suffix sum.
type skillState struct {
	name                           string
	staffed, avail, reserved, busy [numBuckets]int32
	acw                            [numBuckets]int32
	capAgents                      [numBuckets]float64 // agents that count as capacity, shared over skills
	staffedMilli, availMilli       int64
	ahtSeed                        float64      // starting handle time, seconds
	ht                             handleWindow // talk + ring samples, seconds (ACW is added on read)
	ringWin, acwWin                handleWindow // single-skill agents' ring and ACW periods
	talks                          talkRing     // the last calls answered, in progress or ended (estimate.go)
	rate                           float64      // arrivals per second, exponentially weighted
	rateAt                         int64        // unix ns of rate
	load                           float64      // arrivals per second weighted over one handle time (the gate's λ_load)
	loadAt                         int64        // unix ns of load
	loadTau                        float64      // seconds: min(handle time, arrival_window) at the last rebuild
	abandon                        float64      // callers abandoning in queue, per second, same weighting
	abandonAt                      int64
	waiting                        int32
}

// callRec tracks one call id: waiting (not done) or finished (a tombstone
// kept for waiting_timeout so late or repeated transitions are recognised).
type callRec struct {
	skill int32 // -1 when unknown (the answer came before the offer)
	since int64 // unix ns the call began waiting
	at    int64 // unix ns of the last transition received
	done  bool  // answered or ended: no longer waiting
	ended bool  // its handle time was sampled
	talk  talkRef
}

// New builds a model for the given skills (from the campaigns). cfg is used
// with defaults for its zero fields; an invalid cfg is an error naming the
// field (Config.Validate).
func New(cfg Config, skills []string, log zerolog.Logger) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("capacity: %w", err)
	}
	cfg.SetDefaults()
	m := &Model{
		cfg: cfg,
		sl: slParams{
			target:       cfg.ServiceLevel.Target,
			answerTime:   cfg.ServiceLevel.AnswerTime.Seconds(),
			maxOccupancy: cfg.MaxOccupancy,
		},
		log:      log.With().Str("component", "capacity").Logger(),
		now:      time.Now,
		notify:   make(chan struct{}, 1),
		agents:   make(map[string]*agent),
		skillIdx: make(map[string]int32),
		calls:    make(map[string]callRec),
		lmCache:  make(map[lmKey]float64),
	}
	m.commit.Store(&commitHolder{})
	m.SetSkills(skills)
	m.snap.Store(&snapshot{stale: true})
	m.builtWith = true
	return m, nil
}

// SetCommitments sets the source of committed calls (nil = none).
func (m *Model) SetCommitments(c Commitments) {
	m.commit.Store(&commitHolder{c: c})
	m.changed()
}

// SetSkills adds the campaigns' skills on config reload, so each has a View
// entry even before its first agent. Skills seen in events are kept too.
func (m *Model) SetSkills(skills []string) {
	m.mu.Lock()
	for _, s := range skills {
		if s != "" {
			m.addSkill(s)
		}
	}
	m.mu.Unlock()
	m.changed()
}

// changed marks the snapshot out of date and wakes Run without blocking.
func (m *Model) changed() {
	m.dirty.Store(true)
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

func (m *Model) count(topic int, r reason) { m.counts[topic][r].Add(1) }

// skillIndex returns the index of a tracked skill: only skills a campaign
// uses are tracked, so junk skill names in events take no memory and
// cannot crowd out a campaign's skill. Caller holds mu.
func (m *Model) skillIndex(name string) (int32, bool) {
	if i, ok := m.skillIdx[name]; ok {
		return i, true
	}
	return -1, false
}

// addSkill tracks a campaign's skill, below max_skills. Caller holds mu.
func (m *Model) addSkill(name string) (int32, bool) {
	if i, ok := m.skillIdx[name]; ok {
		return i, true
	}
	if len(m.skills) >= m.cfg.MaxSkills {
		return -1, false
	}
	i := int32(len(m.skills))
	seed := m.seedHandleTime(name)
	m.skills = append(m.skills, &skillState{name: name, ahtSeed: seed,
		loadTau: min(seed, m.cfg.ArrivalWindow.Seconds())})
	m.skillIdx[name] = i
	return i, true
}

// eventTime is the event's occurred_at, clamped to now, or now if absent:
// replayed history then ages out by its real time, and a clock ahead of ours
// cannot keep an agent alive.
func eventTime(t time.Time, now int64) int64 {
	if t.IsZero() {
		return now
	}
	if n := t.UnixNano(); n < now {
		return n
	}
	return now
}

// HandleAgentState applies one checked cc.agent-state.v1 record (the events
// consumer decodes and checks it; see kafkaio.NewRecordConsumer). Called from
// the consumer goroutine. Valid events not applied are counted per reason;
// an error is a record bad in context (a seq jump), which the consumer
// counts and logs.
func (m *Model) HandleAgentState(in *events.AgentState) error {
	ev, err := agentEventOf(in)
	if err != nil {
		return err
	}
	now := m.now().UnixNano()
	// Any well-formed event proves the feed is alive, even an old seq.
	m.lastAgentEvent.Store(now)
	m.mu.Lock()
	r, err := m.applyAgent(&ev, now)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	m.count(topicAgent, r)
	if r == okEvent || r == ignExpiredOnArrival {
		m.changed()
	}
	return nil
}

func (m *Model) applyAgent(ev *agentEvent, now int64) (reason, error) {
	heard := eventTime(ev.OccurredAt, now)
	a := m.agents[ev.AgentID]
	if a != nil {
		r, err := m.order(a, ev, heard)
		if err == errHeartbeatOnly {
			return okEvent, nil
		}
		if r != okEvent || err != nil {
			return r, err
		}
		m.contribute(a, -1)
	} else {
		if r := m.admitAgent(ev, now); r != okEvent {
			return r, nil
		}
		a = &agent{state: stateNotRoutable}
		m.agents[ev.AgentID] = a
		m.nAgents.Store(int64(len(m.agents)))
	}
	ttl := m.cfg.DefaultAgentTTL.Nanoseconds()
	if ev.TTLSeconds > 0 {
		// Capped at a day so junk ids with huge TTLs cannot pile up.
		ttl = int64(min(ev.TTLSeconds, 86400)) * int64(time.Second)
	}
	st := ev.state
	if st == stateUnknown { // heartbeat without a state keeps the last one
		st = a.state
	}
	if len(ev.Skills) > 0 || ev.kind == evLogin || !servesVoice(ev.AgentState) {
		a.skills = m.internSkills(voiceSkills(ev.AgentState), a.skills[:0])
	}
	if (a.state == stateACW || a.state == stateReserved) && st != a.state && a.stateSince > 0 {
		if d := float64(heard-a.stateSince) / 1e9; d > 0 && d < 3600 {
			m.addPeriod(a, a.state == stateACW, d)
		}
	}
	if ev.state != stateUnknown || ev.NextRoutingState != "" {
		a.leaving = leavingAfterContact(ev.AgentState)
	}
	if st != a.state || a.stateSince == 0 {
		a.stateSince = heard
	}
	a.seq, a.at, a.state, a.heard, a.ttl = ev.Seq, heard, st, heard, ttl
	if heard+ttl < now {
		// Replayed history of an agent long gone: keep the seq, not the staffing.
		a.state = stateOffline
		return ignExpiredOnArrival, nil
	}
	m.contribute(a, +1)
	return okEvent, nil
}

// internSkills maps event skills to indexes, keeping the highest proficiency
// of a repeated skill so an agent never counts twice. Caller holds mu.
func (m *Model) internSkills(in []events.AgentSkill, out []agentSkill) []agentSkill {
next:
	for _, s := range in {
		idx, ok := m.skillIndex(s.Name)
		if !ok {
			m.skillDropped.Add(1) // no campaign uses it
			continue
		}
		as := agentSkill{idx: idx, hb: int8(math.Floor(s.Proficiency*2 + 1e-9)), milli: int32(math.Round(s.Proficiency * 1000))}
		if as.hb > numBuckets-1 {
			as.hb = numBuckets - 1
		}
		for i := range out {
			if out[i].idx == idx {
				if as.milli > out[i].milli {
					out[i] = as
				}
				continue next
			}
		}
		out = append(out, as)
	}
	return out
}

// contribute adds (sign +1) or removes (−1) an agent from the per-skill
// aggregates. Caller holds mu.
func (m *Model) contribute(a *agent, sign int32) {
	if !a.state.staffed() {
		return
	}
	share := float64(sign) * capacityShare(a)
	for _, s := range a.skills {
		sk := m.skills[s.idx]
		sk.capAgents[s.hb] += share
		sk.staffed[s.hb] += sign
		sk.staffedMilli += int64(sign) * int64(s.milli)
		switch a.state {
		case stateAvailable:
			sk.avail[s.hb] += sign
			sk.availMilli += int64(sign) * int64(s.milli)
		case stateReserved:
			sk.reserved[s.hb] += sign
		case stateBusy:
			sk.busy[s.hb] += sign
		case stateACW:
			sk.acw[s.hb] += sign
		}
	}
}

// HandleCall applies one checked cc.call.v1 record. Called from the
// consumer goroutine; valid events not applied are counted per reason.
func (m *Model) HandleCall(in *events.Call) error {
	ev, err := callEventOf(in)
	if err != nil || !voiceCall(in) { // other channels: Channels (channels.go)
		return err
	}
	now := m.now().UnixNano()
	m.mu.Lock()
	r := m.applyCall(&ev, now)
	m.mu.Unlock()
	m.count(topicCall, r)
	if r == okEvent {
		m.changed()
	}
	return nil
}

func (m *Model) applyCall(ev *callEvent, now int64) reason {
	t := eventTime(ev.OccurredAt, now)
	rec, seen := m.calls[ev.CallID]
	switch ev.kind {
	case callOffered, callQueued:
		if seen {
			return ignCallRepeated // OFFERED then QUEUED is one arrival
		}
		if ev.Skill == "" {
			return ignNoSkill
		}
		idx, ok := m.skillIndex(ev.Skill)
		if !ok {
			return ignUntrackedSkill
		}
		if now-t > m.cfg.WaitingTimeout.Nanoseconds() {
			return ignExpiredOnArrival
		}
		if !m.roomForCall() {
			return ignCallTableFull
		}
		sk := m.skills[idx]
		m.calls[ev.CallID] = callRec{skill: idx, since: t, at: now}
		sk.waiting++
		sk.arrive(t, m.cfg.ArrivalWindow.Seconds())
		return okEvent
	default: // ANSWERED, ENDED
		if seen && !rec.done {
			if rec.skill >= 0 {
				m.skills[rec.skill].waiting--
			}
		} else if seen && (ev.kind == callAnswered || rec.ended) {
			return ignCallRepeated
		}
		if !seen {
			if !m.roomForCall() {
				return ignCallTableFull
			}
			rec.skill = -1
		}
		rec.done, rec.at = true, now
		rec.ended = rec.ended || ev.kind == callEnded
		if ev.kind == callAnswered && rec.talk.seq == 0 {
			idx := rec.skill
			if ev.Skill != "" {
				idx, _ = m.skillIndex(ev.Skill)
			}
			if idx >= 0 {
				rec.talk = m.skills[idx].talks.answer(idx, t)
			}
		}
		m.calls[ev.CallID] = rec
		// Talk beyond 4 h is a broken record, not a handle time.
		if ev.kind == callEnded && ev.TalkMS > 0 && ev.TalkMS <= 4*3600*1000 {
			idx := rec.skill
			if ev.Skill != "" {
				idx, _ = m.skillIndex(ev.Skill)
			}
			if idx >= 0 {
				sk := m.skills[idx]
				sk.ht.add(m.handleSample(sk, float64(ev.TalkMS)/1000), m.cfg.HandleTimeWindow)
			}
		}
		if r := rec.talk; ev.kind == callEnded && r.seq != 0 && r.skill >= 0 && int(r.skill) < len(m.skills) {
			// A call that ended with no talk (or a broken one) is no sample.
			m.skills[r.skill].talks.end(r, float64(ev.TalkMS)/1000)
		}
		if ev.kind == callEnded && ev.EndReason == events.EndAbandonedInQueue {
			idx := rec.skill
			if ev.Skill != "" {
				idx, _ = m.skillIndex(ev.Skill)
			}
			if idx >= 0 {
				sk := m.skills[idx]
				sk.abandon, sk.abandonAt = decayedAdd(sk.abandon, sk.abandonAt, t, m.cfg.ArrivalWindow.Seconds())
			}
		}
		return okEvent
	}
}

// arrive adds one arrival at t to the continuous-time moving averages of the
// arrival rate: a rate decays by exp(−Δt/τ) and each arrival adds 1/τ, so a
// steady λ converges to λ with time constant τ. rate (λ_now) uses
// arrival_window, load (λ_load, the headroom gate's) the skill's handle time
// (doc.go, Headroom).
func (sk *skillState) arrive(t int64, tau float64) {
	sk.rate, sk.rateAt = decayedAdd(sk.rate, sk.rateAt, t, tau)
	sk.load, sk.loadAt = decayedAdd(sk.load, sk.loadAt, t, sk.loadTau)
}

// ratePerMin is the arrival rate decayed to now, in calls per minute.
func (sk *skillState) ratePerMin(now int64, tau float64) float64 {
	if now <= sk.rateAt {
		return sk.rate * 60
	}
	return sk.rate * math.Exp(-float64(now-sk.rateAt)/1e9/tau) * 60
}

// sweep drops agents silent past their TTL and calls waiting past
// waiting_timeout. Caller holds mu.
func (m *Model) sweep(now int64) {
	for id, a := range m.agents {
		if a.heard+a.ttl < now {
			if a.state.staffed() {
				m.expired.Add(1)
			}
			m.contribute(a, -1)
			delete(m.agents, id)
		}
	}
	m.nAgents.Store(int64(len(m.agents)))
	timeout := m.cfg.WaitingTimeout.Nanoseconds()
	for id, c := range m.calls {
		switch {
		case c.done && now-c.at > timeout:
			if c.talk.seq != 0 && !c.ended && now-c.at <= maxTalkSec*1e9 {
				// Answered, not ended: kept until its end comes (at most
				// 4 h), so the censored talk estimate sees it end.
				continue
			}
			delete(m.calls, id)
		case !c.done && now-c.since > timeout:
			if c.skill >= 0 {
				m.skills[c.skill].waiting--
			}
			m.waitTimeouts.Add(1)
			delete(m.calls, id)
		}
	}
	m.lastSweep = now
}

// stale reports whether the feed is stale at now, and for how long it has
// been silent (0 when no event ever came).
func (m *Model) stale(now int64) (bool, time.Duration) {
	last := m.lastAgentEvent.Load()
	if last == 0 {
		return true, 0
	}
	age := time.Duration(now - last)
	return age > m.cfg.StaleAfter, age
}

// Ready reports whether the feed is fresh; reason says why not.
func (m *Model) Ready() (ok bool, reason string) {
	st, age := m.stale(m.now().UnixNano())
	if !st {
		return true, ""
	}
	if age == 0 {
		return false, "capacity feed stale: no agent-state event received yet"
	}
	return false, "capacity feed stale: no agent-state event for " + age.Truncate(time.Second).String()
}

// Run rebuilds snapshots, expires agents and watches the deadman until ctx
// is done. Start it once, in its own goroutine.
//
// A change wakes it at once; if the last rebuild is younger than
// rebuild_interval it sleeps out the rest first, so under a steady stream of
// events it rebuilds exactly every rebuild_interval and a change waits at
// most that long. A slower check (every 100 ms, or refresh_interval if
// shorter) notices the deadman and refresh_interval without events.
func (m *Model) Run(ctx context.Context) {
	m.rebuild()
	check := min(100*time.Millisecond, m.cfg.RefreshInterval)
	tick := time.NewTicker(check)
	defer tick.Stop()
	wait := time.NewTimer(0)
	<-wait.C
	interval := m.cfg.RebuildInterval.Nanoseconds()
	refresh := m.cfg.RefreshInterval.Nanoseconds()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.notify:
		case <-tick.C:
		}
		m.buildMu.Lock()
		since, builtStale := m.now().UnixNano()-m.lastBuild, m.builtWith
		m.buildMu.Unlock()
		if m.dirty.Load() && since < interval {
			wait.Reset(time.Duration(interval - since))
			select {
			case <-ctx.Done():
				wait.Stop()
				return
			case <-wait.C:
			}
			since = interval
		}
		st, _ := m.stale(m.now().UnixNano())
		if m.dirty.Load() || st != builtStale || since >= refresh {
			m.rebuild()
		}
	}
}
