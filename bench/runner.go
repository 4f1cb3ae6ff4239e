package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// ticket is one scheduled request: when it should go out and its number.
type ticket struct {
	at       int64 // unix nanoseconds
	seq      uint64
	measured bool
}

// engine holds what survives between phases (find-max steps): the client
// with its warm connections and the pre-built bodies.
type engine struct {
	cfg      Config
	hc       *fasthttp.HostClient
	uri      string
	bodies   []Body
	nonce    uint64
	loop     *closedLoop
	progress io.Writer
	seqBase  uint64 // tickets already issued by earlier phases
	// raw, when set, sends every request (see rawClient); the senders are
	// then only used by the general client.
	raw *rawClient
}

func newEngine(cfg Config, bodies []Body, loop *closedLoop, progress io.Writer) (*engine, error) {
	u, err := url.Parse(cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	hc := &fasthttp.HostClient{
		Addr:                      hostPort(u),
		IsTLS:                     u.Scheme == "https",
		MaxConns:                  cfg.Conns,
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		ReadBufferSize:            16 << 10,
		WriteBufferSize:           16 << 10,
		MaxConnWaitTimeout:        cfg.Timeout,
		MaxIdleConnDuration:       time.Minute,
		NoDefaultUserAgentHeader:  true,
	}
	seed := uint64(cfg.Seed)
	e := &engine{
		cfg:      cfg,
		hc:       hc,
		uri:      strings.TrimRight(cfg.Target, "/") + cfg.BidPath,
		bodies:   bodies,
		nonce:    rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano()))).Uint64() & 0xffffff,
		loop:     loop,
		progress: progress,
	}
	if cfg.Client != ClientFastHTTP {
		raw, err := newRawClient(e)
		switch {
		case err == nil:
			e.raw = raw
		case cfg.Client == ClientRaw:
			return nil, fmt.Errorf("client: %w", err)
		}
	}
	return e, nil
}

// close releases the raw client's sockets.
func (e *engine) close() {
	if e.raw != nil {
		e.raw.close()
	}
}

// checkReachable dials the target once so a wrong port fails at once with
// a one-line message instead of a run full of errors.
func checkReachable(target string, timeout time.Duration) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp", hostPort(u), timeout)
	if err != nil {
		return fmt.Errorf("target %s is not reachable: %w", hostPort(u), rootCause(err))
	}
	return c.Close()
}

// phase is one constant-rate stretch: warm-up, then measurement.
type phase struct {
	rate     float64
	warmup   time.Duration
	duration time.Duration
	requests int64
	label    string
}

// sender is one connection's worker: one request in flight at a time.
type sender struct {
	e        *engine
	id       int
	reqPlain *fasthttp.Request
	reqGzip  *fasthttp.Request
	resp     *fasthttp.Response
	buf      []byte
	unzipped []byte // decompressed answer body, reused
	parser   fastjson.Parser
	rng      *rand.Rand

	win     window                  // current second, for the time series
	spare   *hdrhistogram.Histogram // swapped with win.hist
	spareS  *hdrhistogram.Histogram // swapped with win.svc
	total   tally                   // measured requests only; read after the phase
	latency *hdrhistogram.Histogram // from scheduled time
	service *hdrhistogram.Histogram // from actual send
	sendLag *hdrhistogram.Histogram // actual send - scheduled
}

func (e *engine) newSender(id int) *sender {
	s := &sender{e: e, id: id,
		reqPlain: fasthttp.AcquireRequest(), reqGzip: fasthttp.AcquireRequest(), resp: fasthttp.AcquireResponse(),
		rng:   rand.New(rand.NewPCG(uint64(e.cfg.Seed), uint64(id)+1)),
		spare: newHist(seriesSig), spareS: newHist(seriesSig),
		latency: newHist(histSig), service: newHist(histSig), sendLag: newHist(histSig),
	}
	s.win.hist, s.win.svc = newHist(seriesSig), newHist(seriesSig)
	for _, r := range []*fasthttp.Request{s.reqPlain, s.reqGzip} {
		r.SetRequestURI(e.uri)
		r.Header.SetMethod(fasthttp.MethodPost)
		r.Header.SetContentType("application/json")
		r.Header.Set("x-openrtb-version", "2.6")
		if e.cfg.Gzip {
			r.Header.Set(fasthttp.HeaderAcceptEncoding, "gzip")
		}
	}
	s.reqGzip.Header.Set(fasthttp.HeaderContentEncoding, "gzip")
	return s
}

