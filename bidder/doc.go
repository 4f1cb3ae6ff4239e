// Package bidder owns the bid decision: campaign configuration (server,
// currency, exchanges, campaigns, privacy, test_requests and shading sections of the YAML root), compilation of that
// config into an immutable snapshot, campaign controls (status, flight,
// schedule grid, call caps), targeting and pricing per request (first-price
// bid shading, value-based bidding), daily and total budgets with bids in
// flight reserved, privacy and test=1 policies, per-source hold budgets
// of tracking numbers, signed win/bill/loss notices (each URL's token bound
// to its kind, clearing prices parsed strictly and capped at the bid). It
// speaks no HTTP: httpapi reads requests and writes answers, and calls
// Begin and Bid per bid request (a body in, the encoded answer out), Notice
// per notice and Holds for /admin/holds.
//
// Channels (channel*.go): a campaign's chat, sms and callback invitations
// are compiled as campaigns of their own sharing its id and budget. They
// bid only while voice has no headroom and their channel has room (less
// the contacts their last minute of bids may bring, channel_flight.go), are
// priced with the channel's own hit rate, are neither priced nor stopped
// by voice pacing and participation, carry the channel in the notice
// token, and their win writes the impression with its channel.
//
// Goroutines: Bid and Notice run on the HTTP layer's worker goroutines and
// read the current snapshot through one atomic.Pointer load per request
// (Begin). Apply (config reload) runs on the caller's goroutine, builds a new snapshot
// and swaps it in; budgets, hold budgets and the notice dedupe set are
// shared across snapshots and are safe for concurrent use (atomics, sharded
// maps; the bid path takes no lock). HandleAttribution and HandleCall run
// on the attribution and cc.call.v1 consumers' goroutines and update the call-cap
// and value-bidding tables under their own mutexes; notice handlers rebuild
// shading curves under a per-curve mutex; the bid path reads all three
// through atomics and copy-on-write maps. Deps' interfaces (Capacity,
// Feedback, Participation, ExchangeFactors) are called on the bid
// goroutines and must not block. Consent strings are decoded by the
// privacy package, on the bid goroutine, only when a signal applies. The
// package starts no goroutine of its own.
package bidder
