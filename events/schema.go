package events

import (
	"fmt"
	"math"
	"time"
)

// The record types below are the schema of every topic callbid reads: the
// contact center's three (docs/events.md) and callbid's own. This file and
// decode.go import nothing from Kafka: they are plain values, their enums
// and their Check rules, shared by the consumer, the simulator and tests.

// Agent event types, routing states and next routing states (docs/events.md).
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

// Call event types and end reasons (docs/events.md).
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

// Dispositions (docs/events.md) and impression kinds.
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

// Bounds of what one record may carry. They keep a hostile or broken record
// from growing callbid's tables (ids are map keys) and from poisoning sums.
const (
	MaxRecordBytes   = 64 << 10 // a larger value is refused before parsing
	MaxIDBytes       = 256      // agent_id, call_id, queue, …
	MaxNameBytes     = 128      // skill names, end reasons, channels
	MaxNumberBytes   = 64       // dnis, ani (E.164 is 16; room for SIP forms)
	MaxSkillsPerEv   = 64       // skills of one agent event
	MaxChannelsPerEv = 16
	MaxProficiency   = 5.0
	// MaxTTLSeconds is a week: a longer ttl_seconds is a broken record.
	// (capacity further caps the TTL it applies at a day.)
	MaxTTLSeconds = 7 * 24 * 3600
	// MaxDurationMS bounds queue_wait_ms and talk_ms: a day.
	MaxDurationMS = 24 * 3600 * 1000
	// MaxMoneyMicros bounds money fields ($1e9) so sums cannot overflow.
	MaxMoneyMicros = 1e15
)

// DefaultMaxFutureSkew is how far in the future an event time may lie
// before the record is rejected (kafka.max_future_skew).
const DefaultMaxFutureSkew = 5 * time.Minute

// minEventTime is the earliest event time accepted: earlier times are
// broken records, and before 1678 UnixNano overflows.
var minEventTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Limits are what a record's times are checked against. The zero value
// checks no time against a clock.
type Limits struct {
	// Now is the wall clock at decode; zero skips the future check.
	Now time.Time
	// Written is the record's Kafka timestamp (zero when unknown). It is the
	// time a missing occurred_at is taken from, and, when earlier than Now,
	// the time "the future" is measured from: a record that was in the
	// future when written is rejected again when it is replayed later.
	Written time.Time
	// MaxFutureSkew is how far after the reference an event time may lie.
	MaxFutureSkew time.Duration
}

// written is l.Written when it is a usable time.
func (l Limits) written() time.Time {
	if l.Written.Before(minEventTime) {
		return time.Time{}
	}
	return l.Written
}

// checkTime checks one event time: not before 2000, and not more than
// MaxFutureSkew after min(Now, Written).
func (l Limits) checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if t.Before(minEventTime) {
		return bad(ReasonTimeOutOfRange, "%s %s is before 2000", field, t.Format(time.RFC3339))
	}
	if l.Now.IsZero() {
		return nil
	}
	ref := l.Now
	if w := l.written(); !w.IsZero() && w.Before(ref) {
		ref = w
	}
	if t.Sub(ref) > l.MaxFutureSkew {
		return bad(ReasonFutureTime, "%s %s is more than %s after %s", field, t.Format(time.RFC3339), l.MaxFutureSkew, ref.UTC().Format(time.RFC3339))
	}
	return nil
}

// fillTime takes a missing event time from the record's Kafka timestamp,
// the one rule every handler then sees.
func (l Limits) fillTime(t *time.Time) {
	if t.IsZero() {
		*t = l.written()
	}
}

