package events

// Topic names (docs/events.md, plus callbid's own internal topics).
const (
	TopicAgentState  = "cc.agent-state.v1"
	TopicCall        = "cc.call.v1"
	TopicOutcome     = "cc.outcome.v1"
	TopicAttribution = "callbid.attribution.v1"
	TopicDemand      = "callbid.demand.v1"
	// TopicLeases is compacted, keyed by number(+ext): lease and release
	// events replayed at start so leases survive a restart.
	TopicLeases = "callbid.leases.v1"
	// TopicImpressions carries won and billed impressions from the notice
	// handler, keyed by bid id; feedback replays it to rebuild hit rates.
	TopicImpressions = "callbid.impressions.v1"
	// TopicBids carries feedback's bid-path counters (bids and matching
	// requests seen, per report row and demand interval) as periodic deltas,
	// keyed by the callbid instance, so they survive a restart by replay.
	TopicBids = "callbid.bids.v1"
)

// AllTopics lists every topic callbid reads or writes; the embedded broker
// seeds them all. callbid checks at start the ones Required names.
var AllTopics = []string{
	TopicAgentState, TopicCall, TopicOutcome,
	TopicAttribution, TopicDemand, TopicLeases, TopicImpressions, TopicBids,
	TopicSchedule,
}

// Required lists the topics callbid checks at start: AllTopics, less
// cc.schedule.v1 unless schedules are read (capacity.channels.schedules),
// so a cluster without a workforce-management feed still starts.
func Required(schedules bool) []string {
	out := make([]string, 0, len(AllTopics))
	for _, t := range AllTopics {
		if t != TopicSchedule || schedules {
			out = append(out, t)
		}
	}
	return out
}

// compacted are the topics holding the latest record per key; created with
// cleanup.policy=compact.
var compacted = map[string]bool{TopicAgentState: true, TopicLeases: true, TopicOutcome: true, TopicSchedule: true}

// Compacted reports whether topic keeps only the latest record per key
// (cleanup.policy=compact): agent state per agent, leases per number,
// outcomes per call and schedules per agent or skill.
func Compacted(topic string) bool { return compacted[topic] }