func (s *sender) release() {
	fasthttp.ReleaseRequest(s.reqPlain)
	fasthttp.ReleaseRequest(s.reqGzip)
	fasthttp.ReleaseResponse(s.resp)
}

func (s *sender) resetPhase() {
	s.total.reset()
	s.latency.Reset()
	s.service.Reset()
	s.sendLag.Reset()
}

const hexDigits = "0123456789abcdef"

// serve sends every ticket it receives until the channel closes. After ctx
// is cancelled the remaining tickets are dropped unsent and uncounted.
func (s *sender) serve(ctx context.Context, tickets <-chan ticket) {
	var one tally
	for t := range tickets {
		if ctx.Err() != nil {
			continue
		}
		s.handle(t, &one)
	}
}

// handle sends one ticket's request and records the outcome; one is scratch.
func (s *sender) handle(t ticket, one *tally) {
	timeout := s.e.cfg.Timeout
	one.resetOne()
	now := time.Now()
	lag := time.Duration(now.UnixNano() - t.at)
	var lat, svc time.Duration
	ok := false
	if lag >= timeout || (s.e.cfg.MaxSendLag > 0 && lag > s.e.cfg.MaxSendLag) {
		// It waited in the bench's queue (all connections busy) past its
		// deadline, or past -max-send-lag: an exchange would have given up
		// on it too, or skipped the bidder for this auction.
		one.timeouts++
		one.expired++
	} else {
		b := &s.e.bodies[t.seq%uint64(len(s.e.bodies))]
		req := s.reqPlain
		if b.Gzip {
			req = s.reqGzip
		}
		if b.IDOff >= 0 {
			s.buf = append(s.buf[:0], b.Data...)
			id := s.e.nonce<<40 | t.seq&(1<<40-1)
			for i := 15; i >= 0; i-- {
				s.buf[b.IDOff+i] = hexDigits[id&15]
				id >>= 4
			}
			req.SetBodyRaw(s.buf)
		} else {
			req.SetBodyRaw(b.Data)
		}
		s.resp.Reset()
		one.sent++
		err := s.e.hc.DoTimeout(req, s.resp, timeout-lag)
		end := time.Now()
		lat = time.Duration(end.UnixNano() - t.at)
		svc = end.Sub(now)
		if t.measured {
			_ = s.service.RecordValue(int64(svc / time.Microsecond))
			_ = s.sendLag.RecordValue(int64(lag / time.Microsecond))
		}
		switch {
		case err == nil:
			ok = true
			one.responses++
			s.classify(one)
		case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrNoFreeConns):
			one.timeouts++
		default:
			one.errors++
			one.countErr(errKind(err))
		}
	}
	s.record(t, one, ok, lat, svc)
}

// record adds one ticket's outcome to the current second and, when the
// ticket is measured, to the phase's totals.
func (s *sender) record(t ticket, one *tally, ok bool, lat, svc time.Duration) {
	us := max(int64(lat/time.Microsecond), 1)
	s.win.mu.Lock()
	if ok {
		_ = s.win.hist.RecordValue(us)
		_ = s.win.svc.RecordValue(max(int64(svc/time.Microsecond), 1))
	}
	s.win.t.addOne(one)
	s.win.mu.Unlock()
	if t.measured {
		if ok {
			_ = s.latency.RecordValue(us)
		}
		s.total.addOne(one)
	}
}

// drop records a ticket the scheduler dropped because the queue to the
// connections was full (-max-send-lag): expired, never sent.
func (s *sender) drop(t ticket, one *tally) {
	one.resetOne()
	one.timeouts++
	one.expired++
	s.record(t, one, false, 0, 0)
}

// classify reads the answer: 204 no-bid, 200 with bids or an nbr, others
// by status. Bids go to the closed loop when it runs.
func (s *sender) classify(one *tally) {
	s.classifyAnswer(one, s.resp.StatusCode(), s.resp.Header.ContentEncoding(), s.resp.Body())
}

