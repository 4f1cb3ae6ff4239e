package events

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Reasons a BadEvent carries; consumers count per reason.
const (
	ReasonMalformedJSON         = "malformed_json"
	ReasonMissingAgentID        = "missing_agent_id"
	ReasonNegativeSeq           = "negative_seq"
	ReasonUnknownEventType      = "unknown_event_type"
	ReasonUnknownState          = "unknown_state"
	ReasonMissingSkillName      = "missing_skill_name"
	ReasonNegativeProficiency   = "negative_proficiency"
	ReasonProficiencyOutOfRange = "proficiency_out_of_range"
	ReasonNegativeTTL           = "negative_ttl"
	ReasonMissingCallID         = "missing_call_id"
	ReasonNegativeDuration      = "negative_duration"
	ReasonUnknownDisposition    = "unknown_disposition"
	ReasonNegativeRevenue       = "negative_revenue"
	ReasonMissingBidID          = "missing_bid_id"
	ReasonUnknownKind           = "unknown_kind"
)

// BadEvent is a record that cannot be used, with a short reason label for
// counting (one of the Reason constants).
type BadEvent struct {
	Reason string
	Err    error
}

func (e *BadEvent) Error() string {
	if e.Err != nil {
		return "bad event (" + e.Reason + "): " + e.Err.Error()
	}
	return "bad event (" + e.Reason + ")"
}

func (e *BadEvent) Unwrap() error { return e.Err }

// Reason returns the BadEvent reason in err's chain, or "" when there is
// none.
func Reason(err error) string {
	var be *BadEvent
	if errors.As(err, &be) {
		return be.Reason
	}
	return ""
}

