// Package traffic owns the invalid-traffic state the bid path checks: won
// impressions per device ip and id within a window (caps), devices reported
// SPAM (blocked for invalid_ttl) and CIDR ranges of raw device ips that get
// no bid.
//
// Goroutines. The bid path calls Allowed and AllowedIP concurrently; they
// read ristretto caches (safe for concurrent use) and the ranges, which are
// immutable after New, and count rejections with atomics. The feed's
// goroutines (impression and outcome consumers, the in-process tee) call
// Won and Spam, which write the caches. There is no mutex: the caches are
// the only shared state and ristretto synchronises them.
package traffic
