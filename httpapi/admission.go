package httpapi

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/openrtb"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// Admission control on POST /openrtb2/bid. Past its capacity callbid still
// answers every request, but the overflow gets the cheapest correct no-bid
// (204, or {"id","nbr"} for nbr exchanges) before its body is decoded, so an
// overload costs a share of no-bids instead of timeouts on every request (an
// exchange that sees timeouts drops the connection, and reconnect churn
// used to take the rest of the core). The connection is never closed for it.
//
// Goroutines: the counters are atomics shared by the handler goroutines.

// shedReason says why a request was shed.
type shedReason uint8

const (
	// shedExpired: the request waited at callbid (in the kernel socket and
	// the run queue) for at least its whole deadline: tmax minus the network
	// allowance, capped at server.max_deadline. nbr 15.
	shedExpired shedReason = iota
	// shedQueue: the core is saturated (a standing queue, see admission)
	// and it waited longer than server.max_queue_delay: answering it fully
	// would make everything behind it later still. nbr 1.
	shedQueue
	// shedInFlight: more than server.max_in_flight bid requests were being
	// handled at once. nbr 1.
	shedInFlight
	numShedReasons
)

var shedReasonNames = [numShedReasons]string{"expired", "queue", "in_flight"}

var shedNBR = [numShedReasons]openrtb.NoBidReason{openrtb3.NoBidInsufficientTime, openrtb3.NoBidTechnicalError, openrtb3.NoBidTechnicalError}

// admission is the public listener's in-flight count and its detector of a
// standing queue. A burst or a pause (GC, a noisy neighbour) delays some
// requests by a few milliseconds and then clears: those should still be
// decided. A saturated core keeps a queue: most requests wait. So queue
// shedding engages only after an interval (gateInterval) in which more than
// half of the requests waited over server.max_queue_delay, and disengages
// after one in which fewer than 1 in 20 did.
type admission struct {
	inFlight atomic.Int64

	winStart  atomic.Int64 // unix ns the current interval began
	winN      atomic.Int64 // requests seen in it
	winOver   atomic.Int64 // of which waited over max_queue_delay
	saturated atomic.Bool

	log     zerolog.Logger
	lastLog atomic.Int64 // unix ns of the last "saturated" line
}

const gateInterval = 100 * time.Millisecond

// minQueueSample is the fewest requests in an interval that can show a
// standing queue. A core answering a bid in tens of µs drains thousands an
// interval; a handful (a demo's one request every 5 s, a quiet hour) that
// waited were kept off the CPU by the machine, not queued behind each
// other, and shedding them clears nothing. On a loaded VM the demo's lone
// requests were shed 3–5 times in 120 before this (nbr 1).
const minQueueSample = 20

// observe records one request's wait at now (unix ns) and reports whether
// the core counts as saturated.
func (a *admission) observe(now int64, waited, limit time.Duration) bool {
	if ws := a.winStart.Load(); now-ws >= int64(gateInterval) && a.winStart.CompareAndSwap(ws, now) {
		n, over := a.winN.Swap(0), a.winOver.Swap(0)
		switch {
		case n >= minQueueSample && over*2 > n:
			if !a.saturated.Swap(true) {
				a.logSaturated(now, n, over, limit)
			}
		case over*20 < n || n == 0:
			a.saturated.Store(false)
		}
	}
	a.winN.Add(1)
	if waited > limit {
		a.winOver.Add(1)
	}
	return a.saturated.Load()
}

// logSaturated says, at most once a minute, that shedding engaged: at most
// once per interval, never per request.
func (a *admission) logSaturated(now, n, over int64, limit time.Duration) {
	if last := a.lastLog.Load(); now-last < int64(time.Minute) || !a.lastLog.CompareAndSwap(last, now) {
		return
	}
	a.log.Warn().Int64("requests", n).Int64("waited_over_limit", over).Dur("max_queue_delay", limit).
		Msg("bid requests are queueing for the CPU: answering those that waited over server.max_queue_delay " +
			"with a no-bid until the queue clears (callbid_bidder_shed_total)")
}

