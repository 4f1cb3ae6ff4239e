// Package capacity owns the live skilled-agent capacity model: it turns
// contact-center agent states (cc.agent-state.v1) and call transitions
// (cc.call.v1) into per-skill headroom — how many more calls per minute the
// right agents can answer at the service-level target — and a capacity
// factor that scales each bid.
//
// # Goroutines
//
//   - Consumer goroutines (one per topic, from package kafkaio) call
//     HandleAgentState and HandleCall. They update the agent and call tables
//     under a mutex that the bid path never takes.
//   - Run, one goroutine, rebuilds an immutable snapshot at most every
//     rebuild_interval (default 20 ms) after a change, and at least every
//     refresh_interval (1 s) so arrival rates decay, committed calls,
//     agent TTLs, waiting-call timeouts and the deadman show. The first
//     change after a quiet period is rebuilt at once.
//   - The bid path calls View (and feedback's pacing calls Headroom): one
//     atomic.Pointer load and one map lookup, no lock, no allocation.
//
// # Agents
//
// The latest state per agent wins by seq; an older or equal seq is ignored
// and counted (old_seq, duplicate_seq). LOGOUT, OFFLINE and NOT_ROUTABLE
// agents are not staffed; logged-out agents stay in the table until their
// TTL so a replayed older event cannot resurrect them. An agent not heard
// from within ttl_seconds (default_agent_ttl when absent) is dropped;
// "heard" is the event's occurred_at, clamped to now, so history replayed
// from the compacted topic at start does not count as live staff. A
// HEARTBEAT without routing_state keeps the state; an event without skills
// keeps the skills. Per skill the model keeps staffed (AVAILABLE + RESERVED +
// BUSY + ACW), available, reserved, busy and ACW counts, proficiency-weighted
// sums, and, for thresholds 0, 0.5, …, 5.0, the staffed and available agents
// at or above each threshold. A campaign's minimum proficiency is rounded UP
// to the next threshold (3.2 counts agents ≥ 3.5), never counting an agent
// below the requirement.
//
// Capacity is counted apart from staffing. An agent whose event carries
// next_routing_state OFFLINE or NOT_ROUTABLE takes no further call: it stays
// staffed (for metrics) but adds no capacity; a later event without it
// (or with AVAILABLE) restores it.
//
// # Agents with several skills
//
// An agent with k skills adds 1/k of an agent to each skill's capacity (at
// its proficiency in that skill), so across skills it is one agent, never k.
// The honest figure is the share of its time each skill's calls take; that
// share is not in the feed before the agent has taken calls and shifts with
// the routing policy, and counting the agent in full for every skill buys
// the same agent's time several times over — the failure this rule exists
// to prevent. The equal split is conservative for a skill whose sister
// skills are quiet (it undercounts), never optimistic by more than the
// pooling gain of a shared queue. λ_max for a fractional number of agents is
// interpolated between the whole numbers around it.
//
// # Calls
//
// The first OFFERED or QUEUED of a call id is one arrival: it adds 1/τ to
// two exponentially decaying rates (a steady λ reads λ in both): λ_now with
// τ = arrival_window and λ_load with τ = the skill's handle time (at most
// arrival_window; see Headroom), and it starts a waiting call. ANSWERED or ENDED stops the wait. ENDED with
// talk_ms is one handle-time sample, ring + talk + ACW, where ring and ACW
// are the mean time agents spent in RESERVED and in ACW over their last
// handle_time_window (20) periods (seeded with 0 and default_after_call_work).
// Ring and ACW are the skill's own once three periods of its single-skill
// agents were seen (a fast skill's wrap-up says nothing of a slow one's).
// The skill's handle time is the mean of its last handle_time_window samples
// with its seed (skill_handle_times, else default_handle_time) weighing as
// two: it follows the feed within about 20 calls and forgets an old regime
// completely after them. Capacity uses that mean plus half its standard
// error: 20 near-exponential talk times leave ±20% noise, and erring high on
// handle time errs low on capacity. While calls are in progress, the talk
// part also counts them (estimate.go, talkRing): over the last 256 calls
// answered, talk seen (calls in progress for the time they have lasted) ÷
// talks ended, seeded as 20 calls, replaces the window's mean while calls
// are in progress (at most twice that mean: a talk of fixed length does not
// end at a constant rate, as the estimate assumes). In a cold center the first
// calls to end are the short ones, and the window alone reads the handle
// time a third of its true value. Answered calls stay in the call table
// until they end (at most 4 h). LambdaMax exposes the capacity fact. An ENDED with end_reason ABANDONED_IN_QUEUE adds
// to the skill's abandonment rate (same decay as λ_now). Calls waiting
// longer than waiting_timeout are forgotten (counted).
//
// # Headroom
//
// With N capacity agents at or above the requirement (above), A = λ·AHT Erlangs, the
// Erlang-B recursion B(0)=1, B(k)=A·B(k−1)/(k+A·B(k−1)), and Erlang C
// C = N·B/(N − A·(1 − B)), the service level is
//
//	SL(t) = 1 − C·exp(−(N − A)·t/AHT)
//
// λ_max is the largest λ with SL(answer_time) ≥ target and A/N ≤
// max_occupancy, by bisection on A (SL falls with A). Then
//
//	headroom = λ_max − λ_now − committed − waiting/waiting_horizon − abandoning   (calls/min)
//
// (abandoning: callers giving up in queue per minute, service already lost).
// where committed comes from Commitments (nil = 0, and callbid leaves it
// nil: calls bought but not yet arrived are pacing's alone, see feedback). All of the skill's arrivals are charged to every
// proficiency subset, which is conservative. λ_max is memoised by (N, AHT
// rounded to 1 s). Headroom reads λ_now; so does pacing's budget, from
// Load (λ_max, λ_now and the backlog as separate facts: pacing takes the
// calls it bought, averaged over the same window, out of λ_now itself).
//
// The gate. The factor (below) reads the same formula with λ_now replaced
// by min(λ_now, λ_load). The calls the agents carry now arrived within
// about one handle time: with handle times S, the calls in service at t
// number ∫λ(t−s)·P(S>s) ds (no call waiting), AHT × λ_load for exponential S. Calls
// older than a few handle times have left the agents, so after a staffing
// drop, once the arrivals fall (calls already bought still come first),
// λ_load falls to the new level within about a handle time, while λ_now,
// a 2-minute memory, held the old staffing's arrivals and kept the gate
// shut for most of a 2-minute phase with the bucket full
// (TestGateOpensWithinAHandleTimeOfAFall; the closed loop in the README).
// The lower of the two, not λ_load alone: λ_load's relative noise is
// 1/√(2·λ·τ) — the offered load's own, 1/√(2A) for A Erlangs, about 0.45
// at 4 agents on a 24 s skill — so alone it shut the gate on chance
// clusters of two or three calls (in the closed loop: as many calls
// answered on average as the lower of the two, fewer where headroom is
// thin). The price is a bias: in steady state the gate reads on
// average about 0.4 of λ_load's standard deviation below λ_now, so it is
// more open than Headroom; pacing's bucket, refilled from Headroom, sets
// the volume there. On a rise the gate is as slow as λ_now (a queue
// that builds shows in waiting/waiting_horizon and waitingTooLong). For a
// skill whose handle time is arrival_window or longer the two are equal.
//
// # Factor
//
// The factor is a linear ramp of the gate's headroom (above) with two
// knobs (factor.min_headroom m, default 0, and factor.full_headroom f,
// default 1 call/min):
//
//	factor = 0                       if headroom ≤ m   (View.State = NoHeadroom)
//	factor = (headroom − m)/(f − m)  if m < headroom < f
//	factor = 1                       if headroom ≥ f
//
// View.PremiumFree is set when at least premium.min_available (default 1)
// agents at or above the campaign's premium proficiency are AVAILABLE; the
// bidder then applies the campaign's premium_multiplier (capacity applies
// none: Factor stays in [0,1]). The bidder alone turns NoHeadroom and Stale
// into its no-bid reasons and nbr codes. When the oldest waiting call has
// waited longer than service_level.answer_time, the skill's factor is 0
// (unless bid_while_queue_late) and Headroom reports waitingTooLong.
//
// # Worked example
//
// Skill "mortgage": 25 staffed agents, 20 of them at proficiency ≥ 3.0 (one
// at 4.5 is AVAILABLE); AHT 360 s; target 80% in 20 s; max occupancy 0.85;
// λ_now 1.5 calls/min (λ_load the same: with AHT above arrival_window
// both average over 2 min); committed 0.3 calls/min; no call waiting. A campaign
// needs proficiency 3.0, premium 4.5:
//
//	N = 20 → λ_max = 2.6582/min (A = 15.95 Erl, SL = 0.800, occupancy 0.80 < 0.85)
//	headroom = 2.6582 − 1.5 − 0.3 − 0 = 0.8582 calls/min
//	factor = (0.8582 − 0)/(1 − 0) = 0.8582; the 4.5 agent is free → PremiumFree
//	(a campaign premium_multiplier of 1.2 then bids 0.8582 × 1.2 = 1.0299 × base)
//
// With one call waiting (horizon 1 min) the headroom is −0.1418: no bid,
// NoHeadroom (the bidder answers nbr 500). A campaign at proficiency 0 sees N = 25, λ_max = 3.4194, headroom
// 1.62 ≥ 1 → factor 1. TestWorkedExample checks these numbers, and
// TestLambdaMax the research table (N = 5, 10, 20, 50: 0.49, 1.18, 2.66,
// 7.08 calls/min).
//
// # Deadman
//
// No well-formed agent-state event (heartbeats count) for stale_after
// (default 30 s), or none yet: the snapshot is stale, View returns Factor 0
// and State Stale for every skill (the bidder: nbr 501), Headroom returns (0, false), and Ready
// reports "capacity feed stale: no agent-state event for 42s" (or "… received
// yet"). The next event makes it fresh again at the next rebuild.
//
// # Channels and schedules
//
// Channels (channels.go) adds headroom per skill × channel beside the voice
// Model: chat and sms sessions per agent, callbacks in the voice agents'
// spare time, and, from cc.schedule.v1 (schedule.go), the headroom a
// contact arriving after a delay will find (ViewAhead). Agents whose
// channels lack voice, and cc.call.v1 events of another channel, are
// Channels' only: the voice Model ignores them.
//
// An agent on voice and chat (or sms) is one agent's time, counted once.
// Voice has it first, because the bidder bids a chat only while voice has
// no headroom: the voice Model counts the agent in full, and chat gets the
// blended agents' time that voice demand leaves — at most the voice
// agents' spare N·max_occupancy − λ·AHT (Erlangs; λ with committed,
// waiting and abandoning calls as in the headroom), never more than the
// blended agents AVAILABLE. Time lent to chat is taken off the callbacks'
// spare. A fixed split (half voice, half chat) was the alternative; it
// undercounts voice for a blended team whose chats are rare and still
// sells the same minutes twice when voice is busy, where this rule gives
// chat nothing once voice needs every agent. An agent on chat and sms
// (no voice) gives each half its sessions. Its consumers call
// Channels.HandleAgentState, HandleCall and HandleSchedule; its Run
// rebuilds; View and ViewAhead are lock-free.
//
// # Bad input and bounds
//
// Records reach the model decoded and checked by the events consumer
// (kafkaio.NewRecordConsumer): malformed JSON, a missing agent_id or
// call_id, a negative seq, ttl or duration, an unknown event_type,
// routing_state or next_routing_state, a proficiency outside 0–5, and times
// beyond kafka.max_future_skew never get here; they are counted in
// callbid_events_bad_total{topic,reason}. The model adds one bad reason of
// its own, returned to the consumer: seq_jump (see ordering).
//
// Ordering (order.go): with seq on both sides seq decides, and a seq more
// than max_seq_jump above the last applied one is rejected unless the next
// event continues from it, so one corrupt seq cannot outrank every later
// event of the agent (nor on replay); and the first event seen of an agent
// sets its seq unchecked: until a higher seq confirms the order, a lower
// seq with a strictly later time replaces it (a far-future seq that a
// compacted topic kept as an agent's latest record pins nothing). Without seq (Amazon Connect, Genesys,
// Twilio) occurred_at decides: an older event is ignored, one at the same
// time or later is applied — never dropped as a duplicate. Event times are
// clamped to now, so a clock ahead of ours cannot keep an agent alive.
//
// Bounds: only skills a campaign uses are tracked (SetSkills); an agent
// whose events name none of them is not tracked at all. The agent table is
// capped at max_agents (expired, then unstaffed agents are evicted; staffed
// ones never are) and the call table at max_calls. Valid events that change
// nothing (old seq or time, history older than its TTL, untracked skills, a
// full table, repeated call transitions, calls without a skill) are counted
// in callbid_capacity_ignored_events_total{topic,reason}.
package capacity
