// Package reports owns what callbid tells its users about what bidding
// bought: the hourly report rows per campaign × publisher × exchange (bids,
// wins, spend, calls split into unique and repeat callers, qualified calls,
// sales, revenue, and the mean value, bid and clearing price) behind GET
// /v1/report, the bid tally it publishes to callbid.bids.v1 every 5 s (bids
// and matching requests are on no inbound topic, so a restarted process
// gets them back by replaying it; a process skips its own records), and the
// callbid.demand.v1 feed (per skill and interval: requests seen, bids,
// wins, spend, projected calls, committed calls, the pacing multiplier, and
// the contacts projected for the next 4 intervals by forecast.Project from
// the wins still in flight, kept here in 10-second buckets for 2 h, and the
// hit-rate model's learned delay, read through SetDelays).
//
// It learns nothing and steers nothing: the feed package hands it every
// bid, seen request, won impression and call contribution (calls are
// upserts, applied as deltas), and Report reads the rows.
//
// Goroutines. Bid and Seen come from the feed's aggregator goroutine; Win
// and AddCall from the consumers of the impression, attribution, call and
// outcome topics and the in-process tee; HandleBids from the bids-topic
// consumer; Tick and Flush from the feed's Run loop; Report from admin
// request goroutines. All take mu, which guards everything but the atomic
// counters; mu is never held while publishing. The bid path never calls
// into reports.
package reports
