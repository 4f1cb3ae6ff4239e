package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/callbid/callbid/jsonr"
)

// Reasons a BadEvent carries: the "reason" label of
// callbid_events_bad_total.
const (
	ReasonMalformedJSON         = "malformed_json"
	ReasonTooLarge              = "too_large"
	ReasonTooLong               = "too_long"
	ReasonMissingAgentID        = "missing_agent_id"
	ReasonNegativeSeq           = "negative_seq"
	ReasonSeqJump               = "seq_jump"
	ReasonUnknownEventType      = "unknown_event_type"
	ReasonUnknownState          = "unknown_state"
	ReasonUnknownNextState      = "unknown_next_state"
	ReasonMissingSkillName      = "missing_skill_name"
	ReasonNegativeProficiency   = "negative_proficiency"
	ReasonProficiencyOutOfRange = "proficiency_out_of_range"
	ReasonNegativeTTL           = "negative_ttl"
	ReasonTTLOutOfRange         = "ttl_out_of_range"
	ReasonMissingCallID         = "missing_call_id"
	ReasonNegativeDuration      = "negative_duration"
	ReasonDurationOutOfRange    = "duration_out_of_range"
	ReasonUnknownDisposition    = "unknown_disposition"
	ReasonNegativeRevenue       = "negative_revenue"
	ReasonRevenueOutOfRange     = "revenue_out_of_range"
	ReasonNegativeValue         = "negative_value"
	ReasonMissingBidID          = "missing_bid_id"
	ReasonUnknownKind           = "unknown_kind"
	ReasonMissingTime           = "missing_occurred_at"
	ReasonTimeOutOfRange        = "time_out_of_range"
	ReasonFutureTime            = "future_time"
	// ReasonOther labels a handler error that is not a *BadEvent.
	ReasonOther = "other"
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

// Bad makes a *BadEvent with reason and a sentence saying why; handlers use
// it for records they find bad in context (a seq jump).
func Bad(reason, format string, args ...any) error {
	return &BadEvent{Reason: reason, Err: fmt.Errorf(format, args...)}
}

func bad(reason, format string, args ...any) error { return Bad(reason, format, args...) }

// StripFraming removes Confluent Schema Registry framing (magic byte 0x00
// and a 4-byte schema id) from a value. JSON never starts with 0x00, so an
// unframed value is returned as it is.
func StripFraming(b []byte) []byte {
	if len(b) >= 5 && b[0] == 0 {
		return b[5:]
	}
	return b
}

// The decoders parse with jsonr: the document checked strictly (RFC 8259)
// before any field is read, exact key match (encoding/json also matches
// "AGENT_ID"), the first of a repeated key, strict types, and every string
// of a record copied in one allocation. Unknown fields are ignored.

// decoderPool holds the decoders of the Decode functions (a parser and its
// scratch buffers).
var decoderPool sync.Pool

// parseObject strips framing and parses b as a JSON object.
func parseObject(p *jsonr.Parser, b []byte) (jsonr.Value, error) {
	if len(b) > MaxRecordBytes {
		return jsonr.Value{}, bad(ReasonTooLarge, "value of %d bytes is larger than %d", len(b), MaxRecordBytes)
	}
	v, err := p.Parse(StripFraming(b))
	if err != nil {
		return jsonr.Value{}, &BadEvent{Reason: ReasonMalformedJSON, Err: err}
	}
	if v.Kind() != jsonr.Object {
		return jsonr.Value{}, bad(ReasonMalformedJSON, "value is a JSON %s, not an object", v.Kind())
	}
	return v, nil
}

// fields reads typed fields of one object, remembering the first type error.
// Strings are collected and copied into one string at the end (strs).
type fields struct {
	err  error
	buf  []byte
	refs []strRef
}

type strRef struct {
	dst        *string
	start, end int
}

func (f *fields) fail(name, want string) {
	if f.err == nil {
		f.err = bad(ReasonMalformedJSON, "%s must be %s", name, want)
	}
}

// get returns the field, or None when absent or null.
func get(v jsonr.Value, name string) jsonr.Value {
	x := v.Get(name)
	if x.Kind() == jsonr.Null {
		return jsonr.Value{}
	}
	return x
}

// str schedules field name of v into *dst. Known enum values (consts) are
// set without copying.
func (f *fields) str(v jsonr.Value, name string, dst *string, consts ...string) {
	x := get(v, name)
	if !x.Exists() {
		return
	}
	b, ok := x.StringBytes()
	if !ok {
		f.fail(name, "a string")
		return
	}
	f.strBytes(name, b, dst, consts...)
}

// strBytes schedules b into *dst (see str).
func (f *fields) strBytes(name string, b []byte, dst *string, consts ...string) {
	if !utf8.Valid(b) {
		f.fail(name, "valid UTF-8")
		return
	}
	for _, c := range consts {
		if string(b) == c {
			*dst = c
			return
		}
	}
	if len(b) > MaxIDBytes*4 {
		b = b[:MaxIDBytes*4] // long enough to fail Check's bound; no more copied
	}
	f.refs = append(f.refs, strRef{dst, len(f.buf), len(f.buf) + len(b)})
	f.buf = append(f.buf, b...)
}

func (f *fields) int64(v jsonr.Value, name string, dst *int64) {
	scalar(f, v, name, "an integer", dst, jsonr.Value.Int64)
}

func (f *fields) float(v jsonr.Value, name string, dst *float64) {
	scalar(f, v, name, "a number", dst, jsonr.Value.Float64)
}

func (f *fields) bool(v jsonr.Value, name string, dst *bool) {
	scalar(f, v, name, "true or false", dst, jsonr.Value.Bool)
}

// scalar reads field name of v into dst with conv; a value of the wrong type
// fails the record as "want"; an absent field leaves dst as it is.
func scalar[T any](f *fields, v jsonr.Value, name, want string, dst *T, conv func(jsonr.Value) (T, bool)) {
	if x := get(v, name); x.Exists() {
		n, ok := conv(x)
		if !ok {
			f.fail(name, want)
			return
		}
		*dst = n
	}
}

// time reads an RFC 3339 time; an empty string is no time.
func (f *fields) time(v jsonr.Value, name string, dst *time.Time) {
	x := get(v, name)
	if !x.Exists() {
		return
	}
	b, ok := x.StringBytes()
	if !ok {
		f.fail(name, "an RFC 3339 time string")
		return
	}
	if len(b) == 0 {
		return
	}
	if len(b) > 64 {
		f.fail(name, "an RFC 3339 time")
		return
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		f.fail(name, "an RFC 3339 time")
		return
	}
	*dst = t
}

// strs copies the scheduled strings in one allocation.
func (f *fields) strs() {
	if len(f.refs) == 0 {
		return
	}
	all := string(f.buf)
	for _, r := range f.refs {
		*r.dst = all[r.start:r.end]
	}
}

func (f *fields) reset() {
	f.err, f.buf, f.refs = nil, f.buf[:0], f.refs[:0]
}

var routingStates = []string{StateAvailable, StateReserved, StateBusy, StateACW, StateNotRoutable, StateOffline}

// decoder is the reusable state of one decoding goroutine.
type decoder struct {
	p   jsonr.Parser
	f   fields
	raw []byte // a Lease's []byte fields
}

func (d *decoder) agentState(b []byte, ev *AgentState, l Limits) error {
	skills, channels := ev.Skills[:0], ev.Channels[:0]
	*ev = AgentState{}
	v, err := parseObject(&d.p, b)
	if err != nil {
		return err
	}
	f := &d.f
	f.reset()
	f.str(v, "agent_id", &ev.AgentID)
	f.int64(v, "seq", &ev.Seq)
	f.str(v, "event_type", &ev.EventType, AgentLogin, AgentLogout, AgentStateChange, AgentHeartbeat)
	f.time(v, "occurred_at", &ev.OccurredAt)
	f.str(v, "routing_state", &ev.RoutingState, routingStates...)
	f.str(v, "next_routing_state", &ev.NextRoutingState, routingStates...)
	if x := get(v, "ttl_seconds"); x.Exists() {
		n, ok := x.Int64()
		switch {
		case !ok:
			f.fail("ttl_seconds", "an integer")
		case n > MaxTTLSeconds:
			ev.TTLSeconds = MaxTTLSeconds + 1 // Check names it
		case n < 0:
			ev.TTLSeconds = -1
		default:
			ev.TTLSeconds = int(n)
		}
	}
	if x := get(v, "skills"); x.Exists() {
		if x.Kind() != jsonr.Array {
			f.fail("skills", "an array")
		}
		if x.Len() > MaxSkillsPerEv {
			return bad(ReasonTooLong, "%d skills is more than %d", x.Len(), MaxSkillsPerEv)
		}
		skills = slices.Grow(skills, x.Len())[:x.Len()]
		i := 0
		for it := x.Iter(); it.Next(); i++ {
			s := it.Value()
			skills[i] = AgentSkill{}
			if s.Kind() != jsonr.Object {
				f.fail("skills[]", "an object")
				continue
			}
			f.str(s, "name", &skills[i].Name)
			f.float(s, "proficiency", &skills[i].Proficiency)
		}
		ev.Skills = skills
	}
	if x := get(v, "channels"); x.Exists() {
		if x.Kind() != jsonr.Array {
			f.fail("channels", "an array")
		}
		if x.Len() > MaxChannelsPerEv {
			return bad(ReasonTooLong, "%d channels is more than %d", x.Len(), MaxChannelsPerEv)
		}
		channels = slices.Grow(channels, x.Len())[:x.Len()]
		i := 0
		for it := x.Iter(); it.Next(); i++ {
			channels[i] = ""
			b, ok := it.Value().StringBytes()
			if !ok {
				f.fail("channels[]", "a string")
				continue
			}
			f.strBytes("channels[]", b, &channels[i], "voice", "chat", "email", "sms", "callback")
		}
		ev.Channels = channels
	}
	if f.err != nil {
		return f.err
	}
	f.strs()
	l.fillTime(&ev.OccurredAt)
	return ev.Check(l)
}

func (d *decoder) call(b []byte, ev *Call, l Limits) error {
	*ev = Call{}
	v, err := parseObject(&d.p, b)
	if err != nil {
		return err
	}
	f := &d.f
	f.reset()
	f.str(v, "call_id", &ev.CallID)
	f.str(v, "event_type", &ev.EventType, CallOffered, CallQueued, CallAnswered, CallEnded)
	f.str(v, "dnis", &ev.DNIS)
	f.str(v, "ext", &ev.Ext)
	f.str(v, "ani", &ev.ANI)
	f.time(v, "occurred_at", &ev.OccurredAt)
	f.str(v, "queue", &ev.Queue)
	f.str(v, "skill", &ev.Skill)
	f.str(v, "agent_id", &ev.AgentID)
	f.int64(v, "queue_wait_ms", &ev.QueueWaitMS)
	f.int64(v, "talk_ms", &ev.TalkMS)
	f.str(v, "end_reason", &ev.EndReason, EndCustomerHangup, EndAgentHangup, EndAbandonedInQueue, EndTransferred, EndFailed)
	f.str(v, "channel", &ev.Channel, "voice", "chat", "sms", "callback")
	if f.err != nil {
		return f.err
	}
	f.strs()
	l.fillTime(&ev.OccurredAt)
	return ev.Check(l)
}

func (d *decoder) outcome(b []byte, ev *Outcome, l Limits) error {
	*ev = Outcome{}
	v, err := parseObject(&d.p, b)
	if err != nil {
		return err
	}
	f := &d.f
	f.reset()
	f.str(v, "call_id", &ev.CallID)
	f.str(v, "disposition", &ev.Disposition, DispositionSale, DispositionNoSale, DispositionCallback,
		DispositionFollowUp, DispositionNotQualified, DispositionWrongNumber, DispositionSpam)
	f.bool(v, "is_final", &ev.IsFinal)
	if r := get(v, "revenue"); r.Exists() {
		if r.Kind() != jsonr.Object {
			f.fail("revenue", "an object")
		} else {
			f.int64(r, "amount_micros", &ev.Revenue.AmountMicros)
			f.str(r, "currency", &ev.Revenue.Currency, "USD", "EUR", "GBP", "CAD")
		}
	}
	f.time(v, "occurred_at", &ev.OccurredAt)
	if f.err != nil {
		return f.err
	}
	f.strs()
	l.fillTime(&ev.OccurredAt)
	return ev.Check(l)
}

// jsonRecord decodes callbid's own records (written by callbid, read back
// on replay) with encoding/json, then checks them.
func jsonRecord[T interface{ Check(Limits) error }](b []byte, ev T, l Limits) error {
	if len(b) > MaxRecordBytes {
		return bad(ReasonTooLarge, "value of %d bytes is larger than %d", len(b), MaxRecordBytes)
	}
	if err := json.Unmarshal(StripFraming(b), ev); err != nil {
		return &BadEvent{Reason: ReasonMalformedJSON, Err: err}
	}
	return ev.Check(l)
}

// The decode methods are what a record consumer calls (one decoder per
// consumer goroutine); topic names the topic a record type is read from.

func (ev *AgentState) decode(d *decoder, b []byte, l Limits) error { return d.agentState(b, ev, l) }
func (ev *Call) decode(d *decoder, b []byte, l Limits) error       { return d.call(b, ev, l) }
func (ev *Outcome) decode(d *decoder, b []byte, l Limits) error    { return d.outcome(b, ev, l) }
func (ev *Impression) decode(d *decoder, b []byte, l Limits) error { return d.impression(b, ev, l) }
func (ev *Attribution) decode(_ *decoder, b []byte, l Limits) error {
	*ev = Attribution{}
	return jsonRecord(b, ev, l)
}

func (*AgentState) topic() string  { return TopicAgentState }
func (*Call) topic() string        { return TopicCall }
func (*Outcome) topic() string     { return TopicOutcome }
func (*Impression) topic() string  { return TopicImpressions }
func (*Attribution) topic() string { return TopicAttribution }

// decodeWith runs one decode with a pooled parser (the static decoders).
func decodeWith(b []byte, fn func(d *decoder) error) error {
	d, _ := decoderPool.Get().(*decoder)
	if d == nil {
		d = new(decoder)
	}
	err := fn(d)
	// The strings a decode made belong to its value now; its byte buffers
	// are reused unless they grew large.
	clear(d.f.refs[:cap(d.f.refs)]) // no pointer into the caller's value stays pooled
	d.f.reset()
	if cap(d.f.buf) > MaxRecordBytes {
		d.f.buf = nil
	}
	d.raw = nil // a Lease's []byte fields (DecodeLease) point into it
	d.p.Reset() // the pool keeps no reference to the caller's bytes
	decoderPool.Put(d)
	return err
}

// DecodeAgentState parses and checks one cc.agent-state.v1 value (Schema
// Registry framing stripped, no clock: Limits{}). The consumer decodes with
// the same rules plus the record's time limits.
func DecodeAgentState(b []byte, ev *AgentState) error {
	return decodeWith(b, func(d *decoder) error { return d.agentState(b, ev, Limits{}) })
}

// DecodeCall parses and checks one cc.call.v1 value (see DecodeAgentState).
func DecodeCall(b []byte, ev *Call) error {
	return decodeWith(b, func(d *decoder) error { return d.call(b, ev, Limits{}) })
}

// DecodeOutcome parses and checks one cc.outcome.v1 value.
func DecodeOutcome(b []byte, ev *Outcome) error {
	return decodeWith(b, func(d *decoder) error { return d.outcome(b, ev, Limits{}) })
}

// DecodeImpression parses and checks one callbid.impressions.v1 value.
func DecodeImpression(b []byte, ev *Impression) error {
	return decodeWith(b, func(d *decoder) error { return d.impression(b, ev, Limits{}) })
}

// DecodeAttribution parses and checks one callbid.attribution.v1 value.
func DecodeAttribution(b []byte, ev *Attribution) error { return ev.decode(nil, b, Limits{}) }
