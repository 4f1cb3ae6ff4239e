// Package pacing is the one owner of "calls bought, not yet arrived": it
// keeps, per skill, the calls in flight (held bids and won impressions
// whose calls are still due) and steers buying by them and by the budget
// capacity publishes, so the calls bought stay within what the agents can
// answer.
//
// Budget. Capacity publishes facts (capacity.Load: λ_max, λ_now — every
// call arriving, ours included —, backlog) and is not told about the calls
// bought; pacing combines them once, taking the bought calls arriving now
// out of λ_now: B = λ_max − (λ_now − bought arriving) − backlog.
//
// Participation (the volume actuator, participation.go). Each skill has a
// bucket of expected calls refilled every tick at share·(L·target·B −
// excess) and spent by every bid at p_win(exchange) × calls-per-win
// (hitrate.CallsPerWin, a cautious any-call rate). p_win is wins / bids per
// exchange from a cautious prior (1, worth 20 bids). Calls in flight are
// held bids (notice_window) × their cost plus won impressions × rate ×
// (1 − F(age)); excess is the part of them due within the horizon above
// target·B. L is slow start: 0.5 after start-up and a return from zero
// agents, scaled down with a drop of λ_max, doubling every median
// time-to-call (1–60 s) while calls arrive as predicted. share is this
// instance's share of the number pools (numbers.Pools.Share) when
// several instances share them: every instance sees every win and call,
// so B and the calls in flight are the whole center's, and N instances
// together buy what one would. Admit (bid path) bids while the bucket is
// above zero, and empties it when λ_max has dropped by more than
// participation.drop since the last tick (tokens earned under the old
// staffing are not spent under the new); Charge spends it. An empty bucket is a no-bid with nbr 500
// whatever the price.
//
// Price. committed per skill = Σ won impressions × their call rate × (1 −
// F(age)) ÷ the mean time-to-call (Little's law: the arrival rate they will
// produce). Every pacing.interval the controller updates
//
//	e  = (max(committed, buying) − target·B) / max(target·B, min_scale)
//	μI ← clamp(μI + gain·dt·e, 0, max_mu)       (Balseiro & Gur 2019, calls for money)
//	μ  = clamp(μI + proportional·e, 0, max_mu)   multiplier = 1/(1+μ)
//
// where buying is the rate calls were bought over the last minute. The
// multiplier shades the price on top of the bucket; Headroom's
// waitingTooLong is passed through as the hard stop.
//
// Goroutines. The bid path calls Admit, Charge, Pacing and CommittedCalls
// concurrently: they read immutable snapshots behind atomic pointers and
// spend the buckets with atomics, no lock, no allocation. The feed's
// goroutines call Bid (its aggregator), Win and Arrived (consumers and the
// in-process tee); its Run loop calls Tick, which publishes the snapshots;
// admin requests and metric scrapes call View. Those take mu, which guards
// everything else. Under mu pacing reads hit rates' snapshot and capacity's
// Headroom (capacity's own lock), never the other way round.
package pacing
