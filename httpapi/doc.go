// Package httpapi owns callbid's HTTP: the fasthttp servers of the public
// listener (exchanges, voice platforms) and the admin listener (operators,
// the scraper), their route tables, request parsing, auth and the encoding
// of every answer. Domain packages answer through plain methods and import
// no fasthttp:
//
//	public listener
//	  POST /openrtb2/bid       bid.go: method and size checks, admission
//	                           control (admission.go), gzip in and out,
//	                           bidder.Begin + bidder.Bid
//	  /notice/{win,bill,loss}  server.go: bidder.Notice (GET, POST, HEAD)
//	  POST /v1/calls           calls.go (JSON, bearer token) and twilio.go
//	                           (Twilio's signed form post, TwiML):
//	                           numbers.Pools.Attribute
//	admin listener
//	  /healthz /readyz /metrics /debug/pprof/  /admin/reload
//	  /admin/holds /admin/pools                bidder.Holds, numbers.Stats
//	  / /status.json                           status.Page Render, Snapshot
//	  Options.Reports                          plain functions of the query
//	                                           (feedback's /v1/report,
//	                                           /admin/rates)
//
// Reload and pprof answer loopback clients, others with the admin token as
// a bearer token, all with server.admin_allow_remote. The accept side
// (listener.go) retries temporary accept errors with a backoff, limits
// connections in total and per client IP and closes the longest-idle
// connection before refusing a new one; on Linux it reads kernel receive
// timestamps (rx_linux.go) so a request's deadline and queue delay count
// from its arrival; a connection's deadlines moved later are recorded and
// applied only when the earlier one fires (deadline.go), not re-armed three
// times per request. httpapi/bridge is the same for cmd/ccbridge's webhook
// and admin listeners.
//
// The bid route allocates nothing in steady state (alloc_server_test.go):
// per-request buffers come from a pool, the answer is appended into them.
//
// Goroutines: handlers run on fasthttp's worker goroutines, one per
// connection at a time; Accept on each server's accept loop; ConnState twice
// per request (atomics only). Admission control and connection states are
// atomics; the registry of open connections has a mutex taken on accept and
// close only; each connection's deadlines have a small mutex of their own
// (its goroutine sets them, a handler or shutdown may too). Serve starts the two servers' goroutines; Shutdown stops them.
package httpapi
