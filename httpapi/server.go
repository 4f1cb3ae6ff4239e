package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/numbers"
	"github.com/callbid/callbid/status"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"github.com/valyala/fasthttp/pprofhandler"
)

// Report answers GET and HEAD on one admin route from the query parameters,
// without HTTP: the body and its content type, or an error, answered as 400
// with the error's text. feedback's /v1/report and /admin/rates are Reports.
type Report func(query url.Values) (contentType string, body []byte, err error)

// Options are the domain objects and hooks the root wiring passes in. Only
// Bidder is required; a nil one turns its routes into 404s.
type Options struct {
	// Pools answers POST /v1/calls on the public listener (JSON and Twilio's
	// form webhook) and GET /admin/pools on the admin listener.
	Pools *numbers.Pools
	// Status serves the admin listener's / and /status.json.
	Status *status.Page
	// Reports are further GET routes of the admin listener, by exact path.
	Reports map[string]Report
	// Ready reports readiness for /readyz; nil means always ready.
	Ready func() (ok bool, reasons []string)
	// Reload re-reads and applies the config for POST /admin/reload.
	Reload func() error
	// Gatherer serves /metrics (prometheus.DefaultGatherer when nil).
	Gatherer prometheus.Gatherer
}

// Server runs the public and admin listeners.
type Server struct {
	cfg    bidder.ServerConfig
	public *fasthttp.Server
	admin  *fasthttp.Server
	m      *serverMetrics
	log    zerolog.Logger

	// mu guards the listeners Serve took and whether Shutdown ran: fasthttp's
	// Shutdown does nothing to a listener whose Serve has not started yet,
	// which would then serve for ever, so Shutdown closes them itself.
	mu        sync.Mutex
	listeners []net.Listener
	shut      bool
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
func NewServer(b *bidder.Bidder, opts Options, log zerolog.Logger) *Server {
	cfg := *b.Begin(nil).Server()
	s := &Server{cfg: cfg, log: log, m: newServerMetrics()}
	bid := &bidRoute{b: b, adm: &admission{log: log}, m: &s.m.bid, srv: s.m}
	s.public = &fasthttp.Server{
		Handler:               publicHandler(b, bid, opts.Pools),
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
			s.m.bid.requests.Inc()
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				s.m.bid.bad[badTooLarge].Inc()
				ctx.SetStatusCode(fasthttp.StatusRequestEntityTooLarge)
				return
			}
			s.m.bid.bad[badMalformed].Inc()
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
		},
	}
	s.admin = &fasthttp.Server{
		Handler:         adminHandler(b, opts, func() *bidder.ServerConfig { return b.Begin(nil).Server() }, s.m, log),
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

// Handlers returns the public and admin listeners' handlers, for tests and
// tools that drive the routes without sockets.
func (s *Server) Handlers() (public, admin fasthttp.RequestHandler) {
	return s.public.Handler, s.admin.Handler
}

// RegisterMetrics registers the listeners', admission control's and the bid
// route's collectors with reg.
func (s *Server) RegisterMetrics(reg prometheus.Registerer) error {
	var errs []error
	for _, c := range s.m.collectors() {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Paths of the public listener.
const (
	PathBid        = "/openrtb2/bid"
	PathNoticeWin  = "/notice/win"
	PathNoticeBill = "/notice/bill"
	PathNoticeLoss = "/notice/loss"
	PathCalls      = "/v1/calls"
)

// publicHandler is the public listener's route table: POST /openrtb2/bid,
// the notice endpoints, and /v1/calls when pools is not nil.
func publicHandler(b *bidder.Bidder, bid *bidRoute, pools *numbers.Pools) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		switch path := ctx.Path(); string(path) {
		case PathBid:
			bid.serve(ctx)
		case PathNoticeWin:
			serveNotice(ctx, b, bidder.NoticeWin)
		case PathNoticeBill:
			serveNotice(ctx, b, bidder.NoticeBill)
		case PathNoticeLoss:
			serveNotice(ctx, b, bidder.NoticeLoss)
		case PathCalls:
			if pools == nil {
				ctx.SetStatusCode(fasthttp.StatusNotFound)
				return
			}
			serveCalls(ctx, pools)
		default:
			ctx.SetStatusCode(fasthttp.StatusNotFound)
		}
	}
}

// serveNotice serves /notice/{win|bill|loss}?t=…&p=…&c=…&m=…. HEAD checks
// the token and answers as GET would, without changing anything.
func serveNotice(ctx *fasthttp.RequestCtx, b *bidder.Bidder, kind bidder.NoticeKind) {
	if !ctx.IsGet() && !ctx.IsPost() && !ctx.IsHead() {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return
	}
	q := ctx.QueryArgs()
	ctx.SetStatusCode(b.Notice(kind, ctx.IsHead(), &bidder.NoticeQuery{Token: q.Peek("t"), Price: q.Peek("p"),
		Currency: q.Peek("c"), MinToWin: q.Peek("m")}))
}

// adminAllowed says whether ctx may use the admin endpoints that change or
// expose the process (reload, pprof): loopback clients always; others with
// the admin token, or all when server.admin_allow_remote is set.
func adminAllowed(ctx *fasthttp.RequestCtx, cfg *bidder.ServerConfig, m *serverMetrics) bool {
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

// Paths of the admin listener (besides /metrics, /healthz, /readyz and
// /debug/pprof/).
const (
	PathAdminReload = "/admin/reload"
	PathAdminPools  = "/admin/pools"
	PathAdminHolds  = "/admin/holds"
)

// adminHandler serves the admin routes; cfg returns the running server
// config, so a reload changes the admin token and switch at once.
func adminHandler(b *bidder.Bidder, opts Options, cfg func() *bidder.ServerConfig, m *serverMetrics, log zerolog.Logger) fasthttp.RequestHandler {
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
		case path == PathAdminReload:
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
		case path == PathAdminHolds && b != nil:
			serveHolds(ctx, b)
		case path == PathAdminPools && opts.Pools != nil:
			servePoolStats(ctx, opts.Pools)
		case (path == status.PathPage || path == status.PathJSON) && opts.Status != nil:
			serveStatus(ctx, opts.Status, path)
		default:
			if r, ok := opts.Reports[path]; ok {
				serveReport(ctx, r)
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
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		return errors.Join(pub.Close(), adm.Close())
	}
	s.listeners = []net.Listener{pub, adm}
	s.mu.Unlock()
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
	s.mu.Lock()
	s.shut = true
	lns := s.listeners
	s.mu.Unlock()
	err := errors.Join(s.public.ShutdownWithContext(ctx), s.admin.ShutdownWithContext(ctx))
	// A listener whose fasthttp Serve had not started when fasthttp's
	// Shutdown ran is closed here, so that Serve returns too.
	for _, ln := range lns {
		if cerr := ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = errors.Join(err, cerr)
		}
	}
	return err
}

type fasthttpLogger struct{ log zerolog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug().Msgf(format, args...)
}
