package capacity

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics registers the model's collectors: event counts per topic
// and reason, feed freshness, and per-skill staffing and headroom read from
// the current snapshot at scrape time.
func (m *Model) RegisterMetrics(reg prometheus.Registerer) error {
	var cs []prometheus.Collector
	topics := [2]string{"cc.agent-state.v1", "cc.call.v1"}
	for ti, topic := range topics {
		for r := range numReasons {
			ctr := &m.counts[ti][r]
			var name, help string
			switch {
			case r == okEvent:
				name, help = "callbid_capacity_events_applied_total", "Events applied to the capacity model."
			default:
				name, help = "callbid_capacity_ignored_events_total", "Valid events not applied (old seq or time, expired, untracked skill, full table, repeated), by reason. Bad records are callbid_events_bad_total."
			}
			labels := prometheus.Labels{"topic": topic}
			if r != okEvent {
				labels["reason"] = reasonLabel[r]
			}
			cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: name, Help: help, ConstLabels: labels,
			}, func() float64 { return float64(ctr.Load()) }))
		}
	}
	cs = append(cs,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "callbid_capacity_agents_expired_total",
			Help: "Staffed agents dropped for silence past their ttl_seconds.",
		}, func() float64 { return float64(m.expired.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "callbid_capacity_waiting_timeouts_total",
			Help: "Waiting calls forgotten after waiting_timeout without an answer or end.",
		}, func() float64 { return float64(m.waitTimeouts.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "callbid_capacity_skills_dropped_total",
			Help: "Agent skills ignored because no campaign uses them.",
		}, func() float64 { return float64(m.skillDropped.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "callbid_capacity_agents_evicted_total",
			Help: "Agents evicted from a full agent table (max_agents): expired first, then unstaffed.",
		}, func() float64 { return float64(m.evicted.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callbid_capacity_agents",
			Help: "Agents in the table, including logged-out ones kept for seq ordering until their TTL.",
		}, func() float64 { return float64(m.nAgents.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callbid_capacity_stale",
			Help: "1 when the agent-state feed is stale (no event for stale_after) and capacity campaigns do not bid.",
		}, func() float64 {
			if m.snap.Load().stale {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callbid_capacity_feed_age_seconds",
			Help: "Seconds since the last valid agent-state event (-1 before the first).",
		}, func() float64 {
			last := m.lastAgentEvent.Load()
			if last == 0 {
				return -1
			}
			return float64(m.now().UnixNano()-last) / 1e9
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "callbid_capacity_rebuilds_total",
			Help: "Snapshots built.",
		}, func() float64 { return float64(m.rebuilds.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callbid_capacity_rebuild_seconds",
			Help: "Duration of the last snapshot rebuild.",
		}, func() float64 { return float64(m.rebuildNanos.Load()) / 1e9 }),
		skillCollector{m},
	)
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cannot register capacity metrics: %w", err)
	}
	return nil
}

// skillCollector reports per-skill values from the current snapshot.
type skillCollector struct{ m *Model }

type skillMetric struct {
	desc *prometheus.Desc
	get  func(*skillView) float64
}

var skillMetrics = func() []skillMetric {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("callbid_capacity_skill_"+name, help, []string{"skill"}, nil)
	}
	return []skillMetric{
		{d("staffed_agents", "Staffed agents (AVAILABLE+RESERVED+BUSY+ACW) with the skill."), func(v *skillView) float64 { return float64(v.staffed) }},
		{d("available_agents", "AVAILABLE agents with the skill."), func(v *skillView) float64 { return float64(v.available) }},
		{d("reserved_agents", "RESERVED agents with the skill."), func(v *skillView) float64 { return float64(v.reserved) }},
		{d("busy_agents", "BUSY agents with the skill."), func(v *skillView) float64 { return float64(v.busy) }},
		{d("acw_agents", "Agents in after-call work with the skill."), func(v *skillView) float64 { return float64(v.acw) }},
		{d("staffed_proficiency_weighted_agents", "Staffed agents weighted by proficiency in the skill (the sum of their proficiencies)."), func(v *skillView) float64 { return v.staffedWeighted }},
		{d("available_proficiency_weighted_agents", "Available agents weighted by proficiency in the skill (the sum of their proficiencies)."), func(v *skillView) float64 { return v.availableWeighted }},
		{d("waiting_calls", "Calls queued or offered and not yet answered."), func(v *skillView) float64 { return float64(v.waiting) }},
		{d("oldest_wait_seconds", "Wait of the oldest waiting call."), func(v *skillView) float64 { return v.oldestWait.Seconds() }},
		{d("handle_time_seconds", "Average handle time (talk + after-call work), moving average."), func(v *skillView) float64 { return v.ahtSec }},
		{d("arrival_calls_per_minute", "Arrival rate, moving average."), func(v *skillView) float64 { return v.arrivalPerMin }},
		{d("load_arrival_calls_per_minute", "Arrival rate averaged over one handle time (at most arrival_window): the headroom gate reads the lower of it and the arrival rate."), func(v *skillView) float64 { return v.loadPerMin }},
		{d("committed_calls_per_minute", "Calls committed by won impressions, from feedback."), func(v *skillView) float64 { return v.committedPerMin }},
		{d("lambda_max_calls_per_minute", "Largest arrival rate meeting the service level with all staffed agents."), func(v *skillView) float64 { return v.lambdaMax[0] }},
		{d("headroom_calls_per_minute", "Extra calls per minute at the service level with all staffed agents."), func(v *skillView) float64 { return v.headroom[0] }},
		{d("factor", "Capacity factor at proficiency 0, premium not applied."), func(v *skillView) float64 { return v.factor[0] }},
	}
}()

// availAtLeastDesc shows, per skill and proficiency half step, the
// available agents a campaign's premium is judged on (it applies while
// those at its premium_proficiency number at least premium.min_available).
var availAtLeastDesc = prometheus.NewDesc("callbid_capacity_skill_available_agents_at_least",
	"AVAILABLE agents with the skill at proficiency at least the label (half steps 0.5 to 5): a campaign's premium applies while those at its premium_proficiency number at least capacity.premium.min_available.",
	[]string{"skill", "proficiency"}, nil)

// proficiencyLabels are the label values of buckets 1..numBuckets-1.
var proficiencyLabels = func() (l [numBuckets]string) {
	for b := range l {
		l[b] = strconv.FormatFloat(float64(b)/2, 'f', -1, 64)
	}
	return l
}()

func (skillCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, sm := range skillMetrics {
		ch <- sm.desc
	}
	ch <- availAtLeastDesc
}

func (c skillCollector) Collect(ch chan<- prometheus.Metric) {
	for name, v := range c.m.snap.Load().skills {
		for _, sm := range skillMetrics {
			// Skill names come from events; one that is not a valid label
			// value is skipped rather than panicking the scrape.
			if cm, err := prometheus.NewConstMetric(sm.desc, prometheus.GaugeValue, sm.get(v), name); err == nil {
				ch <- cm
			}
		}
		for b := 1; b < numBuckets; b++ {
			if cm, err := prometheus.NewConstMetric(availAtLeastDesc, prometheus.GaugeValue, float64(v.availAtLeast[b]), name, proficiencyLabels[b]); err == nil {
				ch <- cm
			}
		}
	}
}
