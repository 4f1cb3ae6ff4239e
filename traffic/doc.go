// Package traffic owns the invalid-traffic state the bid path checks: won
// impressions per device ip and id within a window (caps), devices reported
// SPAM (blocked for invalid_ttl) and CIDR ranges of raw device ips that get
// no bid.
//
// Goroutines. The bid path calls Allowed and AllowedIP concurrently; they
// read the table of blocked devices (ttltable.go: atomic loads, no lock)
// and the ranges, which are immutable after New, and count rejections with
// atomics. The feed's goroutines (impression and outcome consumers, the
// in-process tee) call Won and Spam: Won counts the device's wins in a
// ristretto cache and blocks the device when it reaches its cap, Spam
// blocks it for invalid_ttl; both write the blocked table under its writer
// mutex, never taken on the bid path. ristretto runs its own goroutines
// (admission policy, TTL sweep), busy only when wins arrive.
package traffic