func bad(reason, format string, args ...any) error {
	return &BadEvent{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// Agent event types and routing states (CONTRACTS §3).
const (
	AgentLogin       = "LOGIN"
	AgentLogout      = "LOGOUT"
	AgentStateChange = "STATE_CHANGE"
	AgentHeartbeat   = "HEARTBEAT"

	StateAvailable   = "AVAILABLE"
	StateReserved    = "RESERVED"
	StateBusy        = "BUSY"
	StateACW         = "ACW"
	StateNotRoutable = "NOT_ROUTABLE"
	StateOffline     = "OFFLINE"
)

// Call event types and end reasons (CONTRACTS §3).
const (
	CallOffered  = "OFFERED"
	CallQueued   = "QUEUED"
	CallAnswered = "ANSWERED"
	CallEnded    = "ENDED"

	EndCustomerHangup   = "CUSTOMER_HANGUP"
	EndAgentHangup      = "AGENT_HANGUP"
	EndAbandonedInQueue = "ABANDONED_IN_QUEUE"
	EndTransferred      = "TRANSFERRED"
	EndFailed           = "FAILED"
)

// Dispositions (CONTRACTS §3).
const (
	DispositionSale                               = "SALE"
	DispositionNoSale                             = "NO_SALE"
	DispositionCallback                           = "CALLBACK_REQUESTED"
	DispositionFollowUp                           = "FOLLOW_UP_EXPECTED"
	DispositionNotQualified                       = "NOT_QUALIFIED"
	DispositionWrongNumber                        = "WRONG_NUMBER"
	DispositionSpam                               = "SPAM"
	ImpressionWin, ImpressionBill, ImpressionLoss = "win", "bill", "loss"
)

// DecodeAgentState parses and checks one cc.agent-state.v1 value. Unknown
// fields are ignored. routing_state may be empty only on HEARTBEAT (the agent
// is alive, state unchanged) and LOGOUT (OFFLINE is implied).
func DecodeAgentState(b []byte, ev *AgentState) error {
	*ev = AgentState{}
	if err := json.Unmarshal(b, ev); err != nil {
		return &BadEvent{Reason: ReasonMalformedJSON, Err: err}
	}
	return ev.Check()
}

// Check reports why ev is not a usable agent state, as a *BadEvent.
func (ev *AgentState) Check() error {
	if ev.AgentID == "" {
		return bad(ReasonMissingAgentID, "agent_id is empty")
	}
	if ev.Seq < 0 {
		return bad(ReasonNegativeSeq, "seq %d is negative", ev.Seq)
	}
	switch ev.EventType {
	case AgentLogin, AgentLogout, AgentStateChange, AgentHeartbeat:
	default:
		return bad(ReasonUnknownEventType, "event_type %q is not LOGIN, LOGOUT, STATE_CHANGE or HEARTBEAT", ev.EventType)
	}
	switch ev.RoutingState {
	case StateAvailable, StateReserved, StateBusy, StateACW, StateNotRoutable, StateOffline:
	case "":
		if ev.EventType != AgentHeartbeat && ev.EventType != AgentLogout {
			return bad(ReasonUnknownState, "routing_state is empty on %s", ev.EventType)
		}
	default:
		return bad(ReasonUnknownState, "routing_state %q is not AVAILABLE, RESERVED, BUSY, ACW, NOT_ROUTABLE or OFFLINE", ev.RoutingState)
	}
	for i, s := range ev.Skills {
		if s.Name == "" {
			return bad(ReasonMissingSkillName, "skills[%d].name is empty", i)
		}
		if s.Proficiency < 0 {
			return bad(ReasonNegativeProficiency, "skills[%d].proficiency %g is negative", i, s.Proficiency)
		}
		if !(s.Proficiency <= 5) { // also NaN
			return bad(ReasonProficiencyOutOfRange, "skills[%d].proficiency %g is above 5", i, s.Proficiency)
		}
	}
	if ev.TTLSeconds < 0 {
		return bad(ReasonNegativeTTL, "ttl_seconds %d is negative", ev.TTLSeconds)
	}
	return nil
}

// DecodeCall parses and checks one cc.call.v1 value. Unknown fields are
// ignored; end_reason is free text beyond the documented values (new reasons
// must not make calls disappear).
func DecodeCall(b []byte, ev *Call) error {
	*ev = Call{}
	if err := json.Unmarshal(b, ev); err != nil {
		return &BadEvent{Reason: ReasonMalformedJSON, Err: err}
	}
	return ev.Check()
}

// Check reports why ev is not a usable call event, as a *BadEvent.
func (ev *Call) Check() error {
	if ev.CallID == "" {
		return bad(ReasonMissingCallID, "call_id is empty")
	}
	switch ev.EventType {
	case CallOffered, CallQueued, CallAnswered, CallEnded:
	default:
		return bad(ReasonUnknownEventType, "event_type %q is not OFFERED, QUEUED, ANSWERED or ENDED", ev.EventType)
	}
	if ev.QueueWaitMS < 0 || ev.TalkMS < 0 {
		return bad(ReasonNegativeDuration, "queue_wait_ms %d / talk_ms %d is negative", ev.QueueWaitMS, ev.TalkMS)
	}
	return nil
}

// DecodeOutcome parses and checks one cc.outcome.v1 value.
func DecodeOutcome(b []byte, ev *Outcome) error {
	*ev = Outcome{}
	if err := json.Unmarshal(b, ev); err != nil {
		return &BadEvent{Reason: ReasonMalformedJSON, Err: err}
	}
	return ev.Check()
}

// Check reports why ev is not a usable outcome, as a *BadEvent.
func (ev *Outcome) Check() error {
	if ev.CallID == "" {
		return bad(ReasonMissingCallID, "call_id is empty")
	}
	switch ev.Disposition {
	case DispositionSale, DispositionNoSale, DispositionCallback, DispositionFollowUp,
		DispositionNotQualified, DispositionWrongNumber, DispositionSpam:
	default:
		return bad(ReasonUnknownDisposition, "disposition %q is not one of CONTRACTS §3", ev.Disposition)
	}
	if ev.Revenue.AmountMicros < 0 {
		return bad(ReasonNegativeRevenue, "revenue.amount_micros %d is negative", ev.Revenue.AmountMicros)
	}
	return nil
}

// DecodeImpression parses and checks one callbid.impressions.v1 value.
func DecodeImpression(b []byte, ev *Impression) error {
	*ev = Impression{}
	if err := json.Unmarshal(b, ev); err != nil {
		return &BadEvent{Reason: ReasonMalformedJSON, Err: err}
	}
	if ev.BidID == "" {
		return bad(ReasonMissingBidID, "bid_id is empty")
	}
	switch ev.Kind {
	case ImpressionWin, ImpressionBill, ImpressionLoss:
	default:
		return bad(ReasonUnknownKind, "kind %q is not win, bill or loss", ev.Kind)
	}
	return nil
}

// DecodeAttribution parses and checks one callbid.attribution.v1 value.
func DecodeAttribution(b []byte, ev *Attribution) error {
	*ev = Attribution{}
	if err := json.Unmarshal(b, ev); err != nil {
		return &BadEvent{Reason: ReasonMalformedJSON, Err: err}
	}
	if ev.CallID == "" {
		return bad(ReasonMissingCallID, "call_id is empty")
	}
	return nil
}
