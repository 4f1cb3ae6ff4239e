// Package hitrate owns what won impressions bring, per campaign ×
// publisher: calls, qualified calls and sales per win, and the time from a
// win to its call.
//
// Per campaign × publisher (and hour of day, UTC) it keeps forward-decayed
// sums (half-life feedback.half_life) of won impressions, attributed calls,
// qualified calls and sales (the feed decides what a call contributes and
// hands it over as deltas, so a call's later outcome replaces its earlier
// contribution). The call rate is the Beta-Binomial posterior mean
// (prior·s + qualified)/(s + n) with the campaign's prior and s =
// prior_strength; n counts each impression younger than the time-to-call
// horizon at F(age), the share of its calls that have had time to arrive,
// so a fresh impression is not yet a failure. HitRate is posterior/prior
// for the current hour (the hour bucket shrunk toward the other hours, so
// its evidence counts once), clamped to [min_factor, max_factor].
//
// CallsPerWin is the any-call rate pacing charges a bid with, from a
// cautious prior: participation.cautious_call_rate, or, once the campaign
// has evidence, 1.5× its rate pooled over publishers (never below its
// expected_call_rate), worth cautious_call_rate × pacing_prior_strength
// calls whatever its mean (a prior weighed in wins would be worth less than
// a call once its mean falls, and a publisher's first wins, too few to
// expect a call, would drive its rate down): the Gamma posterior's
// mean, or with pacing_quantile above 0.5 (default 0.5) an upper quantile
// of it while the publisher's calls are few: with k calls the bound is about
// 1 + 1.28/√k times the mean, so a publisher whose first minutes brought
// few calls by chance is not read as cheap. The bound is never above the
// larger of the cautious prior and the mean (the prior is already a high
// guess), and with hundreds of calls it is the mean.
//
// Exchange factor (exchange.go): per campaign × exchange, attributed calls
// (a repeat caller's excluded) against those expected from its
// delay-weighted wins at the campaign's rate, each win weighted by its
// publisher's relative rate (the publisher's own factor prices that): the
// Gamma-Poisson posterior mean (s + calls)/(s + expected calls) with s =
// exchange_factor.prior_strength, clamped to [min_factor, max_factor].
// The bid path reads it through ExchangeFactor (bidder.ExchangeFactors)
// from the same snapshot.
//
// Time to call (atrisk.go): the won_at → started_at distribution per skill
// and for all skills, in log bins from 1 s to time_to_call.max, estimated
// as a cumulative hazard with the wins that have reached each age in the
// denominator, so delays not yet seen (right truncation) do not read as
// absent, and a cautious tail beyond the oldest wins' age that shrinks as
// they age; Arrival returns an immutable copy for pacing. The delay to the
// call's end (when it can be qualified) is the observed one blended with a
// default exponential (n : min_samples).
//
// Goroutines. The bid path calls HitRate, ExchangeFactor and CallsPerWin
// (through pacing) concurrently: they read an immutable snapshot behind an
// atomic pointer, 0 allocations, no lock. The feed's consumer goroutines call Win, AddCall
// and AddDelays; its Run loop calls Rebuild, which publishes the snapshot;
// admin requests call Rates. All of those take mu, which guards the cells
// and the delay histograms; hitrate calls into no other package.
package hitrate
