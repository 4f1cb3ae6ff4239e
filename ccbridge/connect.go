package ccbridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/callbid/callbid/events"
)

// Amazon Connect agent event stream record (Kinesis), as the "Agent event
// streams data model" page documents it; only the fields the bridge reads.
type connectAgentEvent struct {
	AgentARN             string           `json:"AgentARN"`
	EventID              string           `json:"EventId"`
	EventTimestamp       time.Time        `json:"EventTimestamp"`
	EventType            string           `json:"EventType"` // LOGIN|LOGOUT|STATE_CHANGE|HEART_BEAT
	CurrentAgentSnapshot *connectSnapshot `json:"CurrentAgentSnapshot"`
}

type connectSnapshot struct {
	AgentStatus struct {
		Name           string    `json:"Name"`
		Type           string    `json:"Type"` // ROUTABLE|CUSTOM|OFFLINE
		StartTimestamp time.Time `json:"StartTimestamp"`
	} `json:"AgentStatus"`
	NextAgentStatus *struct {
		Name              string    `json:"Name"`
		EnqueuedTimestamp time.Time `json:"EnqueuedTimestamp"`
	} `json:"NextAgentStatus"`
	Configuration struct {
		RoutingProfile struct {
			Name          string         `json:"Name"`
			InboundQueues []connectQueue `json:"InboundQueues"`
			Concurrency   []struct {
				Channel      string `json:"Channel"`
				MaximumSlots int    `json:"MaximumSlots"`
			} `json:"Concurrency"`
		} `json:"RoutingProfile"`
		Proficiencies []struct {
			Name  string  `json:"Name"`
			Value string  `json:"Value"`
			Level float64 `json:"Level"`
			// Some renderings of the data model call the level
			// ProficiencyLevel; both are read.
			ProficiencyLevel float64 `json:"ProficiencyLevel"`
		} `json:"Proficiencies"`
	} `json:"Configuration"`
	Contacts []struct {
		ContactID string       `json:"ContactId"`
		Channel   string       `json:"Channel"`
		State     string       `json:"State"`
		Queue     connectQueue `json:"Queue"`
	} `json:"Contacts"`
}

type connectQueue struct {
	ARN      string   `json:"ARN"`
	Name     string   `json:"Name"`
	Channels []string `json:"Channels"`
}

