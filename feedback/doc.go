// Package feedback owns what happens after the bid: it learns how many
// qualified calls and sales each publisher's won impressions bring per
// campaign (hit rate), paces bidding per skill so the calls bought stay within
// agent capacity, filters invalid traffic, and serves attribution reports
// and the demand feed.
//
// Hit rate. Per campaign × publisher (and hour of day, UTC) it keeps
// forward-decayed sums (half-life cfg.half_life) of won impressions, attributed
// calls, qualified calls and sales. A qualified call is attributed
// (match exact/cooldown/sticky/bucket, accepted), answered, not SPAM or
// WRONG_NUMBER, and talked at least min_talk_time. The call rate is the
// Beta-Binomial posterior mean (prior·s + qualified)/(s + n) with the
// campaign's prior and s = prior_strength; n counts each impression younger
// than the time-to-call horizon at F(age), the share of its calls that have
// had time to arrive, so a fresh impression is not yet a failure. F is the
// observed won_at→started_at distribution blended with a default exponential
// (n : min_samples). CALLBACK_REQUESTED/FOLLOW_UP_EXPECTED count as
// provisional sales (provisional_sale_credit) until a final outcome replaces
// them; outcomes are upserts by call_id (latest occurred_at wins, a final one
// is not undone by a later non-final one). HitRate is posterior/prior for the
// current hour, clamped to [min_factor, max_factor].
//
// Pacing owns the calls bought and not yet arrived; capacity publishes
// facts (λ_max, λ_now, backlog, abandons) and is not told about them. The
// budget for bought calls per skill is B = capacity's Headroom + the bought
// calls arriving now (capacity's λ_now contains them): λ_max − organic
// calls − backlog.
//
// Participation (the volume actuator, participation.go). Each skill has a
// bucket of expected calls refilled every tick at L·target·B − excess and
// spent by every bid at p_win(exchange) × calls-per-win(campaign,
// publisher). p_win is wins / bids per exchange from a cautious prior (1,
// worth 20 bids); the call rate is the any-call Beta-Binomial posterior from
// a cautious prior: participation.cautious_call_rate, or, once the campaign
// has evidence, 1.5× its rate pooled over publishers (never below its
// expected_call_rate), weight pacing_prior_strength. Calls in flight are
// held bids (notice_window) × their cost plus won impressions × rate ×
// (1 − F(age)); excess is the part of them due within the horizon above
// target·B. L is slow start: 0.5 after start-up and a return from zero
// agents, scaled down with a drop of λ_max, doubling every median
// time-to-call (1–60 s) while calls arrive as predicted. Admit (bid path) bids while
// the bucket is above zero; RecordBid charges it. An empty bucket is a
// no-bid with nbr 500 whatever the price.
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
// waitingTooLong is passed through as the hard stop. TestPacingSimulation
// shows the price loop against a price-responsive exchange, TestClosedLoop
// the whole loop against an independent contact center.
//
// In-process feed. The bid path's RecordBid and the notice handler's and
// attribution's published records (through Tee) reach feedback at once;
// Kafka replays them after a restart (their copies are then duplicates by
// bid id and call id) and brings other instances'. The time-to-call model
// bins delays logarithmically from 1 s to time_to_call.max.
//
// Visible. GET /admin/rates and the callbid_participation_* metrics show
// per skill the level, budget, refill and calls in flight, per campaign ×
// publisher the rates, their evidence and the factor applied, and per
// exchange the win probability.
//
// Replay. State is rebuilt by replaying callbid.impressions.v1,
// callbid.attribution.v1, cc.call.v1 and cc.outcome.v1 from the beginning:
// impressions are idempotent by bid_id (within dedupe_window of their
// partition's event time), calls by call_id (contributions are applied as
// deltas, so a repeated or reordered event changes nothing). Bid and
// request-seen counters are on no inbound topic, so feedback publishes them
// itself every 5 s as deltas to callbid.bids.v1 and replays them like the
// rest (HandleBids; a process skips its own records). A crash loses at most
// the last 5 s of them.
//
// Goroutines. The bid path calls HitRate, Pacing, Admit, Allowed, AllowedIP,
// RecordSeen and RecordBid concurrently (Admit and RecordBid touch the
// buckets with atomics only); they read atomic snapshots, the
// ristretto caches and send on a bounded channel. Kafka consumer goroutines
// call the Handle* methods; Run owns the controller tick and one aggregator
// goroutine that folds the bid-path counts. Both take mu; the bid path never does.
package feedback