// classifyAnswer reads one answer given its status, Content-Encoding and
// (possibly compressed) body; both clients share it.
func (s *sender) classifyAnswer(one *tally, code int, encoding, body []byte) {
	one.code = code
	switch code {
	case fasthttp.StatusNoContent:
		one.noBids++
		one.countNBR(-1)
		return
	case fasthttp.StatusOK:
	default:
		return
	}
	if len(encoding) > 0 && string(encoding) != "identity" {
		var err error
		switch string(encoding) {
		case "gzip":
			s.unzipped, err = fasthttp.AppendGunzipBytes(s.unzipped[:0], body)
		case "deflate":
			s.unzipped, err = fasthttp.AppendInflateBytes(s.unzipped[:0], body)
		case "br":
			s.unzipped, err = fasthttp.AppendUnbrotliBytes(s.unzipped[:0], body)
		case "zstd":
			s.unzipped, err = fasthttp.AppendUnzstdBytes(s.unzipped[:0], body)
		default:
			err = errors.New("unknown content-encoding")
		}
		if err != nil {
			one.badBodies++
			return
		}
		body = s.unzipped
	}
	v, err := s.parser.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject {
		one.badBodies++
		return
	}
	n := 0
	for _, sb := range v.GetArray("seatbid") {
		for _, bid := range sb.GetArray("bid") {
			n++
			price := bid.GetFloat64("price")
			one.priceSum += price
			if s.e.loop != nil {
				s.e.loop.offer(s.rng, v, sb, bid, price)
			}
		}
	}
	if n > 0 {
		one.bidResponses++
		one.bids += int64(n)
		return
	}
	one.noBids++
	if nbr := v.Get("nbr"); nbr != nil {
		one.countNBR(nbr.GetInt())
	} else {
		one.countNBR(-2)
	}
}

// rootCause strips the address and syscall wrappers of a network error
// ("connection refused" rather than "dial tcp 127.0.0.1:9: connect: …").
func rootCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
	}
	return err
}

