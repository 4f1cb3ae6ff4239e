package bidder

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/callbid/callbid/openrtb"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"github.com/valyala/fasthttp/pprofhandler"
)

// Handler is the public listener's handler: POST /openrtb2/bid, the notice
// endpoints, and /v1/calls when calls is not nil.
func (b *Bidder) Handler(calls fasthttp.RequestHandler) fasthttp.RequestHandler {
	adm := &admission{log: b.log}
	return func(ctx *fasthttp.RequestCtx) {
		switch path := ctx.Path(); string(path) {
		case "/openrtb2/bid":
			b.serveBid(ctx, adm)
		case "/notice/win":
			b.handleNotice(ctx, noticeWin)
		case "/notice/bill":
			b.handleNotice(ctx, noticeBill)
		case "/notice/loss":
			b.handleNotice(ctx, noticeLoss)
		case "/v1/calls":
			if calls == nil {
				ctx.SetStatusCode(fasthttp.StatusNotFound)
				return
			}
			calls(ctx)
		default:
			ctx.SetStatusCode(fasthttp.StatusNotFound)
		}
	}
}

var errTooLarge = errors.New("decompressed body over the limit")

func (b *Bidder) serveBid(ctx *fasthttp.RequestCtx, adm *admission) {
	start := time.Now()
	now := start // the deadline counts from here, before decoding
	// …or from when the request reached the machine, when the kernel says:
	// time spent queued for a CPU is time the exchange is already waiting.
	var waited time.Duration
	if at := arrivedAt(ctx); at > 0 && at < start.UnixNano() {
		waited = time.Duration(start.UnixNano() - at)
		now = time.Unix(0, at)
	}
	if b.pinnedClock {
		now = b.now()
	}
	b.m.requests.Inc()
	if !ctx.IsPost() {
		b.m.bad[badMethod].Inc()
		ctx.Response.Header.Set("Allow", "POST")
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return
	}
	s := b.snap.Load()
	srv := &s.cfg.Server
	body := ctx.Request.Body()
	if len(body) > srv.MaxBodyBytes {
		b.m.bad[badTooLarge].Inc()
		ctx.SetStatusCode(fasthttp.StatusRequestEntityTooLarge)
		return
	}
	n := adm.inFlight.Add(1)
	defer adm.inFlight.Add(-1)
	ex := s.exchange(ctx.QueryArgs().Peek("exchange"))
	ce := ctx.Request.Header.ContentEncoding()
	encoded := len(ce) > 0 && !bytes.EqualFold(ce, []byte("identity"))
	saturated := false
	if waited > 0 && srv.MaxQueueDelay > 0 {
		saturated = adm.observe(start.UnixNano(), waited, srv.MaxQueueDelay)
	}
	if r, ok := admit(n, waited, saturated, body, encoded, srv, ex); !ok {
		b.shed(ctx, ex, body, encoded, r)
		return
	}
	d := b.getDecision()
	defer b.putDecision(d)
	if encoded {
		if !bytes.EqualFold(ce, []byte("gzip")) {
			b.m.bad[badGzip].Inc()
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
		var err error
		d.body, err = inflate(d.body[:0], body, srv.MaxDecompressedBytes)
		switch {
		case errors.Is(err, errTooLarge):
			b.m.bad[badTooLarge].Inc()
			ctx.SetStatusCode(fasthttp.StatusRequestEntityTooLarge)
			return
		case err != nil:
			b.m.bad[badGzip].Inc()
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
		body = d.body
	}
	dec := openrtb.AcquireDecoder()
	defer openrtb.ReleaseDecoder(dec)
	req, err := dec.Decode(body)
	if err != nil {
		b.m.bad[badMalformed].Inc()
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	d.client, d.hasClient = clientAddr(ctx), true
	b.decide(d, s, req, ex, now)
	// An operator's debug request (the admin token in DebugHeader) gets
	// each campaign's reason in the response ext; others pay one header peek.
	dbg := debugAllowed(ctx, srv)

	if len(d.Bids) == 0 {
		b.m.noBids[d.Cause].Inc()
		if e := b.debugLog.Debug(); e != nil {
			e.Str("request_id", req.ID).Str("exchange", ex.name).Str("reason", d.Cause.String()).
				Uint16("nbr", uint16(d.Cause.NBR())).Msg("no bid")
		}
		if ex.nbr || dbg {
			d.out = openrtb.AppendNoBidResponse(d.out[:0], req.ID, d.Cause.NBR())
			if dbg {
				d.out = appendDebugExt(d.out, d, s)
			}
			b.writeJSON(ctx, d)
		} else {
			ctx.SetStatusCode(fasthttp.StatusNoContent)
		}
		b.m.latency.Observe(time.Since(start).Seconds())
		return
	}
	b.m.bids.Add(float64(len(d.Bids)))
	d.out = openrtb.AppendResponse(d.out[:0], req.ID, d.Bids[0].ID, d.Cur, srv.Seat, d.Bids)
	if dbg {
		d.out = appendDebugExt(d.out, d, s)
	}
	b.writeJSON(ctx, d)
	b.m.latency.Observe(time.Since(start).Seconds())
}

func (b *Bidder) writeJSON(ctx *fasthttp.RequestCtx, d *decision) {
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(fasthttp.StatusOK)
	if len(d.out) > 256 && ctx.Request.Header.HasAcceptEncoding("gzip") {
		if gzBody, err := deflate(d.gz[:0], d.out); err == nil {
			d.gz = gzBody
			ctx.Response.Header.SetContentEncoding("gzip")
			ctx.SetBody(d.gz)
			return
		}
	}
	ctx.SetBody(d.out)
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

// ServerOptions are the handlers and hooks the root wiring passes in.
type ServerOptions struct {
	// Calls serves POST /v1/calls on the public listener (numbers).
	Calls fasthttp.RequestHandler
	// Ready reports readiness for /readyz; nil means always ready.
	Ready func() (ok bool, reasons []string)
	// Reload re-reads and applies the config for POST /admin/reload.
	Reload func() error
	// Gatherer serves /metrics (prometheus.DefaultGatherer when nil).
	Gatherer prometheus.Gatherer
	// Admin adds exact-path routes to the admin listener (/admin/pools, /v1/report, …).
	Admin map[string]fasthttp.RequestHandler
}

// Server runs the public and admin listeners.
type Server struct {
	cfg    ServerConfig
	public *fasthttp.Server
	admin  *fasthttp.Server
	m      *serverMetrics
	log    zerolog.Logger
}

// Connection limits of the admin listener: operators and a scraper, not
// exchanges.
const (
	adminMaxConns      = 64
	adminMaxConnsPerIP = 16
	// fdReserve is kept out of server.max_conns for Kafka, log and config
	// files and the admin listener.
	fdReserve = 128
)

// NewServer builds both listeners from the bidder's current server config.
func NewServer(b *Bidder, opts ServerOptions, log zerolog.Logger) *Server {
	cfg := b.snap.Load().cfg.Server
	s := &Server{cfg: cfg, log: log, m: b.m.srv}
	s.public = &fasthttp.Server{
		Handler:               b.Handler(opts.Calls),
		Name:                  "callbid",
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		MaxRequestBodySize:    cfg.MaxBodyBytes,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		CloseOnShutdown:       true,
		ConnState:             connState,
		Logger:                fasthttpLogger{log},
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			// The request could not be read; answer with an empty body.
			b.m.requests.Inc()
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				b.m.bad[badTooLarge].Inc()
				ctx.SetStatusCode(fasthttp.StatusRequestEntityTooLarge)
				return
			}
			b.m.bad[badMalformed].Inc()
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
		},
	}
	s.admin = &fasthttp.Server{
		Handler:         adminHandler(opts, func() *ServerConfig { return &b.snap.Load().cfg.Server }, s.m, log),
		Name:            "callbid-admin",
		ReadTimeout:     cfg.ReadTimeout,
		WriteTimeout:    60 * time.Second, // pprof profiles take a while
		IdleTimeout:     cfg.IdleTimeout,
		CloseOnShutdown: true,
		ConnState:       connState,
		Logger:          fasthttpLogger{log},
	}
	return s
}

// adminAllowed says whether ctx may use the admin endpoints that change or
// expose the process (reload, pprof): loopback clients always; others with
// the admin token, or all when server.admin_allow_remote is set.
func adminAllowed(ctx *fasthttp.RequestCtx, cfg *ServerConfig, m *serverMetrics) bool {
	if cfg.AdminAllowRemote {
		return true
	}
	if ip := ctx.RemoteIP(); ip != nil && ip.IsLoopback() {
		return true
	}
	if cfg.AdminToken == "" {
		m.adminVec.WithLabelValues("not_loopback").Inc()
		ctx.SetStatusCode(fasthttp.StatusForbidden)
		ctx.SetBodyString("reload and pprof answer loopback clients only: set server.admin_token (CALLBID_ADMIN_TOKEN) " +
			"and send it as a bearer token, or set server.admin_allow_remote\n")
		return false
	}
	auth := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	tok, ok := bytes.CutPrefix(auth, []byte("Bearer "))
	if !ok || subtle.ConstantTimeCompare(bytes.TrimSpace(tok), []byte(cfg.AdminToken)) != 1 {
		m.adminVec.WithLabelValues("bad_token").Inc()
		ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Bearer realm="callbid-admin"`)
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		ctx.SetBodyString("reload and pprof need the admin token as \"Authorization: Bearer <token>\" from beyond loopback\n")
		return false
	}
	return true
}

// adminHandler serves the admin routes; cfg returns the running server
// config, so a reload changes the admin token and switch at once.
func adminHandler(opts ServerOptions, cfg func() *ServerConfig, m *serverMetrics, log zerolog.Logger) fasthttp.RequestHandler {
	g := opts.Gatherer
	if g == nil {
		g = prometheus.DefaultGatherer
	}
	metricsH := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	return func(ctx *fasthttp.RequestCtx) {
		path := string(ctx.Path())
		switch {
		case path == "/healthz":
			ctx.SetBodyString("ok\n")
		case path == "/readyz":
			if opts.Ready == nil {
				ctx.SetBodyString("ok\n")
				return
			}
			ok, reasons := opts.Ready()
			if !ok {
				ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
				ctx.SetBodyString(strings.Join(reasons, "\n") + "\n")
				return
			}
			ctx.SetBodyString("ok\n")
		case path == "/metrics":
			metricsH(ctx)
		case strings.HasPrefix(path, "/debug/pprof"):
			if !adminAllowed(ctx, cfg(), m) {
				return
			}
			pprofhandler.PprofHandler(ctx)
		case path == "/admin/reload":
			if !ctx.IsPost() {
				ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
				return
			}
			if !adminAllowed(ctx, cfg(), m) {
				return
			}
			if opts.Reload == nil {
				ctx.SetStatusCode(fasthttp.StatusNotImplemented)
				return
			}
			log.Info().Str("client", ctx.RemoteIP().String()).Msg("reload requested on the admin listener")
			if err := opts.Reload(); err != nil {
				ctx.SetStatusCode(fasthttp.StatusUnprocessableEntity)
				ctx.SetBodyString(err.Error() + "\n")
				return
			}
			ctx.SetBodyString("reloaded\n")
		default:
			if h, ok := opts.Admin[path]; ok {
				h(ctx)
				return
			}
			ctx.SetStatusCode(fasthttp.StatusNotFound)
		}
	}
}

// Serve serves on the given listeners (tests pass 127.0.0.1:0 listeners),
// wrapped so that accept errors are retried and connections limited.
func (s *Server) Serve(public, admin net.Listener) error {
	maxConns := s.cfg.MaxConns
	if limit, ok := fileLimit(); ok && maxConns > 0 && uint64(maxConns+adminMaxConns+fdReserve) > limit {
		fit := int(limit) - adminMaxConns - fdReserve
		fit = max(fit, min(int(limit)/2, maxConns))
		s.log.Warn().Int("max_conns", maxConns).Uint64("file_limit", limit).Int("using", fit).
			Msg("server.max_conns does not fit the process's file limit (ulimit -n); lowered")
		maxConns = fit
	}
	pub := newGuardedListener(public, connLimits{name: "public", maxConns: maxConns, maxPerIP: s.cfg.MaxConnsPerIP},
		&s.m.public, s.log)
	adm := newGuardedListener(admin, connLimits{name: "admin", maxConns: adminMaxConns, maxPerIP: adminMaxConnsPerIP},
		&s.m.admin, s.log)
	if !isLoopbackAddr(admin.Addr()) {
		e := s.log.Warn().Str("admin_listen", admin.Addr().String())
		switch {
		case s.cfg.AdminAllowRemote:
			e.Msg("the admin listener is reachable beyond loopback and server.admin_allow_remote opens reload and pprof to every client that reaches it")
		case s.cfg.AdminToken != "":
			e.Msg("the admin listener is reachable beyond loopback: /metrics, /readyz and reports are open to it; reload and pprof need the admin token")
		default:
			e.Msg("the admin listener is reachable beyond loopback: /metrics, /readyz and reports are open to it; reload and pprof answer loopback clients only (set server.admin_token to allow others)")
		}
	}
	s.log.Info().Str("listen", public.Addr().String()).Str("admin_listen", admin.Addr().String()).
		Int("max_conns", maxConns).Int("max_conns_per_ip", s.cfg.MaxConnsPerIP).Msg("serving")
	errc := make(chan error, 2)
	go func() { errc <- s.public.Serve(pub) }()
	go func() { errc <- s.admin.Serve(adm) }()
	err := <-errc
	if err != nil { // one listener failed: stop the other too
		s.log.Error().Err(err).Msg("a listener failed; stopping both")
		_ = s.Shutdown(context.Background())
	}
	if err2 := <-errc; err == nil {
		err = err2
	}
	return err
}

func isLoopbackAddr(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return !ok || ta.IP.IsLoopback()
}

// Shutdown stops accepting, lets requests in flight finish, and returns when
// both listeners are idle or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.public.ShutdownWithContext(ctx), s.admin.ShutdownWithContext(ctx))
}

type fasthttpLogger struct{ log zerolog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug().Msgf(format, args...)
}