// AgentState is one cc.agent-state.v1 event (docs/events.md).
type AgentState struct {
	AgentID string `json:"agent_id"`
	// Seq orders the events of one agent. 0 (or absent) means the platform
	// has no per-agent counter (Amazon Connect, Genesys, Twilio): the event
	// is ordered by OccurredAt instead.
	Seq          int64     `json:"seq,omitempty"`
	EventType    string    `json:"event_type"` // LOGIN|LOGOUT|STATE_CHANGE|HEARTBEAT
	OccurredAt   time.Time `json:"occurred_at,omitzero"`
	RoutingState string    `json:"routing_state,omitempty"` // AVAILABLE|RESERVED|BUSY|ACW|NOT_ROUTABLE|OFFLINE
	// NextRoutingState is the state the agent takes when the current
	// contact ends (OFFLINE|NOT_ROUTABLE|AVAILABLE); empty when not sent.
	NextRoutingState string       `json:"next_routing_state,omitempty"`
	Skills           []AgentSkill `json:"skills,omitempty"`
	Channels         []string     `json:"channels,omitempty"`
	TTLSeconds       int          `json:"ttl_seconds,omitempty"`
}

// AgentSkill is one skill of an agent; proficiency is 0–5.
type AgentSkill struct {
	Name        string  `json:"name"`
	Proficiency float64 `json:"proficiency"`
}

// Check reports why ev is not a usable agent state, as a *BadEvent.
// routing_state may be empty only on HEARTBEAT (the agent is alive, state
// unchanged) and LOGOUT (OFFLINE is implied). An event without seq must
// have a time (from occurred_at or the record): it is ordered by it.
func (ev *AgentState) Check(l Limits) error {
	switch {
	case ev.AgentID == "":
		return bad(ReasonMissingAgentID, "agent_id is empty")
	case len(ev.AgentID) > MaxIDBytes:
		return bad(ReasonTooLong, "agent_id is longer than %d bytes", MaxIDBytes)
	case ev.Seq < 0:
		return bad(ReasonNegativeSeq, "seq %d is negative", ev.Seq)
	}
	switch ev.EventType {
	case AgentLogin, AgentLogout, AgentStateChange, AgentHeartbeat:
	default:
		return bad(ReasonUnknownEventType, "event_type %q is not LOGIN, LOGOUT, STATE_CHANGE or HEARTBEAT", clip(ev.EventType))
	}
	switch ev.RoutingState {
	case StateAvailable, StateReserved, StateBusy, StateACW, StateNotRoutable, StateOffline:
	case "":
		if ev.EventType != AgentHeartbeat && ev.EventType != AgentLogout {
			return bad(ReasonUnknownState, "routing_state is empty on %s", ev.EventType)
		}
	default:
		return bad(ReasonUnknownState, "routing_state %q is not AVAILABLE, RESERVED, BUSY, ACW, NOT_ROUTABLE or OFFLINE", clip(ev.RoutingState))
	}
	switch ev.NextRoutingState {
	case "", StateOffline, StateNotRoutable, StateAvailable:
	default:
		return bad(ReasonUnknownNextState, "next_routing_state %q is not OFFLINE, NOT_ROUTABLE or AVAILABLE", clip(ev.NextRoutingState))
	}
	if len(ev.Skills) > MaxSkillsPerEv {
		return bad(ReasonTooLong, "%d skills is more than %d", len(ev.Skills), MaxSkillsPerEv)
	}
	for i, s := range ev.Skills {
		switch {
		case s.Name == "":
			return bad(ReasonMissingSkillName, "skills[%d].name is empty", i)
		case len(s.Name) > MaxNameBytes:
			return bad(ReasonTooLong, "skills[%d].name is longer than %d bytes", i, MaxNameBytes)
		case s.Proficiency < 0:
			return bad(ReasonNegativeProficiency, "skills[%d].proficiency %g is negative", i, s.Proficiency)
		case !(s.Proficiency <= MaxProficiency): // also NaN
			return bad(ReasonProficiencyOutOfRange, "skills[%d].proficiency %g is above 5", i, s.Proficiency)
		}
	}
	if len(ev.Channels) > MaxChannelsPerEv {
		return bad(ReasonTooLong, "%d channels is more than %d", len(ev.Channels), MaxChannelsPerEv)
	}
	for i, c := range ev.Channels {
		if len(c) > MaxNameBytes {
			return bad(ReasonTooLong, "channels[%d] is longer than %d bytes", i, MaxNameBytes)
		}
	}
	switch {
	case ev.TTLSeconds < 0:
		return bad(ReasonNegativeTTL, "ttl_seconds %d is negative", ev.TTLSeconds)
	case ev.TTLSeconds > MaxTTLSeconds:
		return bad(ReasonTTLOutOfRange, "ttl_seconds %d is more than a week", ev.TTLSeconds)
	}
	if ev.Seq == 0 && ev.OccurredAt.IsZero() {
		return bad(ReasonMissingTime, "an event without seq needs occurred_at: it is ordered by it")
	}
	return l.checkTime("occurred_at", ev.OccurredAt)
}

