package events

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeAgentState(t *testing.T) {
	f := func(in, reason string) {
		t.Helper()
		var ev AgentState
		err := DecodeAgentState([]byte(in), &ev)
		if got := Reason(err); got != reason {
			t.Errorf("%s: reason %q (err %v), want %q", in, got, err, reason)
		}
		if reason != "" {
			var be *BadEvent
			if !errors.As(err, &be) || be.Error() == "" {
				t.Errorf("%s: error %v is not a *BadEvent", in, err)
			}
		}
	}
	f(`{"agent_id":"acme:agent-123","seq":48211,"event_type":"STATE_CHANGE","occurred_at":"2026-11-23T12:00:00Z",
	   "routing_state":"AVAILABLE","skills":[{"name":"mortgage","proficiency":4.0}],"channels":["voice","chat"],
	   "ttl_seconds":300,"some_future_field":{"x":1}}`, "")
	f(`{"agent_id":"a","seq":1,"event_type":"HEARTBEAT"}`, "")
	f(`{"agent_id":"a","seq":1,"event_type":"LOGOUT"}`, "")
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"NOT_ROUTABLE"}`, "")
	f(`{"agent_id":"a","seq":1,"event_type":"STATE_CHANGE","routing_state":"BUSY","next_routing_state":"OFFLINE"}`, "")
	f(`{"agent_id":"a","event_type":"STATE_CHANGE","routing_state":"BUSY","occurred_at":"2026-11-23T12:00:00Z"}`, "") // no seq: Connect
	f(`{"agent_id":"a",`, ReasonMalformedJSON)
	f(`[]`, ReasonMalformedJSON)
	f(`{"agent_id":"a","seq":"1"}`, ReasonMalformedJSON)
	f(`{"agent_id":"a","seq":1.5,"event_type":"LOGIN","routing_state":"AVAILABLE"}`, ReasonMalformedJSON)
	f(`{"agent_id":"a","event_type":"LOGIN","routing_state":"AVAILABLE","occurred_at":"yesterday"}`, ReasonMalformedJSON)
	f("{\"agent_id\":\"a\xff\",\"seq\":1,\"event_type\":\"LOGIN\",\"routing_state\":\"AVAILABLE\"}", ReasonMalformedJSON)
	f(`{"AGENT_ID":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE"}`, ReasonMissingAgentID) // keys are exact
	f(`{"seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE"}`, ReasonMissingAgentID)
	f(`{"agent_id":"`+strings.Repeat("a", MaxIDBytes+1)+`","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE"}`, ReasonTooLong)
	f(`{"agent_id":"a","seq":-1,"event_type":"LOGIN","routing_state":"AVAILABLE"}`, ReasonNegativeSeq)
	f(`{"agent_id":"a","seq":1,"event_type":"DANCE","routing_state":"AVAILABLE"}`, ReasonUnknownEventType)
	f(`{"agent_id":"a","seq":1,"event_type":"STATE_CHANGE","routing_state":"NAPPING"}`, ReasonUnknownState)
	f(`{"agent_id":"a","seq":1,"event_type":"STATE_CHANGE"}`, ReasonUnknownState)
	f(`{"agent_id":"a","seq":1,"event_type":"STATE_CHANGE","routing_state":"BUSY","next_routing_state":"BUSY"}`, ReasonUnknownNextState)
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"name":"m","proficiency":-0.5}]}`, ReasonNegativeProficiency)
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"name":"m","proficiency":5.5}]}`, ReasonProficiencyOutOfRange)
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"name":"m","proficiency":1e9}]}`, ReasonProficiencyOutOfRange)
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"proficiency":3}]}`, ReasonMissingSkillName)
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[`+strings.Repeat(`{"name":"m","proficiency":1},`, MaxSkillsPerEv)+`{"name":"m","proficiency":1}]}`, ReasonTooLong)
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","ttl_seconds":-3}`, ReasonNegativeTTL)
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","ttl_seconds":99999999999999}`, ReasonTTLOutOfRange)
	f(`{"agent_id":"a","event_type":"LOGIN","routing_state":"AVAILABLE"}`, ReasonMissingTime) // no seq, no time: cannot be ordered
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","occurred_at":"0001-01-01T00:00:01Z"}`, ReasonTimeOutOfRange)
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","x":"`+strings.Repeat("x", MaxRecordBytes)+`"}`, ReasonTooLarge)
}

