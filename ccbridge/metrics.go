package ccbridge

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics registers the ccbridge_* series (the Stats counters).
func (b *Bridge) RegisterMetrics(reg prometheus.Registerer) error {
	c := func(name, help string, f func(Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ccbridge_" + name, Help: help},
			func() float64 { return float64(f(b.Stats())) })
	}
	rec := func(topic string, f func(Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ccbridge_records_total",
			Help: "Records handed to the Kafka producer, by topic.", ConstLabels: prometheus.Labels{"topic": topic}},
			func() float64 { return float64(f(b.Stats())) })
	}
	cs := []prometheus.Collector{
		c("events_total", "Native events accepted for mapping.", func(s Stats) uint64 { return s.In }),
		c("bad_inputs_total", "Malformed, unrecognised or unauthenticated inputs, skipped.", func(s Stats) uint64 { return s.Bad }),
		c("stale_events_total", "Events older than what was applied for the same agent and facet, dropped.", func(s Stats) uint64 { return s.Stale }),
		c("ignored_events_total", "Well-formed events with nothing for callbid (chat, outbound, other types).", func(s Stats) uint64 { return s.Ignored }),
		c("restamped_total", "Agent records whose occurred_at was moved forward to keep per-agent order.", func(s Stats) uint64 { return s.Restamped }),
		c("heartbeats_total", "Synthesized HEARTBEAT records (Twilio, Genesys).", func(s Stats) uint64 { return s.Heartbeats }),
		c("dropped_total", "Records the Kafka producer refused (queue full or closed).", func(s Stats) uint64 { return s.Dropped }),
		c("unmapped_dispositions_total", "Dispositions not in the dispositions table; no outcome sent.", func(s Stats) uint64 { return s.UnmappedDisposition }),
		c("skill_lookup_errors_total", "Genesys users whose skills could not be looked up.", func(s Stats) uint64 { return s.SkillLookupErrors }),
		rec("cc.agent-state.v1", func(s Stats) uint64 { return s.AgentRecords }),
		rec("cc.call.v1", func(s Stats) uint64 { return s.CallRecords }),
		rec("cc.outcome.v1", func(s Stats) uint64 { return s.OutcomeRecords }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ccbridge_agents", Help: "Agents the bridge keeps state for."},
			func() float64 { b.mu.Lock(); defer b.mu.Unlock(); return float64(len(b.agents)) }),
	}
	for _, col := range cs {
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("cannot register ccbridge metrics: %w", err)
		}
	}
	return nil
}
