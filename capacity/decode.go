package capacity

import (
	"encoding/json"
	"math"

	"github.com/callbid/callbid/events"
)

// reason is why an event was skipped (bad) or ignored (valid but not applied).
// Each has a counter; the label is the metric's "reason".
type reason uint8

const (
	okEvent reason = iota
	// Bad events: skipped, never applied.
	badMalformedJSON
	badMissingAgentID
	badMissingCallID
	badUnknownEventType
	badUnknownRoutingState
	badProficiency
	badSkillName
	// Valid events not applied.
	ignOldSeq
	ignDuplicateSeq
	ignExpiredOnArrival
	ignNoSkill
	ignTooManySkills
	ignCallRepeated
	numReasons
)

var reasonLabel = [numReasons]string{
	okEvent:                "ok",
	badMalformedJSON:       "malformed_json",
	badMissingAgentID:      "missing_agent_id",
	badMissingCallID:       "missing_call_id",
	badUnknownEventType:    "unknown_event_type",
	badUnknownRoutingState: "unknown_routing_state",
	badProficiency:         "bad_proficiency",
	badSkillName:           "missing_skill_name",
	ignOldSeq:              "old_seq",
	ignDuplicateSeq:        "duplicate_seq",
	ignExpiredOnArrival:    "expired_on_arrival",
	ignNoSkill:             "no_skill",
	ignTooManySkills:       "too_many_skills",
	ignCallRepeated:        "repeated_transition",
}

func (r reason) bad() bool { return r >= badMalformedJSON && r < ignOldSeq }

// routingState is the normalized routing_state of an agent.
type routingState uint8

const (
	stateUnknown routingState = iota // only "keep the previous state" (heartbeat)
	stateAvailable
	stateReserved
	stateBusy
	stateACW
	stateNotRoutable
	stateOffline
)

func parseRoutingState(s string) (routingState, bool) {
	switch s {
	case "AVAILABLE":
		return stateAvailable, true
	case "RESERVED":
		return stateReserved, true
	case "BUSY":
		return stateBusy, true
	case "ACW":
		return stateACW, true
	case "NOT_ROUTABLE":
		return stateNotRoutable, true
	case "OFFLINE":
		return stateOffline, true
	}
	return stateUnknown, false
}

// staffed is AVAILABLE + RESERVED + BUSY + ACW (CONTRACTS §3).
func (s routingState) staffed() bool { return s >= stateAvailable && s <= stateACW }

type agentEventType uint8

const (
	evLogin agentEventType = iota
	evLogout
	evStateChange
	evHeartbeat
)

// agentEvent is a validated cc.agent-state.v1 event.
type agentEvent struct {
	events.AgentState
	kind  agentEventType
	state routingState // stateUnknown: keep the previous one (heartbeat)
}

// decodeAgentState parses and validates one agent-state value.
// LOGIN and STATE_CHANGE need a routing_state; LOGOUT means OFFLINE whatever
// it says; a HEARTBEAT may omit it (liveness only).
func decodeAgentState(value []byte) (agentEvent, reason) {
	var ev agentEvent
	if err := json.Unmarshal(value, &ev.AgentState); err != nil {
		return ev, badMalformedJSON
	}
	if ev.AgentID == "" {
		return ev, badMissingAgentID
	}
	switch ev.EventType {
	case "LOGIN":
		ev.kind = evLogin
	case "LOGOUT":
		ev.kind = evLogout
	case "STATE_CHANGE":
		ev.kind = evStateChange
	case "HEARTBEAT":
		ev.kind = evHeartbeat
	default:
		return ev, badUnknownEventType
	}
	switch {
	case ev.kind == evHeartbeat && ev.RoutingState == "":
		ev.state = stateUnknown
	default:
		st, ok := parseRoutingState(ev.RoutingState)
		if !ok && ev.kind != evLogout {
			return ev, badUnknownRoutingState
		}
		ev.state = st
	}
	if ev.kind == evLogout {
		ev.state = stateOffline
	}
	for _, s := range ev.Skills {
		if s.Name == "" {
			return ev, badSkillName
		}
		if !(s.Proficiency >= 0 && s.Proficiency <= 5) || math.IsNaN(s.Proficiency) {
			return ev, badProficiency
		}
	}
	return ev, okEvent
}

type callEventType uint8

const (
	callOffered callEventType = iota
	callQueued
	callAnswered
	callEnded
)

// callEvent is a validated cc.call.v1 event.
type callEvent struct {
	events.Call
	kind callEventType
}

// decodeCall parses and validates one call value.
func decodeCall(value []byte) (callEvent, reason) {
	var ev callEvent
	if err := json.Unmarshal(value, &ev.Call); err != nil {
		return ev, badMalformedJSON
	}
	if ev.CallID == "" {
		return ev, badMissingCallID
	}
	switch ev.EventType {
	case "OFFERED":
		ev.kind = callOffered
	case "QUEUED":
		ev.kind = callQueued
	case "ANSWERED":
		ev.kind = callAnswered
	case "ENDED":
		ev.kind = callEnded
	default:
		return ev, badUnknownEventType
	}
	return ev, okEvent
}
