package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid"
	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/feedback"
	"github.com/callbid/callbid/kafkaio"
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
	model, err := capacity.New(cfg.Capacity, cfg.Skills(), zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
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
func inboundRecords(topic string, n int) []kafkaio.Message {
	t0 := time.Now().Add(-time.Minute).UTC()
	states := []string{events.StateAvailable, events.StateBusy, events.StateACW, events.StateNotRoutable}
	calls := []string{events.CallOffered, events.CallAnswered, events.CallEnded}
	out := make([]kafkaio.Message, n)
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
		out[i] = kafkaio.Message{Topic: topic, Partition: i % 4, Offset: int64(i), Value: b, Time: t0}
	}
	return out
}

// ownRecords makes n records of one of callbid's own topics as another
// callbid instance writes them: leases of the default config's extension
// numbers, bills, bid tallies. The JSON is spelled out so the same records
// can be fed to the hand-written decoders these topics had before events
// typed them.
func ownRecords(topic string, n int) []kafkaio.Message {
	t0 := time.Now().Add(-time.Minute).UTC()
	out := make([]kafkaio.Message, n)
	for i := range out {
		var key, v string
		switch topic {
		case events.TopicLeases:
			key = fmt.Sprintf("+18005550110;ext=%d", 100+i%900)
			ns := t0.UnixNano() + int64(i)
			v = fmt.Sprintf(`{"o":"other-instance","pool":"mortgage-pool","gen":%d,"st":"leased","res":%d,"fl":0,`+
				`"won":%d,"end":%d,"c":"mortgage-refi","p":"pub-finance-daily","x":"demo","k":"mortgage",`+
				`"r":"req-%d","i":"1","b":"bid-%d","sa":"site-42","pr":12500000,"ip":13546270123476151345,"ifa":0,`+
				`"crid":"mortgage-banner-300x250","cur":"USD","cc":"USA","rg":"CA","dt":4,"cp":9750000}`,
				i+1, ns, ns+1e9, ns+int64(20*time.Minute), i, i)
		case events.TopicImpressions:
			key = fmt.Sprintf("bid-%07d", i)
			v = fmt.Sprintf(`{"bid_id":"%s","kind":"bill","campaign_id":"mortgage-refi","publisher_id":"pub-finance-daily",`+
				`"exchange":"demo","skill":"mortgage","price_micros":12500000,"currency":"USD","at":"%s","ip_hash":13546270123476151345}`,
				key, t0.Add(time.Duration(i)*time.Microsecond).Format(time.RFC3339Nano))
		case events.TopicBids:
			key = "other-instance"
			v = fmt.Sprintf(`{"o":"other-instance","at":"%s","seen":912,"bids":201,`+
				`"rows":[{"h":%d,"c":"mortgage-refi","p":"pub-finance-daily","x":"demo","b":201}],`+
				`"demand":[{"s":"mortgage","start":%d,"seen":912,"bids":201}]}`,
				t0.Format(time.RFC3339Nano), t0.Unix()/3600, t0.Unix()/900*900)
		}
		out[i] = kafkaio.Message{Topic: topic, Partition: i % 4, Offset: int64(i), Key: []byte(key), Value: []byte(v), Time: t0}
	}
	return out
}

// BenchmarkDispatch is decode + dispatch per topic callbid reads: every
// record handed to every part that learns from it, as the consumer's
// goroutine does (no Kafka). The bidder's share of impressions (budgets) is
// not included: it needs a bidder.
//
//	go test ./cmd/callbid -run XXX -bench Dispatch -benchtime 200000x
func BenchmarkDispatch(b *testing.B) {
	for _, topic := range []string{events.TopicAgentState, events.TopicCall, events.TopicOutcome,
		events.TopicLeases, events.TopicImpressions, events.TopicBids} {
		b.Run(topic, func(b *testing.B) {
			model, pools, fb := dispatchParts(b)
			handle := dispatcher(topic, model, pools, fb)
			var msgs []kafkaio.Message
			if strings.HasPrefix(topic, "cc.") {
				msgs = inboundRecords(topic, 300_000)
			} else {
				msgs = ownRecords(topic, 300_000)
			}
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
