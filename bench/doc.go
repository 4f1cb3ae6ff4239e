// Package bench owns the load harness for callbid: an open-loop OpenRTB load
// generator, the closed loop that plays the exchange and the caller (win,
// billing and loss notices, calls to POST /v1/calls), the reports (terminal,
// JSON, HTML) and the ceiling server the bidder's throughput is compared with.
//
// Goroutines: with the raw client (Linux, http targets; rawclient_linux.go)
// Run's own goroutine is the scheduler and every connection: it releases
// tickets (the scheduled send time of each request), writes and reads
// non-blocking sockets from its own epoll set and records the outcomes,
// waking on a timerfd. With the fasthttp client Run's goroutine is only the
// scheduler; it issues tickets on a buffered channel, waiting on a timerfd
// for microsecond wake-ups, to Config.Conns senders (one per keep-alive
// connection, each with its own pooled Request/Response and histograms).
// Either way Run also starts a progress ticker that swaps the per-second
// histograms, and, in closed-loop mode, one timer goroutine that keeps a heap
// of due notices and calls plus a few workers that fire them, and an admin
// poller. All of them stop when the run ends or its context is cancelled.
//
// Latency is measured from the scheduled send time, not from the moment a
// sender got round to sending, so queueing in the target (or in the bench) is
// part of the figure: there is no coordinated omission.
package bench
