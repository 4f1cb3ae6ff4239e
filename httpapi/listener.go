package httpapi

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// The accept side of both listeners. fasthttp closes its listener on any
// accept error other than a timeout, so one client holding enough idle
// keep-alive connections to exhaust the file limit (EMFILE) used to take
// callbid off the network for good. guardedListener keeps accepting through
// temporary errors with a backoff, limits connections in total and per
// client IP, and when a limit is reached closes the longest-idle connection
// (of that IP for the per-IP limit, of the IP holding the most connections
// for the total) before it refuses the new one.
//
// Goroutines: Accept runs on fasthttp's accept loop; connState on the
// connections' goroutines (atomics only, it runs twice per request); Close
// from anywhere. The registry of connections is behind a mutex taken only on
// accept and close, never per request.

// connLimit labels which limit closed or refused a connection.
type connLimit uint8

const (
	limitTotal connLimit = iota // server.max_conns
	limitPerIP                  // server.max_conns_per_ip
	limitFiles                  // accept failed: out of file descriptors
	numConnLimits
)

var connLimitNames = [numConnLimits]string{"total", "per_ip", "files"}

// Connection states (fasthttp's ConnState, reduced to what eviction needs).
const (
	connIdle    int32 = iota // new (nothing read yet) or between requests
	connActive               // a request is being read, handled or written
	connClosing              // chosen for eviction
)

// listenerMetrics are one listener's collectors, resolved per label.
type listenerMetrics struct {
	acceptErrors prometheus.Counter
	open         prometheus.Gauge
	refused      [numConnLimits]prometheus.Counter
	evicted      [numConnLimits]prometheus.Counter
}

// serverMetrics are the listeners', admission control's and the bid
// route's collectors.
type serverMetrics struct {
	bid          bidMetrics
	acceptErrVec *prometheus.CounterVec
	openVec      *prometheus.GaugeVec
	refusedVec   *prometheus.CounterVec
	evictedVec   *prometheus.CounterVec
	shedVec      *prometheus.CounterVec
	shed         [numShedReasons]prometheus.Counter
	adminVec     *prometheus.CounterVec
	public       listenerMetrics
	admin        listenerMetrics
}

func newServerMetrics() *serverMetrics {
	m := &serverMetrics{
		bid: newBidMetrics(),
		acceptErrVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_server_accept_errors_total",
			Help: "Temporary accept errors (out of file descriptors, aborted handshakes); the listener retried with a backoff."},
			[]string{"listener"}),
		openVec: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "callbid_server_connections",
			Help: "Open client connections."}, []string{"listener"}),
		refusedVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_server_connections_refused_total",
			Help: "New connections closed at once because a limit was reached and no idle connection could make room."},
			[]string{"listener", "limit"}),
		evictedVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_server_connections_evicted_total",
			Help: "Idle keep-alive connections closed to make room for a new one, by the limit that was reached."},
			[]string{"listener", "limit"}),
		shedVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_bidder_shed_total",
			Help: "Bid requests answered with a no-bid before decoding because callbid was overloaded, by reason."},
			[]string{"reason"}),
		adminVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_server_admin_refused_total",
			Help: "Admin requests (reload, pprof) refused: from beyond loopback without the admin token."},
			[]string{"reason"}),
	}
	for i := range m.shed {
		m.shed[i] = m.shedVec.WithLabelValues(shedReasonNames[i])
	}
	for name, lm := range map[string]*listenerMetrics{"public": &m.public, "admin": &m.admin} {
		lm.acceptErrors = m.acceptErrVec.WithLabelValues(name)
		lm.open = m.openVec.WithLabelValues(name)
		for l := range lm.refused {
			lm.refused[l] = m.refusedVec.WithLabelValues(name, connLimitNames[l])
			lm.evicted[l] = m.evictedVec.WithLabelValues(name, connLimitNames[l])
		}
	}
	return m
}

func (m *serverMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.bid.requests, m.bid.badVec, m.bid.latency, m.acceptErrVec, m.openVec, m.refusedVec, m.evictedVec, m.shedVec, m.adminVec}
}

// connLimits configure one guardedListener; 0 means no limit.
type connLimits struct {
	name     string // "public" or "admin", for logs
	maxConns int
	maxPerIP int
}

type guardedListener struct {
	net.Listener
	limits connLimits
	m      *listenerMetrics
	log    zerolog.Logger
	done   chan struct{}
	once   sync.Once
	// sleep waits for the accept backoff; tests replace it to avoid waiting.
	sleep func(d time.Duration, done <-chan struct{})

	mu    sync.Mutex
	byIP  map[netip.Addr]map[*guardedConn]struct{}
	total int

	lastLog   atomic.Int64 // unix ns of the last limit/accept log line
	suppessed atomic.Int64 // log lines skipped since
}

