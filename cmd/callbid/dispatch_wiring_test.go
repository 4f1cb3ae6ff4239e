package main

import (
	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/feedback"
	"github.com/callbid/callbid/kafkaio"
	"github.com/callbid/callbid/numbers"
)

// dispatcher is the per-record step of topic's consumer as start wires it:
// one decode and check, then every part's handler.
func dispatcher(topic string, m *capacity.Model, p *numbers.Pools, f *feedback.Feedback) func(kafkaio.Message) {
	var d func(kafkaio.Message) error
	var cfg kafkaio.Config
	switch topic {
	case events.TopicAgentState:
		d = kafkaio.NewDispatch[events.AgentState](cfg, m.HandleAgentState)
	case events.TopicCall:
		d = kafkaio.NewDispatch[events.Call](cfg, m.HandleCall, p.HandleCallEvent, f.HandleCall)
	case events.TopicOutcome:
		d = kafkaio.NewDispatch[events.Outcome](cfg, p.HandleOutcome, f.HandleOutcome)
	case events.TopicLeases:
		return p.ApplyLeaseEvent
	case events.TopicImpressions:
		return f.HandleImpression
	case events.TopicBids:
		return f.HandleBids
	}
	return func(msg kafkaio.Message) {
		if err := d(msg); err != nil {
			panic(err) // the benchmark's records are all valid
		}
	}
}