// errKind names a transport error without addresses or ports, so equal
// causes count together.
func errKind(err error) string {
	s := rootCause(err).Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// runPhase runs one constant-rate phase and returns its result.
func (e *engine) runPhase(ctx context.Context, ph phase, senders []*sender, start time.Time) (*Result, bool) {
	for _, s := range senders {
		s.resetPhase()
	}
	interval := float64(time.Second) / ph.rate
	warmN := int64(float64(ph.warmup) / interval)
	var measN int64 = -1
	if ph.duration > 0 {
		measN = int64(float64(ph.duration) / interval)
	}
	if ph.requests > 0 && (measN < 0 || ph.requests < measN) {
		measN = ph.requests
	}
	totalN := warmN + measN
	// The queue holds a timeout's worth of tickets: beyond that they expire
	// anyway, and the scheduler may block without losing their times.
	qcap := int(ph.rate*e.cfg.Timeout.Seconds()) + len(senders)
	qcap = min(max(qcap, 1024), 1<<20)
	// With -max-send-lag the queue holds that long's worth and the
	// scheduler drops what does not fit instead of waiting: a full queue
	// means every connection is busy, and an exchange would skip the bidder.
	// Waiting would make every later ticket stale (the queue is FIFO), and
	// the senders would only be expiring old tickets.
	lagDrop := e.cfg.MaxSendLag > 0
	if lagDrop {
		qcap = min(max(int(ph.rate*e.cfg.MaxSendLag.Seconds()), 1)+len(senders), 1<<20)
	}
	// dropper accounts for the tickets the scheduler drops; it sends nothing.
	// With the raw client it records every ticket.
	dropper := e.newSender(-1)
	defer dropper.release()
	acct := append(senders[:len(senders):len(senders)], dropper)
	if e.raw != nil {
		acct = []*sender{dropper}
	}
	var dropOne tally

	runCtx, stopCollect := context.WithCancel(ctx)
	cpu0, tcpu0 := cpuSeconds(), pidCPUSeconds(e.cfg.TargetPID)
	t0 := time.Now().Add(5 * time.Millisecond)
	measStart := t0.Add(time.Duration(float64(warmN) * interval))
	col := newCollector(e, acct, ph, t0, measStart, start)
	colDone := make(chan struct{})
	go func() { col.run(runCtx); close(colDone) }()

	var i int64
	interrupted := false
	if e.raw != nil {
		i, interrupted = e.raw.runPhase(ctx, &schedule{base: t0.UnixNano(), interval: interval, warmN: warmN,
			totalN: totalN, seqBase: e.seqBase, batch: int64(e.cfg.Batch), timeout: int64(e.cfg.Timeout),
			maxLag: int64(e.cfg.MaxSendLag)}, dropper)
	} else {
		i, interrupted = e.schedule(ctx, tickets(qcap), senders, dropper, &dropOne, lagDrop, t0, interval, warmN, totalN)
	}
	e.seqBase += uint64(i)
	stopCollect()
	<-colDone
	end := time.Now()

	var tot tally
	lat, svc, lag := newHist(histSig), newHist(histSig), newHist(histSig)
	for _, s := range acct {
		tot.add(&s.total)
		lat.Merge(s.latency)
		svc.Merge(s.service)
		lag.Merge(s.sendLag)
	}
	measured := i - warmN
	if measured < 0 {
		measured = 0
	}
	window := time.Duration(float64(measured) * interval)
	if interrupted && end.Before(measStart.Add(window)) {
		window = max(end.Sub(measStart), 0)
	}
	res := buildResult(ph, measured, window, &tot, lat, svc, lag, col.series)
	res.Interrupted = interrupted
	if wall := end.Sub(t0).Seconds(); wall > 0 {
		res.BenchCPU = (cpuSeconds() - cpu0) / wall
		res.TargetCPU = -1
		if tcpu1 := pidCPUSeconds(e.cfg.TargetPID); tcpu0 >= 0 && tcpu1 >= 0 {
			res.TargetCPU = (tcpu1 - tcpu0) / wall
			res.TargetCPUPerAnswer = cpuPerAnswer(res.TargetCPU, res.Throughput)
		}
	}
	return res, interrupted
}

// cpuPerAnswer is a process's CPU per answer in µs, from its cores in use
// and the answers per second; 0 when either is unknown or zero.
func cpuPerAnswer(cores, answersPerSecond float64) float64 {
	if cores <= 0 || answersPerSecond <= 0 {
		return 0
	}
	return 1e6 * cores / answersPerSecond
}

func tickets(n int) chan ticket { return make(chan ticket, n) }

// schedule runs the general client's phase: the senders each take tickets
// from one channel, and this goroutine issues them. Ticket i is due at
// t0 + i*interval whatever happened to earlier ones (open loop). It sleeps
// until the next due time and then releases every ticket that is due. It
// returns how many tickets it released and whether ctx ended the phase.
func (e *engine) schedule(ctx context.Context, tickets chan ticket, senders []*sender, dropper *sender, dropOne *tally,
	lagDrop bool, t0 time.Time, interval float64, warmN, totalN int64) (int64, bool) {
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Add(1)
		go func() { defer wg.Done(); s.serve(ctx, tickets) }()
	}
	base := t0.UnixNano()
	var i int64
	interrupted := false
	timer := newPrecisionTimer()
	var lastWake int64
sched:
	for i < totalN {
		at := base + int64(float64(i)*interval)
		// The scheduler wakes at most every Batch and releases what is due
		// together: a wake-up per request would cost the bench more CPU than
		// the sending. Each ticket keeps its own scheduled time, so the (at
		// most Batch) delay is measured, not hidden.
		at = max(at, lastWake+int64(e.cfg.Batch))
		for time.Now().UnixNano() < at {
			if ctx.Err() != nil {
				interrupted = true
				break sched
			}
			timer.sleepUntil(at)
		}
		lastWake = time.Now().UnixNano()
		now := time.Now().UnixNano()
		for ; i < totalN; i++ {
			at := base + int64(float64(i)*interval)
			if at > now {
				break
			}
			t := ticket{at: at, seq: uint64(i) + e.seqBase, measured: i >= warmN}
			if lagDrop {
				select {
				case tickets <- t:
				default:
					dropper.drop(t, dropOne)
				}
				continue
			}
			select {
			case tickets <- t:
			case <-ctx.Done():
				interrupted = true
				break sched
			}
		}
	}
	timer.close()
	close(tickets)
	wg.Wait()
	return i, interrupted
}
