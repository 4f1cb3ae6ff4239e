package capacity

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/callbid/callbid/kafkaio"
)

var benchSkills = []string{"mortgage", "auto", "home", "life", "health", "travel", "energy", "legal", "solar", "medicare"}

var routingStates = []string{"AVAILABLE", "BUSY", "ACW", "RESERVED", "AVAILABLE", "BUSY", "NOT_ROUTABLE"}

// agentJSON is a realistic cc.agent-state.v1 value for agent i with 1–3
// skills at proficiencies spread over 1–5. Without occurred_at the model
// uses the receive time.
func agentJSON(dst []byte, i int, seq int64, state string) []byte {
	dst = append(dst, `{"agent_id":"acme:agent-`...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"event_type":"STATE_CHANGE","routing_state":"`...)
	dst = append(dst, state...)
	dst = append(dst, `","skills":[`...)
	for k := 0; k <= i%3; k++ {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":"`...)
		dst = append(dst, benchSkills[(i+k*3)%len(benchSkills)]...)
		dst = append(dst, `","proficiency":`...)
		dst = strconv.AppendFloat(dst, 1+float64((i*7+k)%9)/2, 'f', 1, 64)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"channels":["voice"],"ttl_seconds":300}`...)
	return dst
}

// loadedModel has nAgents agents across the ten bench skills, some calls
// waiting, and a fresh snapshot, on the real clock.
func loadedModel(b testing.TB, nAgents int) *Model {
	m := mustNew(b, Config{}, benchSkills)
	var buf []byte
	for i := range nAgents {
		buf = agentJSON(buf[:0], i, 1, routingStates[i%len(routingStates)])
		feedAgent(m, kafkaio.Message{Value: buf})
	}
	for i := range 200 {
		feedCall(m, kafkaio.Message{Value: []byte(`{"call_id":"w` + strconv.Itoa(i) + `","event_type":"QUEUED","skill":"` +
			benchSkills[i%len(benchSkills)] + `"}`)})
	}
	m.rebuild()
	if m.nAgents.Load() != int64(nAgents) {
		b.Fatalf("loaded %d agents, want %d", m.nAgents.Load(), nAgents)
	}
	return m
}

var viewSink View

func BenchmarkView(b *testing.B) {
	m := loadedModel(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	j := 0
	for b.Loop() {
		viewSink = m.View(benchSkills[j], 3, 4.5)
		if j++; j == len(benchSkills) {
			j = 0
		}
	}
}

func BenchmarkViewParallel(b *testing.B) {
	m := loadedModel(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var v View
		j := 0
		for pb.Next() {
			v = m.View(benchSkills[j], 3, 4.5)
			if j++; j == len(benchSkills) {
				j = 0
			}
		}
		_ = v
	})
}

// BenchmarkRebuild is one snapshot rebuild with 10,000 agents over 10 skills
// (1–3 skills each) and 200 waiting calls. "warm" is the steady state (λ_max
// memoised by N and AHT); "cold" clears the memo first, the cost after every
// skill's staffing changed at once.
func BenchmarkRebuild(b *testing.B) {
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			m := loadedModel(b, 10_000)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if cold {
					clear(m.lmCache)
				}
				m.rebuild()
			}
		})
	}
}

// BenchmarkHandleAgentState is consumer throughput: decode, validate and
// apply state changes for 10,000 agents round-robin (each a new seq).
// "with_run" also runs the rebuild loop at its default 20 ms, as in
// production, contending for the table mutex.
func BenchmarkHandleAgentState(b *testing.B) {
	for _, withRun := range []bool{false, true} {
		name := "alone"
		if withRun {
			name = "with_run"
		}
		b.Run(name, func(b *testing.B) {
			const n = 10_000
			m := loadedModel(b, n)
			if withRun {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go m.Run(ctx)
			}
			var buf []byte
			okBefore := m.counts[topicAgent][okEvent].Load()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			i := 0
			for b.Loop() {
				seq := int64(i/n) + 2
				buf = agentJSON(buf[:0], i%n, seq, routingStates[(i/n+i)%len(routingStates)])
				feedAgent(m, kafkaio.Message{Value: buf})
				i++
			}
			b.ReportMetric(float64(i)/time.Since(start).Seconds(), "events/s")
			if ok := m.counts[topicAgent][okEvent].Load() - okBefore; ok != uint64(i) {
				b.Fatalf("applied %d of %d events", ok, i)
			}
		})
	}
}
