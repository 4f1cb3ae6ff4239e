package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/callbid/callbid/bidder"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// POST /openrtb2/bid: the method and size checks, admission control, gzip
// in and out, and the answer; bidder.Bid decides. 0 allocations in steady
// state (alloc_test.go).

// badReason labels bid requests refused before a decision.
type badReason uint8

const (
	badMalformed badReason = iota
	badTooLarge
	badGzip
	badMethod
	numBadReasons
)

var badReasonNames = [numBadReasons]string{"malformed", "too_large", "bad_gzip", "method"}

// bidMetrics are the bid route's collectors, resolved per label up front so
// the hot path never calls WithLabelValues.
type bidMetrics struct {
	requests prometheus.Counter
	badVec   *prometheus.CounterVec
	bad      [numBadReasons]prometheus.Counter
	latency  prometheus.Histogram
}

func newBidMetrics() bidMetrics {
	m := bidMetrics{
		requests: prometheus.NewCounter(prometheus.CounterOpts{Name: "callbid_bidder_requests_total",
			Help: "Bid requests received on /openrtb2/bid."}),
		badVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_bidder_bad_requests_total",
			Help: "Bid requests refused before a decision (400/405/413), by reason."}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "callbid_bidder_request_seconds",
			Help:    "Time from reading a bid request to writing the answer, excluding network.",
			Buckets: []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3}}),
	}
	for r := range m.bad {
		m.bad[r] = m.badVec.WithLabelValues(badReasonNames[r])
	}
	return m
}

// bidScratch is one bid request's buffers: the inflated body, the answer
// and its gzip. Pooled; outsized ones are dropped.
type bidScratch struct {
	body, out, gz []byte
}

var bidScratchPool = sync.Pool{New: func() any { return &bidScratch{out: make([]byte, 0, 8<<10)} }}

func putBidScratch(sc *bidScratch) {
	if cap(sc.body) > 4<<20 || cap(sc.out) > 1<<20 || cap(sc.gz) > 1<<20 {
		return // do not keep outsized buffers
	}
	bidScratchPool.Put(sc)
}

var errTooLarge = errors.New("decompressed body over the limit")

// bidRoute serves POST /openrtb2/bid for one public listener.
type bidRoute struct {
	b   *bidder.Bidder
	adm *admission
	m   *bidMetrics
	srv *serverMetrics
}

