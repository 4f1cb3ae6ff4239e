package kafkaio

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/rs/zerolog"
)

// agentEvents makes n agent-state values for agents distinct agents, as the
// contact center would send them (about 230 bytes each).
func agentEvents(n, agents int) (keys, values [][]byte) {
	states := []string{events.StateAvailable, events.StateBusy, events.StateACW, events.StateNotRoutable}
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("acme:agent-%05d", i%agents)
		ev := events.AgentState{
			AgentID: id, Seq: int64(i), EventType: events.AgentStateChange, OccurredAt: t0.Add(time.Duration(i) * time.Millisecond),
			RoutingState: states[i%len(states)], Skills: []events.AgentSkill{{Name: "mortgage", Proficiency: 4}, {Name: "legal", Proficiency: 2.5}},
			Channels: []string{"voice"}, TTLSeconds: 300,
		}
		b, _ := json.Marshal(&ev)
		keys, values = append(keys, []byte(id)), append(values, b)
	}
	return keys, values
}

func produceAll(b *testing.B, cfg Config, topic string, keys, values [][]byte) time.Duration {
	b.Helper()
	cfg.QueueSize = len(keys)
	p := NewProducer(cfg, zerolog.Nop())
	start := time.Now()
	for i := range keys {
		if !p.Publish(topic, keys[i], values[i]) {
			b.Fatal("dropped")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if st := p.Stats(); st.Written != uint64(len(keys)) {
		b.Fatalf("written %d of %d", st.Written, len(keys))
	}
	return time.Since(start)
}

// BenchmarkConsumerReplay replays 50,000 agent events of 10,000 agents from
// the embedded broker over TCP: one op is a fresh consumer reading until
// CaughtUp, the handler decoding every value with DecodeAgentState.
func BenchmarkConsumerReplay(b *testing.B) {
	const n, agents = 50_000, 10_000
	e := startBroker(b, "127.0.0.1:0", "")
	defer e.Close()
	cfg := testConfig(e.Addr())
	keys, values := agentEvents(n, agents)
	took := produceAll(b, cfg, events.TopicAgentState, keys, values)
	b.Logf("produced %d events in %s (%.0f events/s)", n, took, float64(n)/took.Seconds())
	for _, decode := range []bool{false, true} {
		b.Run(fmt.Sprintf("decode=%v", decode), func(b *testing.B) {
			b.ReportAllocs()
			var total time.Duration
			for b.Loop() {
				var got atomic.Int64
				var ev events.AgentState
				c := NewConsumer(cfg, events.TopicAgentState, func(m Message) {
					if decode {
						if err := events.DecodeAgentState(m.Value, &ev); err != nil {
							panic(err)
						}
					}
					got.Add(1)
				}, zerolog.Nop())
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				start := time.Now()
				go func() { c.Run(ctx); close(done) }()
				for !c.CaughtUp() {
					time.Sleep(100 * time.Microsecond)
				}
				total += time.Since(start)
				cancel()
				<-done
				if got.Load() != n {
					b.Fatalf("caught up after %d of %d", got.Load(), n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "events/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkFollowLatency publishes 5,000 agent events/s for the benchmark's
// duration and measures publish-to-handler latency through the producer,
// the broker and the consumer.
func BenchmarkFollowLatency(b *testing.B) {
	e := startBroker(b, "127.0.0.1:0", "")
	defer e.Close()
	cfg := testConfig(e.Addr())
	cfg.BatchTimeout = 0 // the default, 10ms: latency as deployed
	keys, values := agentEvents(10_000, 10_000)
	sent := make([]int64, len(keys)) // unix nanos by seq
	var lat []time.Duration
	latCh := make(chan time.Duration, 1<<16)
	c := NewConsumer(cfg, events.TopicAgentState, func(m Message) {
		var ev events.AgentState
		if err := events.DecodeAgentState(m.Value, &ev); err != nil {
			panic(err)
		}
		latCh <- time.Duration(time.Now().UnixNano() - atomic.LoadInt64(&sent[ev.Seq]))
	}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	for !c.CaughtUp() {
		time.Sleep(time.Millisecond)
	}
	p := NewProducer(cfg, zerolog.Nop())
	defer p.Close(context.Background())
	i := 0
	start := time.Now()
	b.ResetTimer()
	for b.Loop() { // one op = one event, paced at 5,000/s
		if d := time.Until(start.Add(time.Duration(i) * 200 * time.Microsecond)); d > 0 {
			time.Sleep(d)
		}
		k := i % len(keys)
		atomic.StoreInt64(&sent[k], time.Now().UnixNano())
		p.Publish(events.TopicAgentState, keys[k], values[k])
		i++
		if k == len(keys)-1 {
			// Wait for this lap before reusing seq slots.
			for range len(keys) {
				lat = append(lat, <-latCh)
			}
		}
	}
	for range i % len(keys) {
		lat = append(lat, <-latCh)
	}
	b.StopTimer()
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "events/s")
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
