// Package traffic owns the invalid-traffic state the bid path checks: won
// impressions per device ip and id within a window (caps), devices reported
// SPAM (blocked for invalid_ttl) and CIDR ranges of raw device ips that get
// no bid.
//
// Goroutines. The bid path calls Allowed and AllowedIP concurrently; they
// read two bounded TTL tables (ttltable.go: atomic loads, no lock) and the
// ranges, which are immutable after New, and count rejections with
// atomics. The feed's goroutines (impression and outcome consumers, the
// in-process tee) call Won and Spam, which write the tables under the
// table's writer mutex, never taken on the bid path. The package starts no
// goroutine.
package traffic
