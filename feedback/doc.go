// Package feedback is the feed of the closed loop: it takes the records of
// what happened after the bid — the bid path's bids and matching requests,
// callbid's own impressions (win and bill notices) and attributions, the
// contact center's calls and outcomes — checks, deduplicates and joins
// them, and hands each to the packages that learn from it or report it:
//
//   - hitrate (calls, qualified calls and sales per win; time to call),
//   - pacing (calls in flight; the participation bucket and price),
//   - traffic (won impressions and SPAM per device, through Devices),
//   - reports (report rows, bid tally, demand feed).
//
// It owns only the joining: impressions are idempotent by bid_id (within
// dedupe_window of their partition's event time); a call's attribution,
// call events and latest outcome are joined by call_id, and what the call
// contributes (attributed; qualified = answered, not SPAM or
// WRONG_NUMBER, talked at least min_talk_time; a sale, or a provisional one
// at provisional_sale_credit for CALLBACK_REQUESTED/FOLLOW_UP_EXPECTED) is
// applied as a delta, so a repeated or reordered event changes nothing.
// Outcomes are upserts (latest occurred_at wins, a final one is not undone
// by a later non-final one). The joined attribution is re-emitted when its
// outcome changes. Call records live in callrecords.Store (shared with
// numbers in the service: UseCallRecords), which bounds them by retention
// (event time) and size; feedback keeps its part of each and releases the
// part of calls that never joined (orphan_ttl). Lock order: mu, then the
// store's.
// A call whose caller (ANI) called the same campaign within repeat_window
// is a repeat (repeat.go): hit rates count the caller once, reports show it
// in repeat_calls; at most max_repeat_callers are remembered.
// Impressions, attributions and bids name their contact channel: chats,
// texts and callbacks go to their own hit-rate cells and report rows, and
// never to pacing, which steers calls (channels.go).
//
// In-process feed. The bid path's RecordBid and the notice handler's and
// attribution's published records (through Tee) reach the parts at once;
// Kafka replays them after a restart (their copies are then duplicates by
// bid id and call id) and brings other instances'.
//
// Goroutines. The bid path calls RecordSeen and RecordBid concurrently:
// RecordBid charges pacing's bucket (atomics) and both send on a bounded
// channel, never blocking. Kafka consumer goroutines call the Handle*
// methods; Run owns the tick (hit-rate rebuild, pacing, reports) and one
// aggregator goroutine that folds the bid-path records. mu guards the
// feed's own state (dedupe, the call join); every package it feeds has its
// own lock, always taken after mu, and none calls back into feedback.
package feedback