func TestDecodeCallOutcomeImpression(t *testing.T) {
	call := func(in, reason string) {
		t.Helper()
		var ev Call
		if got := Reason(DecodeCall([]byte(in), &ev)); got != reason {
			t.Errorf("call %s: reason %q, want %q", in, got, reason)
		}
	}
	call(`{"call_id":"c1","event_type":"ENDED","dnis":"+18005550123","ext":"","ani":"+14155550188","occurred_at":"2026-11-23T12:00:00Z",
	       "queue":"q","skill":"mortgage","agent_id":"a","queue_wait_ms":1200,"talk_ms":300000,"end_reason":"CUSTOMER_HANGUP"}`, "")
	call(`{"call_id":"c1","event_type":"ENDED","end_reason":"SOMETHING_NEW","occurred_at":"2026-11-23T12:00:00Z"}`, "")
	call(`{"call_id":"c1","event_type":"ENDED","end_reason":"SOMETHING_NEW"}`, ReasonMissingTime)
	call(`{"event_type":"OFFERED"}`, ReasonMissingCallID)
	call(`{"call_id":"c1","event_type":"RINGING"}`, ReasonUnknownEventType)
	call(`{"call_id":"c1","event_type":"ENDED","talk_ms":-1}`, ReasonNegativeDuration)
	call(`{"call_id":"c1","event_type":"ENDED","talk_ms":86400001,"occurred_at":"2026-11-23T12:00:00Z"}`, ReasonDurationOutOfRange)
	call(`{"call_id":"c1","event_type":"OFFERED","ani":"`+strings.Repeat("1", 65)+`","occurred_at":"2026-11-23T12:00:00Z"}`, ReasonTooLong)
	call(`nope`, ReasonMalformedJSON)

	out := func(in, reason string) {
		t.Helper()
		var ev Outcome
		if got := Reason(DecodeOutcome([]byte(in), &ev)); got != reason {
			t.Errorf("outcome %s: reason %q, want %q", in, got, reason)
		}
	}
	out(`{"call_id":"c1","disposition":"SALE","is_final":true,"revenue":{"amount_micros":5000000,"currency":"USD"},"occurred_at":"2026-11-23T12:00:00Z"}`, "")
	out(`{"call_id":"c1","disposition":"SALE","is_final":true}`, ReasonMissingTime)
	out(`{"disposition":"SALE"}`, ReasonMissingCallID)
	out(`{"call_id":"c1","disposition":"MAYBE"}`, ReasonUnknownDisposition)
	out(`{"call_id":"c1","disposition":"SALE","revenue":{"amount_micros":-1}}`, ReasonNegativeRevenue)
	out(`{"call_id":"c1","disposition":"SALE","revenue":{"amount_micros":9000000000000000000}}`, ReasonRevenueOutOfRange)
	out(`{"call_id":"c1","disposition":"SALE","is_final":"yes"}`, ReasonMalformedJSON)

	imp := func(in, reason string) {
		t.Helper()
		var ev Impression
		if got := Reason(DecodeImpression([]byte(in), &ev)); got != reason {
			t.Errorf("impression %s: reason %q, want %q", in, got, reason)
		}
	}
	imp(`{"bid_id":"b","kind":"win"}`, "")
	imp(`{"kind":"win"}`, ReasonMissingBidID)
	imp(`{"bid_id":"b","kind":"maybe"}`, ReasonUnknownKind)
	imp(`{"bid_id":"b","kind":"win","channel":"chat"}`, "")
	imp(`{"bid_id":"b","kind":"win","channel":"fax"}`, ReasonUnknownKind)

	var a Attribution
	if got := Reason(DecodeAttribution([]byte(`{"dnis":"+1"}`), &a)); got != ReasonMissingCallID {
		t.Errorf("attribution reason %q", got)
	}
}

// Confluent Schema Registry framing (0x00 + 4-byte schema id) is stripped.
func TestSchemaRegistryFraming(t *testing.T) {
	v := []byte(`{"agent_id":"a","seq":7,"event_type":"LOGIN","routing_state":"AVAILABLE"}`)
	framed := append([]byte{0, 0, 0, 0x01, 0x2c}, v...)
	var ev AgentState
	if err := DecodeAgentState(framed, &ev); err != nil || ev.AgentID != "a" || ev.Seq != 7 {
		t.Fatalf("framed value: %+v, %v", ev, err)
	}
	if got := Reason(DecodeAgentState([]byte{0, 0, 0}, &ev)); got != ReasonMalformedJSON {
		t.Fatalf("short framing: reason %q", got)
	}
}

// Times are checked against min(now, the record's Kafka timestamp) + skew:
// a record dated in the future of when it was written is rejected at once,
// and again on any later replay, however much later.
func TestFutureTimes(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	call := func(at string) []byte {
		return []byte(`{"call_id":"c","event_type":"ENDED","occurred_at":"` + at + `"}`)
	}
	var c Call
	for _, tc := range []struct {
		name    string
		value   []byte
		written time.Time
		now     time.Time
		want    string
	}{
		{"within skew", call("2026-11-23T12:04:00Z"), now, now, ""},
		{"beyond skew", call("2026-11-23T12:06:00Z"), now, now, ReasonFutureTime},
		{"year 9999", call("9999-12-31T23:59:59Z"), now, now, ReasonFutureTime},
		{"2100, replayed a year later", call("2100-01-01T00:00:00Z"), now, now.AddDate(1, 0, 0), ReasonFutureTime},
		{"an hour ahead of its write, replayed two hours later", call("2026-11-23T13:00:00Z"), now, now.Add(2 * time.Hour), ReasonFutureTime},
		{"a producer clock ahead: reference is now", call("2026-11-23T12:30:00Z"), now.Add(time.Hour), now, ReasonFutureTime},
		{"no record time: now", call("2026-11-23T12:04:00Z"), time.Time{}, now, ""},
	} {
		l := Limits{Now: tc.now, Written: tc.written, MaxFutureSkew: DefaultMaxFutureSkew}
		var dec decoder
		if got := Reason(c.decode(&dec, tc.value, l)); got != tc.want {
			t.Errorf("%s: reason %q, want %q", tc.name, got, tc.want)
		}
	}
	// A Decoder applies the same limits.
	l := Limits{Now: time.Now(), Written: time.Now(), MaxFutureSkew: DefaultMaxFutureSkew}
	if _, err := NewDecoder[Call]().Decode(call("9999-01-01T00:00:00Z"), l); Reason(err) != ReasonFutureTime {
		t.Errorf("decoder: %v", err)
	}
}