// expiryScanFrom: a request that waited less is not looked at for its
// tmax (a scan of the body, 0.16 µs per request under wrk, when every
// stamped request has waited a few µs): less than a millisecond leaves
// every real tmax time, and a request that is late anyway is no-bid by the
// decision's own deadline check (bidder.CauseLate).
const expiryScanFrom = time.Millisecond

// admit decides whether the request may be decoded. waited is how long it
// has been at callbid (0 when unknown), saturated what observe said.
func admit(n int64, waited time.Duration, saturated bool, body []byte, gzipped bool, srv *bidder.ServerConfig, ex bidder.ExchangeTerms) (shedReason, bool) {
	if waited > 0 {
		if waited >= expiryScanFrom {
			tmax := int64(-1) // unknown: bound by server.max_deadline only
			if !gzipped {
				tmax = scanTMax(body)
			}
			avail := srv.MaxDeadline
			if tmax >= 0 {
				avail = openrtb.Deadline(tmax, ex.Allowance, ex.DefaultTMax, srv.MaxDeadline)
			}
			if avail > 0 && waited >= avail {
				return shedExpired, false
			}
		}
		if saturated && srv.MaxQueueDelay > 0 && waited > srv.MaxQueueDelay {
			return shedQueue, false
		}
	}
	if srv.MaxInFlight > 0 && n > int64(srv.MaxInFlight) {
		return shedInFlight, false
	}
	return 0, true
}

// shed answers ctx with the cheapest correct no-bid for reason why.
func (r *bidRoute) shed(ctx *fasthttp.RequestCtx, ex bidder.ExchangeTerms, body []byte, gzipped bool, why shedReason) {
	r.srv.shed[why].Inc()
	if ex.NBR && !gzipped {
		if id, ok := rawRequestID(body); ok {
			var buf [160]byte
			out := append(buf[:0], `{"id":`...)
			out = append(out, id...)
			out = append(out, `,"nbr":`...)
			out = strconv.AppendUint(out, uint64(shedNBR[why]), 10)
			out = append(out, '}')
			ctx.SetContentType("application/json")
			ctx.SetStatusCode(fasthttp.StatusOK)
			ctx.SetBody(out)
			return
		}
	}
	// 204 is a valid no-bid for every exchange, and what a gzipped body or
	// one whose id cannot be found cheaply gets.
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

var tmaxKey = []byte(`"tmax"`)

// scanTMax finds "tmax" in a bid request without decoding it (only the
// request object has a tmax in OpenRTB); -1 when absent or not a plain
// integer, so the caller falls back to the widest deadline.
func scanTMax(body []byte) int64 {
	i := bytes.Index(body, tmaxKey)
	if i < 0 {
		return -1
	}
	i = skipWS(body, i+len(tmaxKey))
	if i >= len(body) || body[i] != ':' {
		return -1
	}
	i = skipWS(body, i+1)
	var v int64
	j := i
	for ; j < len(body) && body[j] >= '0' && body[j] <= '9' && j-i < 9; j++ {
		v = v*10 + int64(body[j]-'0')
	}
	if j == i || (j < len(body) && (body[j] == '.' || body[j] == 'e' || body[j] == 'E' || (body[j] >= '0' && body[j] <= '9'))) {
		return -1
	}
	return v
}

// rawRequestID returns the top-level "id" of a JSON object as its raw JSON
// string token (quotes and escapes included, so it can be copied into the
// answer as is), without decoding the rest.
func rawRequestID(b []byte) ([]byte, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i++
	for steps := 0; steps < 64; steps++ {
		i = skipWS(b, i)
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		ks := i
		var ok bool
		if i, ok = skipString(b, i); !ok {
			return nil, false
		}
		key := b[ks+1 : i-1]
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipWS(b, i+1)
		if string(key) == "id" {
			if i >= len(b) || b[i] != '"' {
				return nil, false
			}
			vs := i
			if i, ok = skipString(b, i); !ok {
				return nil, false
			}
			return b[vs:i], true
		}
		if i, ok = skipValue(b, i); !ok {
			return nil, false
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ',' {
			return nil, false
		}
		i++
	}
	return nil, false
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the JSON string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			j++
		case c == '"':
			return j + 1, true
		case c < 0x20:
			return 0, false
		}
	}
	return 0, false
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				k, ok := skipString(b, j)
				if !ok {
					return 0, false
				}
				j = k - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j, j > i
}
