package capacity

import "github.com/callbid/callbid/events"

// reason is why an event was skipped (bad) or ignored (valid but not applied).
// Each has a counter; the label is the metric's "reason". Bad-event labels
// are the events package's (events.Reason*), so every consumer counts alike.
type reason uint8

const (
	okEvent reason = iota
	// Bad events: skipped, never applied.
	badMalformedJSON
	badMissingAgentID
	badNegativeSeq
	badMissingCallID
	badUnknownEventType
	badUnknownRoutingState
	badNegativeProficiency
	badProficiencyRange
	badSkillName
	badNegativeTTL
	badNegativeDuration
	badOther
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
	badMalformedJSON:       events.ReasonMalformedJSON,
	badMissingAgentID:      events.ReasonMissingAgentID,
	badNegativeSeq:         events.ReasonNegativeSeq,
	badMissingCallID:       events.ReasonMissingCallID,
	badUnknownEventType:    events.ReasonUnknownEventType,
	badUnknownRoutingState: events.ReasonUnknownState,
	badNegativeProficiency: events.ReasonNegativeProficiency,
	badProficiencyRange:    events.ReasonProficiencyOutOfRange,
	badSkillName:           events.ReasonMissingSkillName,
	badNegativeTTL:         events.ReasonNegativeTTL,
	badNegativeDuration:    events.ReasonNegativeDuration,
	badOther:               "other",
	ignOldSeq:              "old_seq",
	ignDuplicateSeq:        "duplicate_seq",
	ignExpiredOnArrival:    "expired_on_arrival",
	ignNoSkill:             "no_skill",
	ignTooManySkills:       "too_many_skills",
	ignCallRepeated:        "repeated_transition",
}

// badReason maps an events decode error to its counter.
func badReason(err error) reason {
	label := events.Reason(err)
	for r := badMalformedJSON; r < badOther; r++ {
		if reasonLabel[r] == label {
			return r
		}
	}
	return badOther
}

func (r reason) bad() bool { return r >= badMalformedJSON && r <= badOther }

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

// decodeAgentState parses and validates one agent-state value with the
// events package's decoder. LOGIN and STATE_CHANGE carry a routing_state;
// LOGOUT means OFFLINE whatever it says; a HEARTBEAT may omit it (liveness
// only, the state is kept).
func decodeAgentState(value []byte) (agentEvent, reason) {
	var ev agentEvent
	if err := events.DecodeAgentState(value, &ev.AgentState); err != nil {
		return ev, badReason(err)
	}
	switch ev.EventType {
	case events.AgentLogin:
		ev.kind = evLogin
	case events.AgentLogout:
		ev.kind = evLogout
	case events.AgentStateChange:
		ev.kind = evStateChange
	case events.AgentHeartbeat:
		ev.kind = evHeartbeat
	default:
		return ev, badUnknownEventType // events.Check rejects these already
	}
	st, ok := parseRoutingState(ev.RoutingState)
	switch {
	case ev.kind == evLogout:
		st = stateOffline
	case !ok && !(ev.kind == evHeartbeat && ev.RoutingState == ""):
		return ev, badUnknownRoutingState
	}
	ev.state = st
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

// decodeCall parses and validates one call value with the events
// package's decoder.
func decodeCall(value []byte) (callEvent, reason) {
	var ev callEvent
	if err := events.DecodeCall(value, &ev.Call); err != nil {
		return ev, badReason(err)
	}
	switch ev.EventType {
	case events.CallOffered:
		ev.kind = callOffered
	case events.CallQueued:
		ev.kind = callQueued
	case events.CallAnswered:
		ev.kind = callAnswered
	case events.CallEnded:
		ev.kind = callEnded
	default:
		return ev, badUnknownEventType
	}
	return ev, okEvent
}