// Call is one cc.call.v1 event: one per call transition.
type Call struct {
	CallID      string    `json:"call_id"`
	EventType   string    `json:"event_type"` // OFFERED|QUEUED|ANSWERED|ENDED
	DNIS        string    `json:"dnis,omitempty"`
	Ext         string    `json:"ext,omitempty"`
	ANI         string    `json:"ani,omitempty"`
	OccurredAt  time.Time `json:"occurred_at"`
	Queue       string    `json:"queue,omitempty"`
	Skill       string    `json:"skill,omitempty"`
	AgentID     string    `json:"agent_id,omitempty"`
	QueueWaitMS int64     `json:"queue_wait_ms,omitempty"`
	TalkMS      int64     `json:"talk_ms,omitempty"`
	EndReason   string    `json:"end_reason,omitempty"`
	// Channel is voice (or empty: a call), chat, sms or callback: a session
	// started from a chat, sms or callback creative's tracking key.
	Channel string `json:"channel,omitempty"`
}

// Check reports why ev is not a usable call event, as a *BadEvent.
// end_reason is free text beyond the documented values (new reasons must
// not make calls disappear). occurred_at is required once the record's
// Kafka timestamp has filled a missing one: capacity, numbers and feedback
// all date the transition by it.
func (ev *Call) Check(l Limits) error {
	switch {
	case ev.CallID == "":
		return bad(ReasonMissingCallID, "call_id is empty")
	case len(ev.CallID) > MaxIDBytes:
		return bad(ReasonTooLong, "call_id is longer than %d bytes", MaxIDBytes)
	}
	switch ev.EventType {
	case CallOffered, CallQueued, CallAnswered, CallEnded:
	default:
		return bad(ReasonUnknownEventType, "event_type %q is not OFFERED, QUEUED, ANSWERED or ENDED", clip(ev.EventType))
	}
	switch {
	case ev.QueueWaitMS < 0 || ev.TalkMS < 0:
		return bad(ReasonNegativeDuration, "queue_wait_ms %d / talk_ms %d is negative", ev.QueueWaitMS, ev.TalkMS)
	case ev.QueueWaitMS > MaxDurationMS || ev.TalkMS > MaxDurationMS:
		return bad(ReasonDurationOutOfRange, "queue_wait_ms %d / talk_ms %d is more than a day", ev.QueueWaitMS, ev.TalkMS)
	case len(ev.DNIS) > MaxNumberBytes || len(ev.ANI) > MaxNumberBytes || len(ev.Ext) > MaxNumberBytes:
		return bad(ReasonTooLong, "dnis, ext or ani is longer than %d bytes", MaxNumberBytes)
	case len(ev.Queue) > MaxIDBytes || len(ev.AgentID) > MaxIDBytes:
		return bad(ReasonTooLong, "queue or agent_id is longer than %d bytes", MaxIDBytes)
	case len(ev.Skill) > MaxNameBytes || len(ev.EndReason) > MaxNameBytes || len(ev.Channel) > MaxNameBytes:
		return bad(ReasonTooLong, "skill, end_reason or channel is longer than %d bytes", MaxNameBytes)
	case ev.OccurredAt.IsZero():
		return bad(ReasonMissingTime, "occurred_at is missing and the record has no timestamp")
	}
	return l.checkTime("occurred_at", ev.OccurredAt)
}