func (r *bidRoute) serve(ctx *fasthttp.RequestCtx) {
	// fasthttp read the clock just before calling the handler (ctx.Time);
	// a RequestCtx built without a server (tests) has none.
	start := ctx.Time()
	if start.IsZero() {
		start = time.Now()
	}
	now := start // the deadline counts from here, before decoding
	// …or from when the request reached the machine, when the kernel says:
	// time spent queued for a CPU is time the exchange is already waiting.
	var waited time.Duration
	if at := arrivedAt(ctx); at > 0 && at < start.UnixNano() {
		waited = time.Duration(start.UnixNano() - at)
		now = time.Unix(0, at)
		yieldIfBacklogged(ctx, at, start.UnixNano())
	}
	r.m.requests.Inc()
	if !ctx.IsPost() {
		r.m.bad[badMethod].Inc()
		ctx.Response.Header.Set("Allow", "POST")
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return
	}
	call := r.b.Begin(ctx.QueryArgs().Peek("exchange"))
	srv := call.Server()
	body := ctx.Request.Body()
	if len(body) > srv.MaxBodyBytes {
		r.m.bad[badTooLarge].Inc()
		ctx.SetStatusCode(fasthttp.StatusRequestEntityTooLarge)
		return
	}
	adm := r.adm
	n := adm.inFlight.Add(1)
	defer adm.inFlight.Add(-1)
	ce := ctx.Request.Header.ContentEncoding()
	encoded := len(ce) > 0 && !bytes.EqualFold(ce, []byte("identity"))
	saturated := false
	if waited > 0 && srv.MaxQueueDelay > 0 {
		saturated = adm.observe(start.UnixNano(), waited, srv.MaxQueueDelay)
	}
	ex := call.Exchange()
	if why, ok := admit(n, waited, saturated, body, encoded, srv, ex); !ok {
		r.shed(ctx, ex, body, encoded, why)
		return
	}
	sc := bidScratchPool.Get().(*bidScratch)
	defer putBidScratch(sc)
	if encoded {
		if !bytes.EqualFold(ce, []byte("gzip")) {
			r.m.bad[badGzip].Inc()
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
		var err error
		sc.body, err = inflate(sc.body[:0], body, srv.MaxDecompressedBytes)
		switch {
		case errors.Is(err, errTooLarge):
			r.m.bad[badTooLarge].Inc()
			ctx.SetStatusCode(fasthttp.StatusRequestEntityTooLarge)
			return
		case err != nil:
			r.m.bad[badGzip].Inc()
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
		body = sc.body
	}
	in := bidder.BidInput{Body: body, Client: remoteAddr(ctx), Now: now, Debug: peekCanonical(&ctx.Request.Header, bidder.DebugHeader)}
	var err error
	sc.out, err = r.b.Bid(call, &in, sc.out[:0])
	switch {
	case err != nil:
		r.m.bad[badMalformed].Inc()
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	case len(sc.out) == 0:
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	default:
		writeJSON(ctx, sc)
	}
	r.m.latency.Observe(time.Since(start).Seconds())
}

// peekCanonical is h.Peek(key) for a key already in fasthttp's canonical
// form (X-Callbid-Debug): the request's keys were normalized when it was
// parsed, so the lookup skips Peek's copy and normalization of key, which
// cost about as much as the rest of the bid route's header work.
func peekCanonical(h *fasthttp.RequestHeader, key string) []byte {
	h.DisableNormalizing()
	v := h.Peek(key)
	h.EnableNormalizing()
	return v
}

// remoteAddr is the TCP peer of ctx (unspecified when not TCP).
func remoteAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	a, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return a
}

// writeJSON answers 200 with sc.out, gzipped when it is worth it and the
// client accepts it.
func writeJSON(ctx *fasthttp.RequestCtx, sc *bidScratch) {
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(fasthttp.StatusOK)
	if len(sc.out) > 256 && ctx.Request.Header.HasAcceptEncoding("gzip") {
		if gzBody, err := deflate(sc.gz[:0], sc.out); err == nil {
			sc.gz = gzBody
			ctx.Response.Header.SetContentEncoding("gzip")
			ctx.SetBody(sc.gz)
			return
		}
	}
	ctx.SetBody(sc.out)
}

// gzWriter is a pooled gzip writer appending into a byte slice.
type gzWriter struct {
	w   *gzip.Writer
	dst appendWriter
}

type appendWriter struct{ b []byte }

func (a *appendWriter) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

var gzWriterPool sync.Pool

// deflate gzips src onto dst at the fastest level (responses are ~1 KB:
// speed matters more than ratio).
func deflate(dst, src []byte) ([]byte, error) {
	g, _ := gzWriterPool.Get().(*gzWriter)
	if g == nil {
		g = &gzWriter{}
		w, err := gzip.NewWriterLevel(&g.dst, gzip.BestSpeed)
		if err != nil {
			return dst, err
		}
		g.w = w
	}
	defer gzWriterPool.Put(g)
	g.dst.b = dst
	g.w.Reset(&g.dst)
	if _, err := g.w.Write(src); err != nil {
		return dst, err
	}
	if err := g.w.Close(); err != nil {
		return dst, err
	}
	out := g.dst.b
	g.dst.b = nil
	return out, nil
}

type gzState struct {
	r   *gzip.Reader
	src bytes.Reader
}

var gzPool sync.Pool

// inflate gunzips src into dst, reading at most limit+1 bytes of output so a
// gzip bomb is refused after inflating only the limit.
func inflate(dst, src []byte, limit int) ([]byte, error) {
	g, _ := gzPool.Get().(*gzState)
	if g == nil {
		g = &gzState{}
	}
	defer gzPool.Put(g)
	g.src.Reset(src)
	if g.r == nil {
		r, err := gzip.NewReader(&g.src)
		if err != nil {
			return dst, err
		}
		g.r = r
	} else if err := g.r.Reset(&g.src); err != nil {
		return dst, err
	}
	g.r.Multistream(false)
	for {
		if len(dst) == cap(dst) {
			n := max(2*cap(dst), 4096)
			if n > limit+1 {
				n = limit + 1
			}
			if n <= len(dst) {
				return dst, errTooLarge
			}
			dst = append(dst[:cap(dst)], make([]byte, n-cap(dst))...)[:len(dst)]
		}
		n, err := g.r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > limit {
			return dst, errTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
