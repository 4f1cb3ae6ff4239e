package events

import (
	"encoding/json"
	"errors"
	"testing"
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
	f(`{"agent_id":"a",`, ReasonMalformedJSON)
	f(`[]`, ReasonMalformedJSON)
	f(`{"agent_id":"a","seq":"1"}`, ReasonMalformedJSON)
	f(`{"agent_id":"a","event_type":"LOGIN","routing_state":"AVAILABLE","occurred_at":"yesterday"}`, ReasonMalformedJSON)
	f(`{"seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE"}`, ReasonMissingAgentID)
	f(`{"agent_id":"a","seq":-1,"event_type":"LOGIN","routing_state":"AVAILABLE"}`, ReasonNegativeSeq)
	f(`{"agent_id":"a","seq":1,"event_type":"DANCE","routing_state":"AVAILABLE"}`, ReasonUnknownEventType)
	f(`{"agent_id":"a","seq":1,"event_type":"STATE_CHANGE","routing_state":"NAPPING"}`, ReasonUnknownState)
	f(`{"agent_id":"a","seq":1,"event_type":"STATE_CHANGE"}`, ReasonUnknownState)
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"name":"m","proficiency":-0.5}]}`, ReasonNegativeProficiency)
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"name":"m","proficiency":5.5}]}`, ReasonProficiencyOutOfRange)
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","skills":[{"proficiency":3}]}`, ReasonMissingSkillName)
	f(`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"AVAILABLE","ttl_seconds":-3}`, ReasonNegativeTTL)
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
	call(`{"call_id":"c1","event_type":"ENDED","end_reason":"SOMETHING_NEW"}`, "")
	call(`{"event_type":"OFFERED"}`, ReasonMissingCallID)
	call(`{"call_id":"c1","event_type":"RINGING"}`, ReasonUnknownEventType)
	call(`{"call_id":"c1","event_type":"ENDED","talk_ms":-1}`, ReasonNegativeDuration)
	call(`nope`, ReasonMalformedJSON)

	out := func(in, reason string) {
		t.Helper()
		var ev Outcome
		if got := Reason(DecodeOutcome([]byte(in), &ev)); got != reason {
			t.Errorf("outcome %s: reason %q, want %q", in, got, reason)
		}
	}
	out(`{"call_id":"c1","disposition":"SALE","is_final":true,"revenue":{"amount_micros":5000000,"currency":"USD"}}`, "")
	out(`{"disposition":"SALE"}`, ReasonMissingCallID)
	out(`{"call_id":"c1","disposition":"MAYBE"}`, ReasonUnknownDisposition)
	out(`{"call_id":"c1","disposition":"SALE","revenue":{"amount_micros":-1}}`, ReasonNegativeRevenue)

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

	var a Attribution
	if got := Reason(DecodeAttribution([]byte(`{"dnis":"+1"}`), &a)); got != ReasonMissingCallID {
		t.Errorf("attribution reason %q", got)
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

func FuzzDecodeAgentState(f *testing.F) {
	f.Add([]byte(`{"agent_id":"acme:agent-123","seq":48211,"event_type":"STATE_CHANGE","occurred_at":"2026-11-23T12:00:00Z","routing_state":"AVAILABLE","skills":[{"name":"mortgage","proficiency":4.0}],"channels":["voice"],"ttl_seconds":300}`))
	f.Add([]byte(`{"agent_id":"a","seq":1,"event_type":"HEARTBEAT"}`))
	f.Add([]byte(`{"agent_id":"a","skills":[{"name":"m","proficiency":-1e308}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev AgentState
		err := DecodeAgentState(b, &ev)
		if err != nil {
			if Reason(err) == "" {
				t.Fatalf("error without reason: %v", err)
			}
			return
		}
		// A valid event re-encodes to one that is valid again.
		out, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		var ev2 AgentState
		if err := DecodeAgentState(out, &ev2); err != nil {
			t.Fatalf("re-encoded valid event rejected: %v\n%s", err, out)
		}
	})
}

func FuzzDecodeCall(f *testing.F) {
	f.Add([]byte(`{"call_id":"c1","event_type":"ENDED","skill":"mortgage","queue_wait_ms":1200,"talk_ms":300000,"end_reason":"CUSTOMER_HANGUP"}`))
	f.Add([]byte(`{"call_id":"c1","event_type":"OFFERED","dnis":"+18005550123"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Call
		if err := DecodeCall(b, &ev); err != nil && Reason(err) == "" {
			t.Fatalf("error without reason: %v", err)
		}
	})
}

func FuzzDecodeOutcome(f *testing.F) {
	f.Add([]byte(`{"call_id":"c1","disposition":"SALE","is_final":true,"revenue":{"amount_micros":5000000,"currency":"USD"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Outcome
		if err := DecodeOutcome(b, &ev); err != nil && Reason(err) == "" {
			t.Fatalf("error without reason: %v", err)
		}
	})
}
