package main

import (
	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/feedback"
	"github.com/callbid/callbid/numbers"
)

// dispatcher is the per-record handling of topic as app.consume wires it.
func dispatcher(topic string, m *capacity.Model, p *numbers.Pools, f *feedback.Feedback) func(events.Message) {
	var hs []func(events.Message)
	switch topic {
	case events.TopicAgentState:
		hs = append(hs, m.HandleAgentState)
	case events.TopicCall:
		hs = append(hs, m.HandleCall, p.HandleCallEvent, f.HandleCall)
	case events.TopicOutcome:
		hs = append(hs, p.HandleOutcome, f.HandleOutcome)
	}
	return func(msg events.Message) {
		for _, h := range hs {
			h(msg)
		}
	}
}
