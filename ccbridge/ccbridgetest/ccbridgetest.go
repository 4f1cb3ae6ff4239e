// Package ccbridgetest holds the test doubles the bridge's tests share
// (ccbridge's own and httpapi/bridge's): a Sink that records what the bridge
// publishes, a Clock the test moves, readers that check every published
// record with events' decoders, and the fixtures in ccbridge/testdata. It
// imports nothing of ccbridge, so ccbridge's internal tests can use it.
//
// Goroutines: a Sink and a Clock may be used from any goroutine (the bridge
// publishes and reads the time from its own).
package ccbridgetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
)

// Sink records what the bridge publishes.
type Sink struct {
	mu   sync.Mutex
	recs []Rec
}

// Rec is one published record.
type Rec struct {
	Topic, Key string
	Value      []byte
}

// Publish records a copy of the record and reports it accepted.
func (s *Sink) Publish(topic string, key, value []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, Rec{topic, string(key), append([]byte(nil), value...)})
	return true
}

// Topic returns the records published to topic t, in order.
func (s *Sink) Topic(t string) []Rec {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Rec
	for _, r := range s.recs {
		if r.Topic == t {
			out = append(out, r)
		}
	}
	return out
}

// Len is the number of records published to any topic.
func (s *Sink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

// AgentStates decodes every agent record, checking each passes callbid's
// own decoder, and returns them with next_routing_state and raw seq.
func AgentStates(t testing.TB, s *Sink) []events.AgentState {
	t.Helper()
	var out []events.AgentState
	for _, r := range s.Topic(events.TopicAgentState) {
		var ev events.AgentState
		if err := events.DecodeAgentState(r.Value, &ev); err != nil {
			t.Fatalf("record %s does not decode as cc.agent-state.v1: %v", r.Value, err)
		}
		var a events.AgentState
		if err := json.Unmarshal(r.Value, &a); err != nil {
			t.Fatal(err)
		}
		if r.Key != a.AgentID {
			t.Errorf("key %q, agent_id %q", r.Key, a.AgentID)
		}
		out = append(out, a)
	}
	return out
}

// Calls decodes every call record with callbid's decoder.
func Calls(t testing.TB, s *Sink) []events.Call {
	t.Helper()
	var out []events.Call
	for _, r := range s.Topic(events.TopicCall) {
		var ev events.Call
		if err := events.DecodeCall(r.Value, &ev); err != nil {
			t.Fatalf("record %s does not decode as cc.call.v1: %v", r.Value, err)
		}
		if r.Key != ev.CallID {
			t.Errorf("key %q, call_id %q", r.Key, ev.CallID)
		}
		out = append(out, ev)
	}
	return out
}

// Outcomes decodes every outcome record with callbid's decoder.
func Outcomes(t testing.TB, s *Sink) []events.Outcome {
	t.Helper()
	var out []events.Outcome
	for _, r := range s.Topic(events.TopicOutcome) {
		var ev events.Outcome
		if err := events.DecodeOutcome(r.Value, &ev); err != nil {
			t.Fatalf("record %s does not decode as cc.outcome.v1: %v", r.Value, err)
		}
		out = append(out, ev)
	}
	return out
}

// Step is an agent record's event type, routing state and next routing
// state (an array, so that tests write steps unkeyed).
type Step [3]string

// CheckSteps fails t unless got are the steps of want, in order, each
// later than the one before.
func CheckSteps(t testing.TB, got []events.AgentState, want []Step) {
	t.Helper()
	if len(got) != len(want) {
		for _, g := range got {
			t.Logf("got %s %s next=%q at %s", g.EventType, g.RoutingState, g.NextRoutingState, g.OccurredAt.Format(time.RFC3339Nano))
		}
		t.Fatalf("%d agent records, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.EventType != w[0] || g.RoutingState != w[1] || g.NextRoutingState != w[2] {
			t.Errorf("record %d: %s %s next=%q, want %s %s next=%q", i, g.EventType, g.RoutingState, g.NextRoutingState, w[0], w[1], w[2])
		}
		if i > 0 && !g.OccurredAt.After(got[i-1].OccurredAt) {
			t.Errorf("record %d: occurred_at %s not after the previous %s", i, g.OccurredAt, got[i-1].OccurredAt)
		}
	}
}

// Clock is a time the test sets; Now is the bridge's clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at 2026-11-23 16:00 UTC, the fixtures' day.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC)} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Fixture returns the file name of ccbridge/testdata.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("ccbridgetest: no source path to find ccbridge/testdata from")
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(self), "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
