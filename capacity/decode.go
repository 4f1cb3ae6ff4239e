package capacity

import "github.com/callbid/callbid/events"

// reason is why a valid event was not applied (bad records never reach the
// model: the events consumer rejects and counts them). Each has a counter;
// the label is the metric's "reason".
type reason uint8

const (
	okEvent reason = iota
	ignOldSeq
	ignDuplicateSeq
	ignOldTime
	ignExpiredOnArrival
	ignNoSkill
	ignUntrackedSkill
	ignAgentTableFull
	ignCallTableFull
	ignCallRepeated
	numReasons
)

var reasonLabel = [numReasons]string{
	okEvent:             "ok",
	ignOldSeq:           "old_seq",
	ignDuplicateSeq:     "duplicate_seq",
	ignOldTime:          "old_time",
	ignExpiredOnArrival: "expired_on_arrival",
	ignNoSkill:          "no_skill",
	ignUntrackedSkill:   "untracked_skill",
	ignAgentTableFull:   "agent_table_full",
	ignCallTableFull:    "call_table_full",
	ignCallRepeated:     "repeated_transition",
}

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
	case events.StateAvailable:
		return stateAvailable, true
	case events.StateReserved:
		return stateReserved, true
	case events.StateBusy:
		return stateBusy, true
	case events.StateACW:
		return stateACW, true
	case events.StateNotRoutable:
		return stateNotRoutable, true
	case events.StateOffline:
		return stateOffline, true
	}
	return stateUnknown, false
}

// staffed is AVAILABLE + RESERVED + BUSY + ACW (docs/events.md).
func (s routingState) staffed() bool { return s >= stateAvailable && s <= stateACW }

type agentEventType uint8

const (
	evLogin agentEventType = iota
	evLogout
	evStateChange
	evHeartbeat
)

// agentEvent is a checked cc.agent-state.v1 event with its enums resolved.
type agentEvent struct {
	*events.AgentState
	kind  agentEventType
	state routingState // stateUnknown: keep the previous one (heartbeat)
	next  routingState // next_routing_state; stateUnknown when not sent
}

// agentEventOf resolves the enums of an event the events package has
// checked. LOGIN and STATE_CHANGE carry a routing_state; LOGOUT means
// OFFLINE whatever it says; a HEARTBEAT may omit it (liveness only, the
// state is kept).
func agentEventOf(in *events.AgentState) (agentEvent, error) {
	ev := agentEvent{AgentState: in}
	switch in.EventType {
	case events.AgentLogin:
		ev.kind = evLogin
	case events.AgentLogout:
		ev.kind = evLogout
	case events.AgentStateChange:
		ev.kind = evStateChange
	case events.AgentHeartbeat:
		ev.kind = evHeartbeat
	default:
		return ev, events.Bad(events.ReasonUnknownEventType, "event_type %q", in.EventType)
	}
	st, ok := parseRoutingState(in.RoutingState)
	switch {
	case ev.kind == evLogout:
		st = stateOffline
	case !ok && !(ev.kind == evHeartbeat && in.RoutingState == ""):
		return ev, events.Bad(events.ReasonUnknownState, "routing_state %q on %s", in.RoutingState, in.EventType)
	}
	ev.state = st
	if in.NextRoutingState != "" {
		if ev.next, ok = parseRoutingState(in.NextRoutingState); !ok {
			return ev, events.Bad(events.ReasonUnknownNextState, "next_routing_state %q", in.NextRoutingState)
		}
	}
	return ev, nil
}

type callEventType uint8

const (
	callOffered callEventType = iota
	callQueued
	callAnswered
	callEnded
)

// callEvent is a checked cc.call.v1 event with its type resolved.
type callEvent struct {
	*events.Call
	kind callEventType
}

func callEventOf(in *events.Call) (callEvent, error) {
	ev := callEvent{Call: in}
	switch in.EventType {
	case events.CallOffered:
		ev.kind = callOffered
	case events.CallQueued:
		ev.kind = callQueued
	case events.CallAnswered:
		ev.kind = callAnswered
	case events.CallEnded:
		ev.kind = callEnded
	default:
		return ev, events.Bad(events.ReasonUnknownEventType, "event_type %q", in.EventType)
	}
	return ev, nil
}
