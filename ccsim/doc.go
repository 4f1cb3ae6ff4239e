// Package ccsim is a SIMULATED contact center: it generates the agent-state
// (cc.agent-state.v1) and call (cc.call.v1) events a real contact center
// would stream, for the out-of-the-box demo, for cmd/agentsim and for load
// tests. Nothing it emits describes real agents or calls, and it says so in
// its logs.
//
// Agents of each configured skill log in over the first minute
// (shift.login_spread), take calls (Poisson arrivals, modulated by a wave),
// go to after-call work, take breaks (NOT_ROUTABLE) and log out and back in,
// sending HEARTBEAT when nothing else happened for heartbeat_interval. Queued
// callers abandon after an exponential patience. Every event carries an
// increasing seq per agent (based on the start time, so a restarted
// simulator's events are not ignored as old) and ttl_seconds.
//
// Meetings (shift.meetings, meeting.go) take a share of a skill's voice
// and chat agents off the queue together at scheduled times and bring them
// back at the end; agents busy at the start announce it with
// next_routing_state and leave when their contact ends, and agents logged
// out at the start log in NOT_ROUTABLE if they come back before the end,
// so no capacity returns in the middle of a meeting. The demo uses them
// to show bids stopping and resuming within its first minutes.
//
// A skill may have a chat team (skills[].chat): agents on the chat channel
// only, each handling up to chat.sessions chats at once, fed by organic
// chats and by Offer — a chat started from a creative's tracking key (or a
// call to a tracking number), as a person who saw the ad would; the
// session events carry channel "chat" and the key as dnis (chat.go).
//
// An audience (simulator.audience, audience.go) calls a share of the
// tracking numbers callbid leases on win notices (Won, wired to
// numbers.Pools.OnLease), with the extension, after an exponential delay,
// so the demo's hit rates learn from calls as they would in production.
//
// The simulation is deterministic given the seed and the start time: Step
// advances simulated time by one tick, so tests drive it fast; Run calls
// Step on a real-time ticker scaled by speed.
//
// Goroutines: a Sim is driven by one goroutine (Run or the caller of Step);
// Stats, Won and AudienceStats are safe from any goroutine (Won queues the
// win under a mutex that only Step's drain also takes).
package ccsim
