package ccbridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/callbid/callbid/events"
)

// SkillLookup returns a Genesys user's routing skills (proficiency 0–5).
// Genesys notifications about routing status and presence carry none.
//
// TableSkills reads them from the config file; a deployment that manages
// skills in Genesys implements SkillLookup over the routing-skills API
// (GET /api/v2/users/{userId}/routingskills: name and proficiency per
// skill) and passes it with WithSkillLookup. Lookups run under the bridge's
// lock: wrap a network-backed lookup in CachedSkills, and keep it fast.
type SkillLookup interface {
	Skills(userID string) ([]events.AgentSkill, error)
}

// TableSkills is the config-table SkillLookup: user id → skills.
type TableSkills map[string][]events.AgentSkill

// ErrNoSkills is returned by TableSkills for a user it does not list.
var ErrNoSkills = errors.New("user not in genesys.skills")

// Skills implements SkillLookup.
func (t TableSkills) Skills(userID string) ([]events.AgentSkill, error) {
	s, ok := t[userID]
	if !ok {
		return nil, ErrNoSkills
	}
	return s, nil
}

// CachedSkills remembers each user's skills for ttl, so a lookup backed by
// an API is asked once per user per ttl, not once per notification. A
// failed lookup keeps the last known skills.
type CachedSkills struct {
	inner SkillLookup
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	m     map[string]cachedSkills
}

type cachedSkills struct {
	skills []events.AgentSkill
	err    error // a failed lookup is remembered too, so a missing user is not asked for on every event
	at     time.Time
}

// NewCachedSkills wraps inner with a cache of ttl.
func NewCachedSkills(inner SkillLookup, ttl time.Duration, now func() time.Time) *CachedSkills {
	return &CachedSkills{inner: inner, ttl: ttl, now: now, m: map[string]cachedSkills{}}
}

// Skills implements SkillLookup.
func (c *CachedSkills) Skills(userID string) ([]events.AgentSkill, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	e, ok := c.m[userID]
	if ok && now.Sub(e.at) < c.ttl {
		return e.skills, e.err
	}
	s, err := c.inner.Skills(userID)
	if err != nil {
		// Keep the last known skills (if any) and remember the failure.
		c.m[userID] = cachedSkills{skills: e.skills, err: err, at: now}
		return e.skills, err
	}
	c.m[userID] = cachedSkills{skills: s, at: now}
	return s, nil
}

// Forget drops a user from the cache (the bridge forgets silent agents).
func (c *CachedSkills) Forget(userID string) {
	c.mu.Lock()
	delete(c.m, userID)
	c.mu.Unlock()
}

// genesysNotification is a Genesys Cloud notification (WebSocket channel
// or the detail of the EventBridge integration): topicName, eventBody.
type genesysNotification struct {
	TopicName string          `json:"topicName"`
	EventBody json.RawMessage `json:"eventBody"`
}

type genesysRoutingStatus struct {
	Status    string    `json:"status"`
	StartTime time.Time `json:"startTime"`
}

func (b *Bridge) genesysNotification(doc []byte) error {
	var n genesysNotification
	if err := json.Unmarshal(doc, &n); err != nil {
		return b.badInput("genesys", fmt.Errorf("malformed Genesys notification: %w", err))
	}
	parts := strings.Split(n.TopicName, ".")
	switch {
	case len(parts) == 4 && parts[0] == "v2" && parts[1] == "users" && parts[3] == "routingStatus":
		var body struct {
			RoutingStatus *genesysRoutingStatus `json:"routingStatus"`
			genesysRoutingStatus
		}
		if err := json.Unmarshal(n.EventBody, &body); err != nil {
			return b.badInput("genesys", fmt.Errorf("malformed routingStatus eventBody: %w", err))
		}
		rs := body.genesysRoutingStatus
		if body.RoutingStatus != nil {
			rs = *body.RoutingStatus
		}
		if rs.Status == "" {
			return b.badInput("genesys", errors.New("routingStatus notification without a status"))
		}
		return b.genesysAgent(parts[2], "routing", strings.ToUpper(rs.Status), rs.StartTime)
	case len(parts) == 4 && parts[0] == "v2" && parts[1] == "users" && parts[3] == "presence":
		var body struct {
			PresenceDefinition struct {
				SystemPresence string `json:"systemPresence"`
			} `json:"presenceDefinition"`
			ModifiedDate time.Time `json:"modifiedDate"`
		}
		if err := json.Unmarshal(n.EventBody, &body); err != nil {
			return b.badInput("genesys", fmt.Errorf("malformed presence eventBody: %w", err))
		}
		p := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(body.PresenceDefinition.SystemPresence), " ", "_"))
		if p == "" {
			return b.badInput("genesys", errors.New("presence notification without a systemPresence"))
		}
		return b.genesysAgent(parts[2], "presence", p, body.ModifiedDate)
	case len(parts) >= 6 && parts[0] == "v2" && parts[1] == "detail" && parts[2] == "events" && parts[3] == "conversation":
		return b.genesysConversation(strings.Join(parts[5:], "."), n.EventBody)
	}
	b.stats.ignored.Add(1)
	return nil
}

func (b *Bridge) genesysPresenceState(p string) string {
	if s, ok := b.cfg.Genesys.Presences[p]; ok {
		return s
	}
	switch p {
	case "OFFLINE":
		return events.StateOffline
	case "ON_QUEUE":
		return events.StateAvailable
	}
	return events.StateNotRoutable
}

