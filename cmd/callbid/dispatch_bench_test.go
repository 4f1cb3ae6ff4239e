package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/callbid/callbid"
	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/feedback"
	"github.com/callbid/callbid/numbers"
	"github.com/rs/zerolog"
)

// nopPub drops what the parts publish: the benchmark measures the inbound
// side only.
type nopPub struct{}

func (nopPub) Publish(string, []byte, []byte) bool { return true }

// dispatchParts are the parts that learn from the contact center's topics,
// built from the embedded default config as start does.
func dispatchParts(b *testing.B) (*capacity.Model, *numbers.Pools, *feedback.Feedback) {
	b.Helper()
	env := map[string]string{"CALLBID_CALLS_TOKEN": "benchtok", "CALLBID_NOTICE_SECRET": "benchsecret0123456789"}
	cfg, err := callbid.Load("../../configs/callbid.yaml", func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	model := capacity.New(cfg.Capacity, cfg.Skills(), zerolog.Nop())
	pools, err := numbers.New(cfg.Numbers, nopPub{}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	fb, err := feedback.New(cfg.Feedback, cfg.FeedbackCampaigns(), model, nopPub{}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	return model, pools, fb
}

// inboundRecords makes n records of topic as a contact center sends them:
// agent-state changes of 10,000 agents, call transitions (OFFERED, ANSWERED,
// ENDED) of distinct calls, final outcomes.
func inboundRecords(topic string, n int) []events.Message {
	t0 := time.Now().Add(-time.Minute).UTC()
	states := []string{events.StateAvailable, events.StateBusy, events.StateACW, events.StateNotRoutable}
	calls := []string{events.CallOffered, events.CallAnswered, events.CallEnded}
	out := make([]events.Message, n)
	for i := range out {
		var v any
		switch topic {
		case events.TopicAgentState:
			v = events.AgentState{AgentID: fmt.Sprintf("acme:agent-%05d", i%10000), Seq: int64(i + 1),
				EventType: events.AgentStateChange, OccurredAt: t0.Add(time.Duration(i) * time.Microsecond),
				RoutingState: states[i%len(states)], Skills: []events.AgentSkill{{Name: "mortgage", Proficiency: 4}, {Name: "insurance", Proficiency: 2.5}},
				Channels: []string{"voice"}, TTLSeconds: 300}
		case events.TopicCall:
			v = events.Call{CallID: fmt.Sprintf("call-%07d", i/3), EventType: calls[i%3], DNIS: "+18005550110", Ext: "101",
				ANI: "+14155550188", OccurredAt: t0.Add(time.Duration(i) * time.Microsecond), Queue: "q1", Skill: "mortgage",
				AgentID: "acme:agent-00001", QueueWaitMS: 1200, TalkMS: int64(60_000 * (i % 3 / 2)), EndReason: events.EndCustomerHangup}
		case events.TopicOutcome:
			v = events.Outcome{CallID: fmt.Sprintf("call-%07d", i), Disposition: events.DispositionSale, IsFinal: true,
				Revenue: events.Money{AmountMicros: 250_000_000, Currency: "USD"}, OccurredAt: t0.Add(time.Duration(i) * time.Microsecond)}
		}
		b, _ := json.Marshal(v)
		out[i] = events.Message{Topic: topic, Partition: i % 4, Offset: int64(i), Value: b, Time: t0}
	}
	return out
}

// BenchmarkDispatch is decode + dispatch per inbound topic: every record
// handed to every part that learns from it, as the consumer's goroutine
// does (no Kafka).
//
//	go test ./cmd/callbid -run XXX -bench Dispatch -benchtime 200000x
func BenchmarkDispatch(b *testing.B) {
	for _, topic := range []string{events.TopicAgentState, events.TopicCall, events.TopicOutcome} {
		b.Run(topic, func(b *testing.B) {
			model, pools, fb := dispatchParts(b)
			handle := dispatcher(topic, model, pools, fb)
			msgs := inboundRecords(topic, 300_000)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				handle(msgs[i%len(msgs)])
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