// A missing occurred_at is the record's Kafka timestamp.
func TestMissingTimeFromRecord(t *testing.T) {
	written := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	d := NewDecoder[Call]()
	c, err := d.Decode([]byte(`{"call_id":"c","event_type":"OFFERED"}`), Limits{Now: time.Now(), Written: written})
	if err != nil {
		t.Fatal(err)
	}
	if !c.OccurredAt.Equal(written) {
		t.Fatalf("occurred_at %v, want the record time %v", c.OccurredAt, written)
	}
	// kafka-go reports a record without a timestamp as 1969: no time.
	_, err = d.Decode([]byte(`{"call_id":"c","event_type":"OFFERED"}`), Limits{Written: time.UnixMilli(-1)})
	if Reason(err) != ReasonMissingTime {
		t.Fatalf("no timestamp anywhere: %v", err)
	}
}

// The decoders reset the target, so a reused struct carries nothing over.
func TestDecodeResetsTarget(t *testing.T) {
	var ev AgentState
	if err := DecodeAgentState([]byte(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"name":"m","proficiency":1}]}`), &ev); err != nil {
		t.Fatal(err)
	}
	if err := DecodeAgentState([]byte(`{"agent_id":"b","seq":2,"event_type":"HEARTBEAT"}`), &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Skills) != 0 || ev.RoutingState != "" {
		t.Errorf("fields carried over: %+v", ev)
	}
}

// roundTrip checks that a value a decoder accepted re-encodes (as producers
// and the simulator write it) to one accepted again, equal to the first.
func roundTrip[T any](t *testing.T, ev *T, decode func([]byte, *T) error) {
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var ev2 T
	if err := decode(out, &ev2); err != nil {
		t.Fatalf("re-encoded valid event rejected: %v\n%s", err, out)
	}
	out2, _ := json.Marshal(&ev2)
	if string(out) != string(out2) {
		t.Fatalf("round trip changed the event:\n%s\n%s", out, out2)
	}
}

func fuzzDecoder[T any, P Inbound[T]](f *testing.F, decode func([]byte, *T) error, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
		f.Add(append([]byte{0, 0, 0, 0, 1}, s...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev T
		if err := decode(b, &ev); err != nil {
			if Reason(err) == "" {
				t.Fatalf("error without reason: %v", err)
			}
			return
		}
		roundTrip(t, &ev, decode)
		// The consumer's decoder, with a clock, never panics either.
		_, _ = NewDecoder[T, P]().Decode(b, Limits{Now: time.Now(), Written: time.Now(), MaxFutureSkew: DefaultMaxFutureSkew})
	})
}

func FuzzDecodeAgentState(f *testing.F) {
	fuzzDecoder(f, DecodeAgentState,
		`{"agent_id":"acme:agent-123","seq":48211,"event_type":"STATE_CHANGE","occurred_at":"2026-11-23T12:00:00Z","routing_state":"AVAILABLE","next_routing_state":"OFFLINE","skills":[{"name":"mortgage","proficiency":4.0}],"channels":["voice"],"ttl_seconds":300}`,
		`{"agent_id":"a","seq":1,"event_type":"HEARTBEAT"}`,
		`{"agent_id":"a","event_type":"STATE_CHANGE","routing_state":"BUSY","occurred_at":"2026-11-23T12:00:00.123+01:00"}`,
		`{"agent_id":"a","skills":[{"name":"m","proficiency":-1e308}]}`,
		`{`)
}

func FuzzDecodeCall(f *testing.F) {
	fuzzDecoder(f, DecodeCall,
		`{"call_id":"c1","event_type":"ENDED","skill":"mortgage","queue_wait_ms":1200,"talk_ms":300000,"end_reason":"CUSTOMER_HANGUP","occurred_at":"2026-11-23T12:00:00Z"}`,
		`{"call_id":"c1","event_type":"OFFERED","dnis":"+18005550123","occurred_at":"2026-11-23T12:00:00Z"}`,
		`null`)
}

func FuzzDecodeOutcome(f *testing.F) {
	fuzzDecoder(f, DecodeOutcome,
		`{"call_id":"c1","disposition":"SALE","is_final":true,"revenue":{"amount_micros":5000000,"currency":"USD"},"occurred_at":"2026-11-23T12:00:00Z"}`)
}
