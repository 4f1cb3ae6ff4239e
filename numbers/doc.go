// Package numbers owns callbid's tracking-number pools and call attribution:
// a number is HELD when a bid reserves it, LEASED by the win notice, cools
// down after the lease or the first call, and is handed out again least
// recently freed first. POST /v1/calls (and OFFERED cc.call.v1 events) find
// the lease that was live when a call started; SPAM outcomes feed a caller
// blocklist; lease transitions go to callbid.leases.v1 so leases survive a
// restart.
//
// Layout: all entries of all pools sit in one flat slice of fixed-size
// structs (104 bytes plus one reused buffer for the attribution strings);
// each pool is split into up to 64 shards, each with its own small mutex and
// intrusive per-state lists (the free list is the LRU order). Reserve starts
// at a random shard and moves on when it is busy or empty, so LRU order is
// exact within a shard and approximate across shards. The number → entry
// map is built once by New and never changes. A Ref is entry index << 32 |
// generation: a stale or repeated notice never touches a newer reservation.
//
// Expiry: one goroutine (Run) sweeps each shard's list heads on a tick;
// Reserve expires its shard's holds on the spot and Win treats an expired
// hold as expired, so nothing waits for the tick to be correct. There is no
// timer or goroutine per number.
//
// Persistence: lease, cooldown and free transitions are published to
// callbid.leases.v1 keyed by number(;ext=N); ApplyLeaseEvent replays them.
// Holds are not persisted. One callbid instance owns a set of pools: two
// instances sharing numbers would overwrite each other's leases.
//
// Goroutines: Reserve runs on bid goroutines, Win/Loss on notice goroutines,
// HandleCalls on HTTP goroutines, HandleCallEvent/HandleOutcome/
// ApplyLeaseEvent on Kafka consumer goroutines; all of them are safe to call
// concurrently. Run (one goroutine, started by the root) sweeps expired holds,
// leases and cooldowns on a tick, keeps observed rates, forgets old calls and
// publishes attribution events.
package numbers