// lastSegment is the id at the end of an ARN ("…/agent/<id>").
func lastSegment(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func (b *Bridge) connectQueueSkill(arn, name string) (QueueSkill, bool) {
	for _, q := range b.cfg.Connect.Queues {
		if (q.ARN != "" && q.ARN == arn) || (q.ARN == "" && q.Name != "" && q.Name == name) {
			return q, true
		}
	}
	return QueueSkill{}, false
}

// connectStatus maps an agent status to a routing availability.
func (b *Bridge) connectStatus(name, typ string) availability {
	if s, ok := b.cfg.Connect.Statuses[name]; ok {
		return availOf(s)
	}
	switch {
	case name == "Available" || typ == "ROUTABLE":
		return availRoutable
	case name == "Offline" || typ == "OFFLINE":
		return availOffline
	}
	return availNotRoutable
}

func (b *Bridge) connectAgentEvent(doc []byte) error {
	var ev connectAgentEvent
	if err := json.Unmarshal(doc, &ev); err != nil {
		return b.badInput("connect", fmt.Errorf("malformed Connect agent event: %w", err))
	}
	id := lastSegment(ev.AgentARN)
	if id == "" {
		return b.badInput("connect", errors.New("an Amazon Connect agent event without AgentARN"))
	}
	kind := ""
	switch ev.EventType {
	case "LOGIN", "STATE_CHANGE":
	case "LOGOUT":
		kind = events.AgentLogout
	case "HEART_BEAT":
		kind = events.AgentHeartbeat
	default:
		return b.badInput("connect", fmt.Errorf("unknown Connect EventType %q", ev.EventType))
	}
	if ev.CurrentAgentSnapshot == nil && ev.EventType != "LOGOUT" {
		return b.badInput("connect", fmt.Errorf("an Amazon Connect %s event without CurrentAgentSnapshot", ev.EventType))
	}
	b.stats.in.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.agentFor(platConnect, id)
	// Every Connect record carries the whole snapshot: one facet.
	if !a.fresh("snapshot", ev.EventTimestamp) {
		b.stats.stale.Add(1)
		return nil
	}
	if ev.EventType == "LOGOUT" {
		a.loggedIn, a.avail, a.next = false, availOffline, ""
		clear(a.work)
		b.emitAgent(a, kind, ev.EventTimestamp)
		return nil
	}
	s := ev.CurrentAgentSnapshot
	a.avail = b.connectStatus(s.AgentStatus.Name, s.AgentStatus.Type)
	a.loggedIn = a.avail != availOffline
	a.next = ""
	if n := s.NextAgentStatus; n != nil && n.Name != "" {
		// NextAgentStatus has a name only; the table (or the built-in
		// names) says what it means for routing.
		a.next = b.connectStatus(n.Name, "").state()
	}
	clear(a.work)
	for _, c := range s.Contacts {
		if !strings.EqualFold(c.Channel, "VOICE") {
			continue // callbid buys calls; chats and tasks do not take a voice slot away here
		}
		var p phase
		switch c.State {
		case "INCOMING", "PENDING", "CONNECTING":
			p = phaseReserved
		case "CONNECTED", "CONNECTED_ONHOLD", "PAUSED":
			p = phaseBusy
		case "ENDED":
			p = phaseACW // Connect keeps the contact ENDED while the agent is in After Contact Work
		case "MISSED", "REJECTED", "ERROR":
			p = phaseBlocked // the CCP shows Missed/Rejected until the agent clears it
		default:
			continue
		}
		a.work[c.ContactID] = p
	}
	a.skills = a.skills[:0]
	for _, q := range s.Configuration.RoutingProfile.InboundQueues {
		if qs, ok := b.connectQueueSkill(q.ARN, q.Name); ok {
			a.skills = append(a.skills, events.AgentSkill{Name: qs.Skill, Proficiency: qs.Proficiency})
		}
	}
	for _, p := range s.Configuration.Proficiencies {
		for _, m := range b.cfg.Connect.Proficiencies {
			if m.Attribute == p.Name && m.Value == p.Value {
				a.skills = append(a.skills, events.AgentSkill{Name: m.Skill, Proficiency: min(max(p.Level, p.ProficiencyLevel, 0), 5)})
			}
		}
	}
	a.skills = sortSkills(a.skills)
	a.channels = a.channels[:0]
	for _, c := range s.Configuration.RoutingProfile.Concurrency {
		if c.MaximumSlots > 0 {
			a.channels = append(a.channels, strings.ToLower(c.Channel))
		}
	}
	if len(a.channels) == 0 {
		a.channels = nil
	}
	if ev.EventType == "LOGIN" && a.loggedIn {
		kind = events.AgentLogin
	}
	b.emitAgent(a, kind, ev.EventTimestamp)
	return nil
}

// Amazon Connect contact event (EventBridge detail of "Amazon Connect
// Contact Event"), as the "Amazon Connect contact events" page documents it.
type connectContactEvent struct {
	EventType           string    `json:"eventType"`
	ContactID           string    `json:"contactId"`
	Channel             string    `json:"channel"`
	InitiationMethod    string    `json:"initiationMethod"`
	InitiationTimestamp time.Time `json:"initiationTimestamp"`
	DisconnectTimestamp time.Time `json:"disconnectTimestamp"`
	DisconnectReason    string    `json:"disconnectReason"`
	QueueInfo           *struct {
		QueueARN         string    `json:"queueArn"`
		EnqueueTimestamp time.Time `json:"enqueueTimestamp"`
	} `json:"queueInfo"`
	AgentInfo *struct {
		AgentARN                  string    `json:"agentArn"`
		ConnectedToAgentTimestamp time.Time `json:"connectedToAgentTimestamp"`
	} `json:"agentInfo"`
	CustomerEndpoint *struct {
		Address string `json:"address"`
	} `json:"customerEndpoint"`
	SystemEndpoint *struct {
		Address string `json:"address"`
	} `json:"systemEndpoint"`
}

func (b *Bridge) connectContactEvent(detail []byte, envTime time.Time) error {
	var ev connectContactEvent
	if err := json.Unmarshal(detail, &ev); err != nil {
		return b.badInput("connect", fmt.Errorf("malformed Connect contact event: %w", err))
	}
	if ev.ContactID == "" {
		return b.badInput("connect", errors.New("an Amazon Connect contact event without contactId"))
	}
	if !strings.EqualFold(ev.Channel, "VOICE") || (ev.InitiationMethod != "" && ev.InitiationMethod != "INBOUND" && ev.InitiationMethod != "TRANSFER" && ev.InitiationMethod != "QUEUE_TRANSFER" && ev.InitiationMethod != "CALLBACK") {
		b.stats.ignored.Add(1)
		return nil
	}
	b.stats.in.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.callFor(ev.ContactID)
	if ev.CustomerEndpoint != nil && ev.CustomerEndpoint.Address != "" {
		c.ani = ev.CustomerEndpoint.Address
	}
	if ev.SystemEndpoint != nil && ev.SystemEndpoint.Address != "" {
		c.dnis = ev.SystemEndpoint.Address
	}
	if q := ev.QueueInfo; q != nil && q.QueueARN != "" {
		if qs, ok := b.connectQueueSkill(q.QueueARN, ""); ok {
			c.skill, c.queue = qs.Skill, qs.Name
		}
		if c.queue == "" {
			c.queue = lastSegment(q.QueueARN)
		}
		if !q.EnqueueTimestamp.IsZero() {
			c.queuedAt = q.EnqueueTimestamp
		}
	}
	if ai := ev.AgentInfo; ai != nil && ai.AgentARN != "" {
		c.agentID = b.cfg.AgentIDPrefix + lastSegment(ai.AgentARN)
	}
	switch ev.EventType {
	case "INITIATED":
		b.emitCall(ev.ContactID, c, events.CallOffered, first(ev.InitiationTimestamp, envTime), "")
	case "QUEUED":
		at := envTime
		if ev.QueueInfo != nil {
			at = first(ev.QueueInfo.EnqueueTimestamp, envTime)
		}
		b.emitCall(ev.ContactID, c, events.CallQueued, at, "")
	case "CONNECTED_TO_AGENT":
		at := envTime
		if ev.AgentInfo != nil {
			at = first(ev.AgentInfo.ConnectedToAgentTimestamp, envTime)
		}
		b.emitCall(ev.ContactID, c, events.CallAnswered, at, "")
	case "DISCONNECTED":
		if ev.AgentInfo != nil && !ev.AgentInfo.ConnectedToAgentTimestamp.IsZero() && !c.answered {
			b.emitCall(ev.ContactID, c, events.CallAnswered, ev.AgentInfo.ConnectedToAgentTimestamp, "")
		}
		b.emitCall(ev.ContactID, c, events.CallEnded, first(ev.DisconnectTimestamp, envTime), connectEndReason(ev.DisconnectReason, c))
	default:
		b.stats.ignored.Add(1)
	}
	return nil
}

func connectEndReason(r string, c *call) string {
	switch {
	case !c.answered && c.queued:
		return events.EndAbandonedInQueue
	case r == "AGENT_DISCONNECT":
		return events.EndAgentHangup
	case r == "TELECOM_PROBLEM" || r == "OTHER" || r == "EXPIRED":
		return events.EndFailed
	case strings.Contains(r, "TRANSFER"):
		return events.EndTransferred
	}
	return events.EndCustomerHangup
}

// first is t, or fallback when t is zero.
func first(t, fallback time.Time) time.Time {
	if t.IsZero() {
		return fallback
	}
	return t
}