func newGuardedListener(ln net.Listener, limits connLimits, m *listenerMetrics, log zerolog.Logger) *guardedListener {
	enableRxTimestamps(ln)
	return &guardedListener{Listener: ln, limits: limits, m: m, log: log, done: make(chan struct{}),
		sleep: sleepOrDone, byIP: map[netip.Addr]map[*guardedConn]struct{}{}}
}

func sleepOrDone(d time.Duration, done <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
	logEvery         = 10 * time.Second
	// maxFreedInARow bounds the idle connections closed for descriptors
	// before the accept loop backs off (another thread may take them).
	maxFreedInARow = 8
)

// Accept returns the next connection, retrying temporary errors with a
// backoff; it fails only when the listener is closed or the error is not one
// a later accept can recover from.
func (l *guardedListener) Accept() (net.Conn, error) {
	backoff := acceptBackoffMin
	freed := 0 // descriptors freed in a row without a successful accept
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.done:
				return nil, net.ErrClosed
			default:
			}
			if !temporaryAcceptError(err) {
				return nil, err
			}
			l.m.acceptErrors.Inc()
			l.warn(func(e *zerolog.Event) {
				e.Err(err).Dur("retry_in", backoff).Msg("accept failed; retrying (connections still open are served)")
			})
			if (errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) && freed < maxFreedInARow && l.evictForFiles() {
				// A descriptor freed is a connection accepted: retry at
				// once, the client is waiting.
				freed++
				continue
			}
			l.sleep(backoff, l.done)
			backoff = min(2*backoff, acceptBackoffMax)
			freed = 0
			continue
		}
		backoff, freed = acceptBackoffMin, 0
		if gc := l.admit(c); gc != nil {
			return gc, nil
		}
	}
}

