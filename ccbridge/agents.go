package ccbridge

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/callbid/callbid/events"
)

// availability is what the platform's own status says about routing,
// before the work in hand is considered.
type availability uint8

const (
	availUnknown availability = iota
	availRoutable
	availNotRoutable
	availOffline
)

func availOf(state string) availability {
	switch state {
	case events.StateAvailable:
		return availRoutable
	case events.StateOffline:
		return availOffline
	}
	return availNotRoutable
}

func (a availability) state() string {
	switch a {
	case availRoutable:
		return events.StateAvailable
	case availOffline:
		return events.StateOffline
	}
	return events.StateNotRoutable
}

// phase is what one contact or reservation in an agent's hands means for
// routing; the highest phase of the agent's work wins.
type phase uint8

const (
	phaseNone    phase = iota
	phaseBlocked       // a missed or rejected contact the agent must clear: NOT_ROUTABLE
	phaseReserved
	phaseACW
	phaseBusy
)

func (p phase) state() string {
	switch p {
	case phaseReserved:
		return events.StateReserved
	case phaseACW:
		return events.StateACW
	case phaseBusy:
		return events.StateBusy
	}
	return events.StateNotRoutable
}

type platform uint8

const (
	platConnect platform = iota
	platTwilio
	platGenesys
)

// agent is what the bridge knows of one agent. Guarded by Bridge.mu.
type agent struct {
	id       string
	plat     platform
	loggedIn bool
	avail    availability
	// next is the platform's explicit after-contact status (Connect
	// NextAgentStatus); "" derives it from avail.
	next     string
	work     map[string]phase
	skills   []events.AgentSkill
	channels []string

	// Genesys keeps the two halves apart and merges them.
	presence, routing string

	facets      map[string]time.Time // latest platform time applied per facet
	lastEmitted time.Time            // occurred_at of the last record
	lastWall    time.Time            // bridge clock at the last record
	lastState   string
	heardWall   time.Time
}

// derive merges what is known into routing_state and next_routing_state.
func (a *agent) derive() (state, next string) {
	if !a.loggedIn && len(a.work) == 0 {
		return events.StateOffline, ""
	}
	top := phaseNone
	for _, p := range a.work {
		top = max(top, p)
	}
	if top >= phaseReserved {
		switch {
		case a.next != "":
			next = a.next
		case a.avail == availNotRoutable || a.avail == availOffline:
			next = a.avail.state()
		case !a.loggedIn:
			next = events.StateOffline
		}
		if next == events.StateAvailable {
			next = "" // the default after a contact: nothing to announce
		}
		return top.state(), next
	}
	if top == phaseBlocked {
		return events.StateNotRoutable, ""
	}
	if a.avail == availUnknown {
		return events.StateNotRoutable, ""
	}
	return a.avail.state(), ""
}

// fresh reports whether platform time t is not older than the last event
// applied for facet, and records it. An older one is stale: applying it
// would put old state over new.
func (a *agent) fresh(facet string, t time.Time) bool {
	if t.IsZero() {
		return true
	}
	if last, ok := a.facets[facet]; ok && t.Before(last) {
		return false
	}
	if a.facets == nil {
		a.facets = make(map[string]time.Time, 2)
	}
	a.facets[facet] = t
	return true
}

func (b *Bridge) agentFor(p platform, nativeID string) *agent {
	id := b.cfg.AgentIDPrefix + nativeID
	a := b.agents[id]
	if a == nil {
		a = &agent{id: id, plat: p, work: map[string]phase{}}
		b.agents[id] = a
	}
	a.heardWall = b.now()
	return a
}

func (b *Bridge) ttl(p platform) time.Duration {
	switch p {
	case platTwilio:
		return b.cfg.Twilio.TTL
	case platGenesys:
		return b.cfg.Genesys.TTL
	}
	return b.cfg.Connect.TTL
}

// emitAgent writes a's current state. kind is the event type the platform
// event implies ("" → LOGIN/LOGOUT/STATE_CHANGE from the transition);
// at is the platform's time of the event.
func (b *Bridge) emitAgent(a *agent, kind string, at time.Time) {
	state, next := a.derive()
	if kind == "" {
		switch {
		case state == events.StateOffline && a.lastState != events.StateOffline:
			kind = events.AgentLogout
		case a.lastState == "" || a.lastState == events.StateOffline:
			if state == events.StateOffline {
				kind = events.AgentStateChange
			} else {
				kind = events.AgentLogin
			}
		default:
			kind = events.AgentStateChange
		}
	}
	if at.IsZero() {
		at = b.now()
	}
	// occurred_at never goes backwards per agent: a record stamped before
	// the last one would be ignored by a consumer ordering by occurred_at.
	if !at.After(a.lastEmitted) && !a.lastEmitted.IsZero() {
		at = a.lastEmitted.Add(time.Millisecond)
		b.stats.restamped.Add(1)
	}
	a.lastEmitted, a.lastWall, a.lastState = at, b.now(), state
	// The events package's record, so the bridge writes exactly what
	// callbid decodes (docs/events.md). No skills is written as no
	// "skills" key, which callbid reads as an empty list on LOGIN and as
	// "unchanged" otherwise, as it reads "skills":[]. seq stays out unless
	// synthesized: the platforms have none.
	rec := events.AgentState{
		AgentID: a.id, EventType: kind, OccurredAt: at.UTC(), RoutingState: state,
		NextRoutingState: next, Skills: a.skills, Channels: a.channels,
		TTLSeconds: int(b.ttl(a.plat) / time.Second),
	}
	if rec.Channels == nil {
		rec.Channels = b.cfg.Channels
	}
	if b.cfg.SynthesizeSeq {
		rec.Seq = at.UnixMicro()
	}
	v, _ := json.Marshal(rec) // plain structs: cannot fail
	b.publish(b.topics.agent, a.id, v)
	b.stats.agentRecords.Add(1)
}

// Heartbeat re-sends every logged-in agent of a platform without native
// heartbeats that has had no record for heartbeat_interval, and forgets
// agents and calls silent past forget_after. cmd/ccbridge calls it on a
// ticker; tests call it with an injected clock.
func (b *Bridge) Heartbeat() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for id, a := range b.agents {
		if now.Sub(a.heardWall) > b.cfg.ForgetAfter && now.Sub(a.lastWall) > b.cfg.ForgetAfter {
			delete(b.agents, id)
			continue
		}
		if a.plat == platConnect || a.lastState == "" || a.lastState == events.StateOffline {
			continue
		}
		if now.Sub(a.lastWall) < b.cfg.HeartbeatInterval {
			continue
		}
		b.emitAgent(a, events.AgentHeartbeat, now)
		b.stats.heartbeats.Add(1)
	}
	for id, c := range b.calls {
		if now.Sub(c.heard) > b.cfg.ForgetAfter {
			delete(b.calls, id)
		}
	}
}

// sortSkills gives records a stable skill order (maps feed them).
func sortSkills(s []events.AgentSkill) []events.AgentSkill {
	slices.SortFunc(s, func(x, y events.AgentSkill) int {
		switch {
		case x.Name < y.Name:
			return -1
		case x.Name > y.Name:
			return 1
		case x.Proficiency > y.Proficiency: // the best of a repeated skill first
			return -1
		case x.Proficiency < y.Proficiency:
			return 1
		}
		return 0
	})
	return slices.CompactFunc(s, func(x, y events.AgentSkill) bool { return x.Name == y.Name })
}