// Outcome is one cc.outcome.v1 event; the latest per call_id wins.
type Outcome struct {
	CallID      string    `json:"call_id"`
	Disposition string    `json:"disposition"` // SALE|NO_SALE|CALLBACK_REQUESTED|FOLLOW_UP_EXPECTED|NOT_QUALIFIED|WRONG_NUMBER|SPAM
	IsFinal     bool      `json:"is_final"`
	Revenue     Money     `json:"revenue"`
	OccurredAt  time.Time `json:"occurred_at"`
}

// Money is an amount in integer micro-units of a currency.
type Money struct {
	AmountMicros int64  `json:"amount_micros"`
	Currency     string `json:"currency"`
}

// Check reports why ev is not a usable outcome, as a *BadEvent.
// occurred_at is required (after the record's timestamp filled a missing
// one): it decides which outcome of a call is the latest.
func (ev *Outcome) Check(l Limits) error {
	switch {
	case ev.CallID == "":
		return bad(ReasonMissingCallID, "call_id is empty")
	case len(ev.CallID) > MaxIDBytes:
		return bad(ReasonTooLong, "call_id is longer than %d bytes", MaxIDBytes)
	}
	switch ev.Disposition {
	case DispositionSale, DispositionNoSale, DispositionCallback, DispositionFollowUp,
		DispositionNotQualified, DispositionWrongNumber, DispositionSpam:
	default:
		return bad(ReasonUnknownDisposition, "disposition %q is not a known disposition", clip(ev.Disposition))
	}
	switch {
	case ev.Revenue.AmountMicros < 0:
		return bad(ReasonNegativeRevenue, "revenue.amount_micros %d is negative", ev.Revenue.AmountMicros)
	case ev.Revenue.AmountMicros > MaxMoneyMicros:
		return bad(ReasonRevenueOutOfRange, "revenue.amount_micros %d is more than %g", ev.Revenue.AmountMicros, float64(MaxMoneyMicros))
	case len(ev.Revenue.Currency) > 8:
		return bad(ReasonTooLong, "revenue.currency is longer than 8 bytes")
	case ev.OccurredAt.IsZero():
		return bad(ReasonMissingTime, "occurred_at is missing and the record has no timestamp")
	}
	return l.checkTime("occurred_at", ev.OccurredAt)
}