// genesysAgent applies one half (routing status or presence) and merges
// both into one state.
func (b *Bridge) genesysAgent(userID, facet, value string, at time.Time) error {
	b.stats.in.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.agentFor(platGenesys, userID)
	if !a.fresh(facet, at) {
		b.stats.stale.Add(1)
		return nil
	}
	if facet == "routing" {
		a.routing = value
	} else {
		a.presence = value
	}
	// Asked on every event: the lookup caches, so a skill change made in
	// Genesys reaches callbid within the cache TTL.
	s, err := b.skills.Skills(userID)
	if err != nil {
		b.stats.skillLookupErr.Add(1)
		if n, ok := b.warn.allow(b.now()); ok {
			b.log.Warn().Err(err).Str("user", userID).Int("suppressed", n).Msg("no skills for a Genesys user; it counts for no skill")
		}
	}
	if s != nil || err == nil {
		a.skills = sortSkills(append(a.skills[:0], s...))
	}
	ps := events.StateAvailable // presence unknown yet: routing status decides
	if a.presence != "" {
		ps = b.genesysPresenceState(a.presence)
	}
	a.loggedIn = ps != events.StateOffline
	clear(a.work)
	switch a.routing {
	case "IDLE":
		a.avail = availRoutable
	case "INTERACTING", "COMMUNICATING":
		a.work["interaction"] = phaseBusy
		a.avail = availOf(ps) // not on queue any more: the state after the call
	case "NOT_RESPONDING":
		a.avail = availNotRoutable
	case "OFF_QUEUE":
		a.avail = availOf(ps)
		if a.avail == availRoutable {
			a.avail = availNotRoutable
		}
	default:
		a.avail = availOf(ps)
	}
	b.emitAgent(a, "", at)
	return nil
}

// genesysDetail is the body of the v2.detail.events.conversation.{id}.*
// topics (customer.start, acd.start, acd.end, user.start, user.end,
// customer.end, acw); eventTime is epoch milliseconds.
type genesysDetail struct {
	EventTime      flexTime `json:"eventTime"`
	ConversationID string   `json:"conversationId"`
	MediaType      string   `json:"mediaType"`
	Direction      string   `json:"direction"`
	ANI            string   `json:"ani"`
	DNIS           string   `json:"dnis"`
	QueueID        string   `json:"queueId"`
	UserID         string   `json:"userId"`
	AcdOutcome     string   `json:"acdOutcome"`
	DisconnectType string   `json:"disconnectType"`
	WrapupCode     string   `json:"wrapupCode"`
}

func (b *Bridge) genesysConversation(kind string, body []byte) error {
	var d genesysDetail
	if err := json.Unmarshal(body, &d); err != nil {
		return b.badInput("genesys", fmt.Errorf("malformed conversation %s eventBody: %w", kind, err))
	}
	if d.ConversationID == "" {
		return b.badInput("genesys", fmt.Errorf("conversation %s without conversationId", kind))
	}
	if !strings.EqualFold(d.MediaType, "VOICE") || (d.Direction != "" && !strings.EqualFold(d.Direction, "INBOUND")) {
		b.stats.ignored.Add(1)
		return nil
	}
	b.stats.in.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.callFor(d.ConversationID)
	if d.ANI != "" && c.ani == "" {
		c.ani = strings.TrimPrefix(d.ANI, "tel:")
	}
	if d.DNIS != "" && c.dnis == "" {
		c.dnis = strings.TrimPrefix(d.DNIS, "tel:")
	}
	if d.QueueID != "" {
		c.queue = d.QueueID
		if s, ok := b.cfg.Genesys.Queues[d.QueueID]; ok {
			c.skill = s
		}
	}
	if d.UserID != "" {
		c.agentID = b.cfg.AgentIDPrefix + d.UserID
	}
	at := d.EventTime.Time
	switch kind {
	case "customer.start":
		b.emitCall(d.ConversationID, c, events.CallOffered, at, "")
	case "acd.start":
		b.emitCall(d.ConversationID, c, events.CallQueued, at, "")
	case "acd.end":
		if strings.EqualFold(d.AcdOutcome, "ABANDON") {
			b.emitCall(d.ConversationID, c, events.CallEnded, at, events.EndAbandonedInQueue)
		}
	case "user.start":
		b.emitCall(d.ConversationID, c, events.CallAnswered, at, "")
	case "customer.end", "user.end":
		b.emitCall(d.ConversationID, c, events.CallEnded, at, genesysEndReason(kind, d.DisconnectType, c))
	case "acw":
		b.emitOutcome(d.ConversationID, d.WrapupCode, at)
	default:
		b.stats.ignored.Add(1)
	}
	return nil
}

// genesysEndReason reads disconnectType from the side that ended: on
// customer.end "client"/"endpoint" is the caller hanging up and "peer" the
// agent; on user.end it is the other way round.
func genesysEndReason(kind, dt string, c *call) string {
	if !c.answered {
		return events.EndAbandonedInQueue
	}
	switch strings.ToLower(dt) {
	case "transfer", "transfer.conference", "transfer.consult", "transfer.forward":
		return events.EndTransferred
	case "error", "system", "timeout", "spam", "uncallable":
		return events.EndFailed
	case "peer":
		if kind == "customer.end" {
			return events.EndAgentHangup
		}
		return events.EndCustomerHangup
	}
	if kind == "user.end" {
		return events.EndAgentHangup
	}
	return events.EndCustomerHangup
}
