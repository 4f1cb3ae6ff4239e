// Package numbers owns callbid's tracking-number pools and call attribution:
// a number is HELD when a bid reserves it, LEASED by the win notice, cools
// down after the lease or the first call, and is handed out again least
// recently freed first. POST /v1/calls (and OFFERED cc.call.v1 events) find
// the lease that was live when a call started; SPAM outcomes feed a caller
// blocklist; lease transitions go to callbid.leases.v1 so leases survive a
// restart.
//
// Layout: all entries of all pools sit in one flat slice of fixed-size
// structs; each pool is split into shards, each with its own small mutex and
// intrusive per-state lists (the free list is the LRU order). The number →
// entry map is built once by New and never changes.
//
// Goroutines: Reserve runs on bid goroutines, Win/Loss on notice goroutines,
// HandleCalls on HTTP goroutines, HandleCallEvent/HandleOutcome/
// ApplyLeaseEvent on Kafka consumer goroutines; all of them are safe to call
// concurrently. Run (one goroutine, started by the root) sweeps expired holds,
// leases and cooldowns on a tick, keeps observed rates, forgets old calls and
// publishes attribution events.
package numbers
