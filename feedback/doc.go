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
// Pacing. committed per skill = Σ won impressions × their publisher's call
// rate (any attributed call, since agents answer every call; a weaker prior,
// pacing_prior_strength, so busy publishers are not underestimated) ×
// (1−F(age)), divided by the mean time-to-call: the arrival rate those
// pending calls will produce (Little's law). arriving is a moving average of
// attributed call arrivals (pacing.arrival_window). CommittedCalls, which
// capacity.Model subtracts next to its λ_now, is max(0, committed −
// arriving), so bought calls are not charged twice. Every pacing.interval
// the controller takes the budget for bought calls B = Headroom + arriving +
// CommittedCalls (capacity's headroom with our own calls added back;
// pacing.headroom_gross uses Headroom as B directly) and updates
//
//	e  = (max(committed, buying) − target·B) / max(target·B, min_scale)
//	μI ← clamp(μI + gain·dt·e, 0, max_mu)       (Balseiro & Gur 2019, calls for money)
//	μ  = clamp(μI + proportional·e, 0, max_mu)   multiplier = 1/(1+μ)
//
// where buying is the rate calls were bought over the last minute: the
// committed stock fills over the time-to-call, so a jump in wins shows in
// buying at once and the P term damps the lag. Headroom's waitingTooLong is
// passed through as the hard stop. TestPacingSimulation shows the result.
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
// Goroutines. The bid path calls HitRate, Pacing, Allowed, AllowedIP,
// RecordSeen and RecordBid concurrently; they read atomic snapshots, the
// ristretto caches and send on a bounded channel. Kafka consumer goroutines
// call the Handle* methods; Run owns the controller tick and one aggregator
// goroutine that folds the bid-path counts. Both take mu; the bid path never does.
package feedback
