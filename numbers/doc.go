// Package numbers owns callbid's tracking-number pools and call attribution:
// a number is HELD when a bid reserves it, LEASED by the win notice, cools
// down after the lease or the first call, and is handed out again least
// recently freed first. POST /v1/calls (and OFFERED cc.call.v1 events) find
// the lease that was live when a call started; SPAM outcomes feed a caller
// blocklist; lease transitions go to callbid.leases.v1 so leases survive a
// restart. It speaks no HTTP: httpapi serves /v1/calls (the JSON form and
// Twilio's signed voice webhook, answered in TwiML) and /admin/pools through
// Attribute, CallsToken, Twilio (the webhook's config, twilio.go) and
// Stats; the attribution carries the bid's creative, currency,
// geo and device type and the notices' clearing price (claimx.go).
//
// Layout: all entries of all pools sit in one flat slice of fixed-size
// structs (112 bytes, no pointers, so the GC never scans them; the
// attribution strings sit in a slot of their shard's arena, arena.go);
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
// Persistence ("a number belongs to one impression; an acknowledged lease
// is never lost"): every transition goes to callbid.leases.v1 (compacted,
// keyed by number(;ext=N)) through the producer's durable lane (LeaseLog),
// which never drops and tells when a record is acknowledged; ApplyLeaseEvent
// replays the log at start. Win and Bill queue the lease record; AwaitLease
// waits for it (numbers.durable_timeout), so the notice is answered 204
// only once the lease would survive a crash, else 503 and the exchange
// retries (the number stays leased, the record is retried until written).
// Holds are written off the bid path: Run walks each shard's held list back
// from its tail every 5 ms (LogHolds) and logs the holds not yet logged, so
// Reserve stays free of I/O and allocation. Once the lease log knows the
// topic's partition count, a pass writes its holds as one batch record per
// partition (holdbatch.go: a record per hold cost more CPU than the rest of
// the bid), deleted by a tombstone once its holds have ended. Replayed holds
// come back HELD with their generation, so a win after a restart leases
// them.
//
// Generations follow the clock (≈65 µs units) and ReplayDone moves them
// past the newest replayed one, so a notice of an earlier process never
// matches a reservation of this one. A win for an earlier process's hold
// that never reached the log (the last few ms before a crash) is WinStale;
// Restore re-creates it from the notice token when the log knows nothing
// newer for that number: a free number is leased, a newer unwon hold gives
// way (the shown ad keeps the number), a lease acknowledged since is kept
// (collision). To keep such numbers from going to a new bid first,
// ReplayDone holds, for one hold time, the never-used entries at the head of
// each free list (the ones the earlier process would have taken next) and
// the replayed expired holds, and logs that. With shared pools the same
// quarantine covers only the partitions an instance gains: its first
// assignment once the log is replayed, and later the partitions its previous
// assignment did not have (quarantine_shared.go). The billed flag is part of the
// record, so Bill recognises a bill retried across a restart.
//
// While the lease log cannot be written (its last write failed, or its
// oldest pending record is older than numbers.lease_log_stall) Reserve
// refuses, counted, and LeaseLogReady says why for /readyz; CheckLeaseLog
// (Run, every 5 ms) turns that on and off. Without kafka.shared_pools one
// callbid instance owns a set of pools (two would overwrite each other's
// leases); with it, instances divide them by lease-topic partition
// (ownership.go), and a partition gained in a rebalance is reserved from
// only once the lease consumer has read it up to its end offset at
// assignment (gained.go).
//
// Goroutines: Reserve runs on bid goroutines, Win/Loss on notice goroutines,
// Attribute on HTTP goroutines, HandleCallEvent/HandleOutcome/
// ApplyLeaseEvent on Kafka consumer goroutines; all of them are safe to call
// concurrently; AwaitLease blocks its notice goroutine (bounded). Run (one
// goroutine, started by the root) sweeps expired holds, leases and
// cooldowns on a tick, logs new holds and checks the lease log every 5 ms,
// keeps observed rates, forgets old calls and publishes attribution events.
// An assignment that gains partitions starts one goroutine that waits for
// them to be read, and one per partition while it waits for the lease
// consumer (gained.go; they block on the consumer's progress and end when
// the partitions are read, at the next assignment, or when the context
// given to ReadGainedWith ends).
//
// Calls remembered for /v1/calls live in callrecords.Store (shared with
// feedback in the service: UseCallRecords), which bounds them by retention
// (event time) and size; each record holds the call's attribution event
// once. Lock order: calls.mu, then the store's lock or a shard's lock.
package numbers