// Attribution is one callbid.attribution.v1 event: the impression joined with
// its call and, once known, the latest outcome.
type Attribution struct {
	CallID      string    `json:"call_id"`
	DNIS        string    `json:"dnis"`
	Ext         string    `json:"ext,omitempty"`
	ANI         string    `json:"ani,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	Match       string    `json:"match"` // exact|cooldown|sticky|bucket|none
	Accepted    bool      `json:"accepted"`
	Reason      string    `json:"reason,omitempty"`
	CampaignID  string    `json:"campaign_id,omitempty"`
	PublisherID string    `json:"publisher_id,omitempty"`
	SiteOrApp   string    `json:"site_or_app,omitempty"`
	Exchange    string    `json:"exchange,omitempty"`
	RequestID   string    `json:"request_id,omitempty"`
	ImpID       string    `json:"imp_id,omitempty"`
	BidID       string    `json:"bid_id,omitempty"`
	PriceCPM    float64   `json:"price_cpm,omitempty"`
	WonAt       time.Time `json:"won_at,omitzero"`
	LeaseID     string    `json:"lease_id,omitempty"`
	Skill       string    `json:"skill,omitempty"`
	IPHash      uint64    `json:"ip_hash,omitempty"`
	IFAHash     uint64    `json:"ifa_hash,omitempty"`
	// ClearingPriceCPM is the price the win or billing notice reported (a
	// billing notice's wins), CPM in Currency; absent before any notice.
	ClearingPriceCPM float64 `json:"clearing_price_cpm,omitempty"`
	Currency         string  `json:"currency,omitempty"` // the bid currency, ISO 4217
	CreativeID       string  `json:"creative_id,omitempty"`
	Country          string  `json:"country,omitempty"`     // device.geo.country, ISO-3166-1 alpha-3
	Region           string  `json:"region,omitempty"`      // device.geo.region
	DeviceType       int     `json:"device_type,omitempty"` // device.devicetype (AdCOM)
	// Channel is the channel of the creative whose number or key was
	// called (its pool's): chat, sms or callback; empty for a phone call.
	Channel string `json:"channel,omitempty"`
	// Outcome fields, filled by feedback when an outcome arrives.
	Disposition string `json:"disposition,omitempty"`
	IsFinal     bool   `json:"is_final,omitempty"`
	Revenue     *Money `json:"revenue,omitempty"`
	TalkMS      int64  `json:"talk_ms,omitempty"`
}

// Check reports why a is not a usable attribution, as a *BadEvent.
func (a *Attribution) Check(l Limits) error {
	switch {
	case a.CallID == "":
		return bad(ReasonMissingCallID, "call_id is empty")
	case a.PriceCPM < 0 || a.TalkMS < 0 || math.IsNaN(a.PriceCPM) || a.ClearingPriceCPM < 0 || math.IsNaN(a.ClearingPriceCPM):
		return bad(ReasonNegativeValue, "price_cpm %g / clearing_price_cpm %g / talk_ms %d is negative", a.PriceCPM, a.ClearingPriceCPM, a.TalkMS)
	case a.StartedAt.IsZero():
		return bad(ReasonMissingTime, "started_at is missing")
	}
	if err := l.checkTime("started_at", a.StartedAt); err != nil {
		return err
	}
	return l.checkTime("won_at", a.WonAt)
}

// Impression is one callbid.impressions.v1 event, published by the notice
// handler on a win or billing notice, keyed by bid_id.
type Impression struct {
	BidID       string    `json:"bid_id"`
	Kind        string    `json:"kind"` // win|bill|loss
	CampaignID  string    `json:"campaign_id"`
	PublisherID string    `json:"publisher_id"`
	Exchange    string    `json:"exchange"`
	Skill       string    `json:"skill"`
	PriceMicros int64     `json:"price_micros"` // clearing price, CPM micro-units, bid currency
	Currency    string    `json:"currency"`
	At          time.Time `json:"at"`
	IPHash      uint64    `json:"ip_hash,omitempty"`
	IFAHash     uint64    `json:"ifa_hash,omitempty"`
	// Channel is the contact channel the impression bought: chat, sms or
	// callback for an invitation creative, empty (or voice) for a phone
	// call — records written before the field are voice.
	Channel string `json:"channel,omitempty"`
}

// Check reports why im is not a usable impression, as a *BadEvent.
func (im *Impression) Check(l Limits) error {
	switch {
	case im.BidID == "":
		return bad(ReasonMissingBidID, "bid_id is empty")
	case len(im.BidID) > MaxIDBytes:
		return bad(ReasonTooLong, "bid_id is longer than %d bytes", MaxIDBytes)
	case im.Kind != ImpressionWin && im.Kind != ImpressionBill && im.Kind != ImpressionLoss:
		return bad(ReasonUnknownKind, "kind %q is not win, bill or loss", clip(im.Kind))
	case im.PriceMicros < 0 || im.PriceMicros > MaxMoneyMicros:
		return bad(ReasonNegativeValue, "price_micros %d is out of range", im.PriceMicros)
	case !knownChannel(im.Channel):
		return bad(ReasonUnknownKind, "channel %q is not voice, chat, sms or callback", clip(im.Channel))
	}
	return l.checkTime("at", im.At)
}

// knownChannel reports whether ch is a contact channel callbid bids on,
// or empty (a phone call).
func knownChannel(ch string) bool {
	switch ch {
	case "", "voice", "chat", "sms", "callback":
		return true
	}
	return false
}

// clip shortens a bad value for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%.40s…", s)
	}
	return s
}
