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
// Pacing. Committed calls per skill = Σ won impressions × their publisher's
// call rate (any attributed call, since agents answer every call) × (1−F(age)),
// divided by the mean time-to-call, which is the arrival rate those pending
// calls will produce (Little's law). Every pacing.interval the dual price
// moves, μ ← clamp(μ + gain·dt·(committed − target·headroom)/scale, 0, max_mu)
// with scale = max(target·headroom, min_scale) (Balseiro & Gur 2019 with
// calls in place of money), and the bid multiplier is 1/(1+μ). Headroom's
// waitingTooLong is passed through as a hard stop.
//
// Replay. State is rebuilt by replaying callbid.impressions.v1,
// callbid.attribution.v1, cc.call.v1 and cc.outcome.v1 from the beginning:
// impressions are idempotent by bid_id (within dedupe_window of their
// partition's event time), calls by call_id (contributions are applied as
// deltas, so a repeated or reordered event changes nothing). Bid and
// request-seen counters are not on any topic: they restart from zero with
// the process (the report says since when in bids_since).
//
// Goroutines. The bid path calls HitRate, Pacing, Allowed, AllowedIP,
// RecordSeen and RecordBid concurrently; they read atomic snapshots, the
// ristretto caches and send on a bounded channel. Kafka consumer goroutines
// call the Handle* methods; Run owns the controller tick and one aggregator
// goroutine that folds the bid-path counts. Both take mu; the bid path never does.
package feedback
