// Package callrecords owns the memory of calls: one record per call id,
// kept for one retention (in event time) and at most a configured number of
// records, the oldest evicted first. It is the only place call records live,
// so the memory they take is bounded by its Config whatever the call volume.
//
// A record carries one part per user (Slot): numbers keeps what /v1/calls
// must answer again (the attribution, the caller, the lease the call ended,
// whether a SPAM outcome was counted); feedback keeps its join of
// attribution, call and outcome events and what the call contributes to the
// counters. The store never looks inside a part. A record goes when its
// retention passes or it is evicted (every part with it), or when every user
// has released its part.
//
// Goroutines and locks. Every method is safe for concurrent use; one mutex
// guards the map, the eviction order and the slots. It is a leaf lock: the
// store calls nothing while holding it except the function given to Scan,
// which must not call the store. Users call the store while holding their own
// lock (numbers: its calls mutex, before a shard's lock; feedback: its mu), so
// the order is always user lock, then the store's. A part is read and
// changed only by its user under that user's lock; the store only holds the
// pointer, set under both locks (the user's and its own).
package callrecords
