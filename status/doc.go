// Package status owns the operator's status page on the admin listener: one
// self-contained HTML page at GET / (no external assets; it refreshes itself
// by fetching its live part every few seconds) and the same figures as JSON
// at GET /status.json (httpapi serves both: Render and Snapshot). It shows readiness and its reasons, feed health that
// does not make callbid unready (a stale capacity feed, a stalled feedback
// feed, consumer lag), per skill staffing and headroom, per pool utilization
// against its target, per campaign today's spend against budget and results,
// and small SVG charts of the last hour.
//
// The charts come from a ring buffer of samples (one every 10 s by default,
// an hour's worth kept). Goroutines: Run samples from its own goroutine; the
// admin listener's goroutines render; the ring is shared under
// a mutex. Nothing here is on the bid path: every figure is read through the
// owning package's stats methods, which may allocate and lock briefly.
package status