// Close stops Accept (also one sleeping in a backoff).
func (l *guardedListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// temporaryAcceptError reports errors after which accept can succeed again:
// out of descriptors or memory, a connection aborted before it was accepted,
// or a timeout.
func temporaryAcceptError(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ECONNRESET,
		syscall.ENOBUFS, syscall.ENOMEM, syscall.EPROTO, syscall.EPERM, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// admit registers c, making room under the limits by closing idle
// connections; it returns nil when c had to be refused (and is closed).
func (l *guardedListener) admit(c net.Conn) *guardedConn {
	gc := &guardedConn{Conn: c, l: l, ip: remoteIP(c)}
	gc.idleAt.Store(time.Now().UnixNano())
	var victims [2]*guardedConn
	var refused bool
	var limit connLimit
	l.mu.Lock()
	conns := l.byIP[gc.ip]
	if l.limits.maxPerIP > 0 && len(conns) >= l.limits.maxPerIP {
		limit = limitPerIP
		if victims[0] = l.claimIdle(conns); victims[0] == nil {
			refused = true
		}
	}
	if !refused && l.limits.maxConns > 0 && l.total >= l.limits.maxConns {
		limit = limitTotal
		if victims[1] = l.claimIdleAnywhere(); victims[1] == nil {
			refused = true
		}
	}
	if !refused {
		if conns == nil {
			conns = map[*guardedConn]struct{}{}
			l.byIP[gc.ip] = conns
		}
		conns[gc] = struct{}{}
		l.total++
	}
	l.mu.Unlock()
	for _, v := range victims {
		if v != nil {
			l.m.evicted[limit].Inc()
			_ = v.Conn.Close()
		}
	}
	if refused {
		l.m.refused[limit].Inc()
		_ = c.Close()
		l.warn(func(e *zerolog.Event) {
			e.Str("client", gc.ip.String()).Str("limit", connLimitNames[limit]).
				Msg("connection limit reached with no idle connection to close; new connection refused")
		})
		return nil
	}
	if victims[0] != nil || victims[1] != nil {
		l.warn(func(e *zerolog.Event) {
			e.Str("client", gc.ip.String()).Str("limit", connLimitNames[limit]).
				Msg("connection limit reached; closed the longest-idle connection to make room")
		})
	}
	l.m.open.Inc()
	if rx, ok := newRawSocket(c); ok {
		gc.rx = rx
	}
	return gc
}

// claimIdle picks the longest-idle connection of conns, marks it closing and
// removes it from the registry. The caller holds l.mu and closes it after.
func (l *guardedListener) claimIdle(conns map[*guardedConn]struct{}) *guardedConn {
	var best *guardedConn
	var bestAt int64
	for c := range conns {
		if c.state.Load() != connIdle {
			continue
		}
		if at := c.idleAt.Load(); best == nil || at < bestAt {
			best, bestAt = c, at
		}
	}
	if best == nil || !best.state.CompareAndSwap(connIdle, connClosing) || !best.closed.CompareAndSwap(false, true) {
		return nil
	}
	l.removeLocked(best)
	return best
}

// claimIdleAnywhere takes an idle connection from the IP holding the most
// connections (the one most likely to be hoarding them), falling back to the
// others in turn.
func (l *guardedListener) claimIdleAnywhere() *guardedConn {
	var biggest map[*guardedConn]struct{}
	for _, conns := range l.byIP {
		if len(conns) > len(biggest) {
			biggest = conns
		}
	}
	if v := l.claimIdle(biggest); v != nil {
		return v
	}
	for _, conns := range l.byIP {
		if v := l.claimIdle(conns); v != nil {
			return v
		}
	}
	return nil
}

// evictForFiles closes the longest-idle connection of the biggest holder to
// free a descriptor; false when none is idle.
func (l *guardedListener) evictForFiles() bool {
	l.mu.Lock()
	v := l.claimIdleAnywhere()
	l.mu.Unlock()
	if v == nil {
		return false
	}
	l.m.evicted[limitFiles].Inc()
	_ = v.Conn.Close()
	return true
}

func (l *guardedListener) removeLocked(c *guardedConn) {
	conns := l.byIP[c.ip]
	if _, ok := conns[c]; !ok {
		return
	}
	delete(conns, c)
	if len(conns) == 0 {
		delete(l.byIP, c.ip)
	}
	l.total--
	l.m.open.Dec()
}

// warn logs at most one line per logEvery, saying how many were skipped.
func (l *guardedListener) warn(f func(e *zerolog.Event)) {
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(logEvery) || !l.lastLog.CompareAndSwap(last, now) {
		l.suppessed.Add(1)
		return
	}
	e := l.log.Warn().Str("listener", l.limits.name).Int64("similar_lines_skipped", l.suppessed.Swap(0))
	f(e)
}

// connState is fasthttp's ConnState hook: it keeps each connection's state
// for eviction. Lock-free: it runs twice per request.
func connState(c net.Conn, st fasthttp.ConnState) {
	gc, ok := c.(*guardedConn)
	if !ok {
		return
	}
	switch st {
	case fasthttp.StateActive:
		gc.state.CompareAndSwap(connIdle, connActive)
	case fasthttp.StateIdle:
		// Eviction only orders connections by idleness: the kernel's
		// receive time of the request just answered (read on this
		// goroutine) orders them as well as the clock would, without
		// reading it once more per request.
		at := int64(0)
		if gc.rx != nil {
			at = gc.rx.at
		}
		if at == 0 {
			at = time.Now().UnixNano()
		}
		gc.idleAt.Store(at)
		gc.state.CompareAndSwap(connActive, connIdle)
	}
}

func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// guardedConn is an accepted connection in the registry.
type guardedConn struct {
	net.Conn
	l      *guardedListener
	ip     netip.Addr
	state  atomic.Int32
	idleAt atomic.Int64 // unix ns it last went idle (or its last request arrived; or was accepted)
	closed atomic.Bool
	rx     *rawSocket // nil: no kernel receive timestamps (and plain writes) on this platform or conn
	rdl    lazyDeadline
	wdl    lazyDeadline
	// yieldWrite: yield before writing the answer (writeyield.go); set and
	// read on the connection's goroutine.
	yieldWrite bool
}

// Read reads through recvmsg where it can, to learn when the bytes arrived,
// and goes on after the socket's deadline fired early (see lazyDeadline).
func (c *guardedConn) Read(p []byte) (int, error) {
	for {
		var n int
		var err error
		if c.rx != nil {
			n, err = c.rx.read(p)
		} else {
			n, err = c.Conn.Read(p)
		}
		if err == nil || n > 0 || !c.rdl.retry(err, c.Conn.SetReadDeadline) {
			return n, err
		}
	}
}

// Close removes the connection from the registry and closes it.
func (c *guardedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.mu.Lock()
		c.l.removeLocked(c)
		c.l.mu.Unlock()
	}
	return c.Conn.Close()
}

// arrivedAt is the kernel's receive time (unix ns) of the bytes last read on
// the connection of ctx, or 0 when unknown. The handler calls it on the
// connection's own goroutine, which is the only one that reads.
func arrivedAt(ctx *fasthttp.RequestCtx) int64 {
	if gc, ok := ctx.Conn().(*guardedConn); ok && gc.rx != nil {
		return gc.rx.at
	}
	return 0
}
