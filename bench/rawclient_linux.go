package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// rawClient is the bench's plain-http client on Linux: one goroutine runs
// the schedule and every connection from its own epoll set, with raw
// non-blocking sockets. Against fasthttp's client with one goroutine per
// connection it saves, per request, the read that finds nothing yet
// (EAGAIN), a goroutine park and wake-up through the netpoller and the
// channel hand-off of the ticket, two deadline timers and the client's
// header parsing; what is left is one write and (usually) one read per
// request, and one epoll_wait per batch of answers. That is what lets one
// core offer a multiple of what one core of callbid can serve.
//
// The goroutine does not wait for answers: it wakes on a timerfd (parked in
// Go's netpoller, so the collector and the closed loop run in between) at
// most every Config.Batch while requests are in flight, takes every ready
// socket from the epoll set without waiting, reads, and sends what is due.
// The time an answer arrived comes from the kernel (SO_TIMESTAMPNS on
// each socket), not from when the bench got round to reading it, so the
// latency figures do not include the batch. Waking per batch instead of
// per answer matters on a VM: every sleep and wake-up of a thread costs
// microseconds of the host's time (an IPI and a VM exit), on the bench's
// core and on the target's, which had to wake the bench.
//
// Sockets are edge-triggered; a read is repeated only while it fills the
// buffer, because a short read means the socket was empty at that moment
// and the next answer raises a new edge. That saves the read that would
// end in EAGAIN after every answer.
type rawClient struct {
	e      *engine
	sa     unix.Sockaddr
	domain int
	epfd   int
	timer  int      // timerfd for the wake-ups
	tf     *os.File // timer, registered in Go's netpoller
	trc    syscall.RawConn
	tbuf   [8]byte
	events []unix.EpollEvent
	conns  []rawConn
	idle   []int32 // connected conns with nothing in flight
	// dialErr is the last asynchronous connect failure, not yet counted.
	dialErr error

	parkFn func(uintptr) bool // c.poll
	// noWait2: the kernel lacks epoll_pwait2; always wait per batch.
	noWait2 bool
	waitTS  unix.Timespec

	// head is the request line and fixed headers up to "Content-Length: ";
	// headGzip adds Content-Encoding: gzip.
	head, headGzip []byte
}

const (
	connClosed = iota
	connConnecting
	connIdle
	connBusy
)

type rawConn struct {
	fd    int
	state uint8
	// wantOut: the socket is also registered for EPOLLOUT (connecting, or a
	// write the kernel took only in part).
	wantOut  bool
	t        ticket
	sentAt   int64 // unix ns when the write started
	deadline int64 // unix ns: the ticket's time plus the timeout
	wbuf     []byte
	woff     int // bytes of wbuf written
	rbuf     []byte
	rn       int   // bytes in rbuf
	rxAt     int64 // unix ns the last segment read arrived (0: unknown)
	resp     rawResponse
	rs       recvState
}

// newRawClient returns the epoll client for e's target, or nil with the
// reason when the target needs the general client (TLS).
func newRawClient(e *engine) (*rawClient, error) {
	u, err := url.Parse(e.cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("the raw client speaks plain http only, not %s", u.Scheme)
	}
	addr, err := net.ResolveTCPAddr("tcp", hostPort(u))
	if err != nil {
		return nil, fmt.Errorf("target: cannot resolve %s: %w", hostPort(u), err)
	}
	c := &rawClient{e: e, timer: -1, epfd: -1}
	c.parkFn = c.poll
	if ip4 := addr.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: addr.Port}
		copy(sa.Addr[:], ip4)
		c.sa, c.domain = sa, unix.AF_INET
	} else {
		sa := &unix.SockaddrInet6{Port: addr.Port}
		copy(sa.Addr[:], addr.IP.To16())
		c.sa, c.domain = sa, unix.AF_INET6
	}
	path := strings.TrimRight(u.EscapedPath(), "/") + e.cfg.BidPath
	head := "POST " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: application/json\r\nx-openrtb-version: 2.6\r\n"
	if e.cfg.Gzip {
		head += "Accept-Encoding: gzip\r\n"
	}
	c.head = []byte(head + "Content-Length: ")
	c.headGzip = []byte(head + "Content-Encoding: gzip\r\nContent-Length: ")

	if c.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("cannot create an epoll set: %w", err)
	}
	if c.timer, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
		c.close()
		return nil, fmt.Errorf("cannot create a timerfd: %w", err)
	}
	c.tf = os.NewFile(uintptr(c.timer), "bench-timerfd")
	if c.trc, err = c.tf.SyscallConn(); err != nil {
		c.close()
		return nil, fmt.Errorf("cannot poll the timerfd: %w", err)
	}
	// A request is the head, its length and the body: sized for the
	// largest body up front, so no connection grows its buffer mid-run
	// (TestRawSendDoesNotAllocate saw one growth per run in 1 of 10 runs).
	wmax := 0
	for i := range e.bodies {
		wmax = max(wmax, len(e.bodies[i].Data))
	}
	wmax += max(len(c.head), len(c.headGzip)) + 24
	c.conns = make([]rawConn, e.cfg.Conns)
	for i := range c.conns {
		c.conns[i].fd = -1
		c.conns[i].rbuf = make([]byte, 16<<10)
		c.conns[i].wbuf = make([]byte, 0, wmax)
	}
	c.events = make([]unix.EpollEvent, min(len(c.conns)+1, 256))
	c.idle = make([]int32, 0, len(c.conns))
	return c, nil
}

func (c *rawClient) close() {
	for i := range c.conns {
		c.closeConn(i)
	}
	if c.tf != nil {
		_ = c.tf.Close() // closes timer
		c.tf, c.timer = nil, -1
	}
	if c.epfd >= 0 {
		_ = unix.Close(c.epfd)
		c.epfd = -1
	}
}

// dial starts a non-blocking connect on conn i; it completes (or fails)
// with an EPOLLOUT event.
func (c *rawClient) dial(i int) error {
	fd, err := unix.Socket(c.domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	// The arrival time of each answer, from the kernel (see rawClient).
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_OLD, 1)
	if err := unix.Connect(fd, c.sa); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		_ = unix.Close(fd)
		return err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(i)}
	if err := unix.EpollCtl(c.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		_ = unix.Close(fd)
		return err
	}
	cn := &c.conns[i]
	cn.fd, cn.state, cn.wantOut, cn.rn = fd, connConnecting, true, 0
	cn.deadline = time.Now().UnixNano() + int64(c.e.cfg.ConnectTimeout)
	return nil
}

func (c *rawClient) closeConn(i int) {
	cn := &c.conns[i]
	if cn.fd >= 0 {
		_ = unix.Close(cn.fd) // also leaves the epoll set
	}
	if cn.state == connIdle {
		for k, j := range c.idle {
			if int(j) == i {
				c.idle[k] = c.idle[len(c.idle)-1]
				c.idle = c.idle[:len(c.idle)-1]
				break
			}
		}
	}
	cn.fd, cn.state, cn.wantOut, cn.rn = -1, connClosed, false, 0
}

// setOut adds or removes EPOLLOUT interest (only while a write is partial
// or a connect is pending: writable edges would otherwise come with every
// acknowledgement).
func (c *rawClient) setOut(i int, on bool) {
	cn := &c.conns[i]
	if cn.wantOut == on {
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(i)}
	if on {
		ev.Events |= unix.EPOLLOUT
	}
	if unix.EpollCtl(c.epfd, unix.EPOLL_CTL_MOD, cn.fd, &ev) == nil {
		cn.wantOut = on
	}
}

// schedule is one phase's plan, in the scheduler's terms (see runPhase).
type schedule struct {
	base     int64 // unix ns of ticket 0
	interval float64
	warmN    int64
	totalN   int64
	seqBase  uint64
	batch    int64
	timeout  int64
	maxLag   int64 // 0: off
}

func (p *schedule) at(i int64) int64 { return p.base + int64(float64(i)*p.interval) }

// expired: a ticket that waited lag ns is past -timeout or -max-send-lag.
func (p *schedule) expired(lag int64) bool {
	return lag >= p.timeout || (p.maxLag > 0 && lag > p.maxLag)
}

// runPhase sends p's tickets and records them in acc; it returns how many
// tickets were released and whether ctx ended the phase early. After ctx
// ends, queued tickets are dropped unsent and uncounted and the requests in
// flight finish (or time out), as with the per-connection senders.
func (c *rawClient) runPhase(ctx context.Context, p *schedule, acc *sender) (int64, bool) {
	var one tally
	var next, head int64 // tickets [head, next) are released, not yet sent
	var lastWake int64   // when the last timed wake-up came
	stopping := false
	interrupted := false
	// The connections are dialled once and kept across phases; a closed one
	// is redialled here (at most once per loop, so a dead target costs a
	// dial per ticket, each counted as an error, not a busy loop).
	for {
		now := time.Now().UnixNano()
		if !stopping && ctx.Err() != nil {
			stopping, interrupted = true, true
			head = next
		}
		if !stopping {
			// Release what is due.
			for ; next < p.totalN; next++ {
				at := p.at(next)
				if at > now {
					break
				}
			}
			// Expire queued tickets whose lag already passed -timeout or
			// -max-send-lag: every connection stayed busy that long, and an
			// exchange would have skipped the bidder. Expiring them here,
			// not when a connection comes free, keeps the queue to that
			// long's worth of tickets (what the general client's bounded
			// queue does by dropping new tickets), and each ticket that is
			// sent has waited at most that long.
			for head < next && p.expired(now-p.at(head)) {
				acc.drop(p.ticket(head), &one)
				head++
			}
			// Hand queued tickets to idle connections.
			for head < next {
				if c.dialErr != nil {
					// An asynchronous connect failed: the ticket at the head
					// carries the error, as a request would with fasthttp.
					c.fail(p.ticket(head), acc, &one, c.dialErr)
					c.dialErr = nil
					head++
					continue
				}
				if len(c.idle) == 0 {
					c.redial(acc, &one, p, &head, next)
					break
				}
				t := p.ticket(head)
				head++
				sentAt := time.Now().UnixNano()
				if p.expired(sentAt - t.at) {
					// The writes before it in this turn took it past the
					// limit: checked again with the time of its own write.
					acc.drop(t, &one)
					continue
				}
				i := int(c.idle[len(c.idle)-1])
				c.idle = c.idle[:len(c.idle)-1]
				c.send(i, t, sentAt, acc, &one)
			}
			if next >= p.totalN && head >= next {
				stopping = true
			}
		}
		c.expire(now, acc, &one)
		if stopping && c.busy() == 0 {
			return next, interrupted
		}
		n, err := rawEpollPoll(c.epfd, c.events)
		if err != nil && !errors.Is(err, unix.EINTR) {
			// Cannot happen with a valid set; end the phase rather than spin.
			return next, true
		}
		if n > 0 {
			// Then send on the connections that came free, and look again.
			c.handle(c.events[:n], acc, &one)
			continue
		}
		// Sleep until the next ticket, the next look at the requests in
		// flight (both at most every batch), the first deadline of a
		// request in flight, or 50 ms (to notice cancellation), whichever
		// comes first.
		wake := now + int64(50*time.Millisecond)
		if !stopping && next < p.totalN {
			wake = min(wake, max(p.at(next), lastWake+p.batch))
		}
		if c.inFlight() {
			wake = min(wake, lastWake+p.batch)
		}
		if !stopping && head < next {
			limit := p.timeout
			if p.maxLag > 0 {
				limit = min(limit, p.maxLag+1)
			}
			wake = min(wake, p.at(head)+limit)
		}
		if !stopping && head < next && c.anyDown() {
			wake = min(wake, now+int64(time.Millisecond)) // retry a dial
		}
		for i := range c.conns {
			if st := c.conns[i].state; st == connBusy || st == connConnecting {
				wake = min(wake, c.conns[i].deadline)
			}
		}
		now = time.Now().UnixNano()
		if wake <= now {
			lastWake = now
			continue
		}
		if head < next && len(c.idle) == 0 && !c.noWait2 {
			// Requests wait for a connection: the first answer frees one,
			// so wait for it, not for the batch (the target is the limit
			// here, and each batch would idle every connection).
			n, err := epollWaitNs(c.epfd, c.events, min(wake-now, p.batch), &c.waitTS)
			switch {
			case err == nil:
				if n > 0 {
					c.handle(c.events[:n], acc, &one)
				}
				continue
			case errors.Is(err, unix.EINTR):
				continue
			default: // ENOSYS before Linux 5.11: wait per batch
				c.noWait2 = true
			}
		}
		c.sleepUntil(wake)
		lastWake = time.Now().UnixNano()
	}
}

// inFlight reports whether a connection waits for an answer or a connect.
func (c *rawClient) inFlight() bool {
	for i := range c.conns {
		if st := c.conns[i].state; st == connBusy || st == connConnecting {
			return true
		}
	}
	return false
}

func (p *schedule) ticket(i int64) ticket {
	return ticket{at: p.at(i), seq: uint64(i) + p.seqBase, measured: i >= p.warmN}
}

func (c *rawClient) busy() int {
	n := 0
	for i := range c.conns {
		if c.conns[i].state == connBusy {
			n++
		}
	}
	return n
}

func (c *rawClient) anyDown() bool {
	for i := range c.conns {
		if c.conns[i].state == connClosed {
			return true
		}
	}
	return false
}

// redial reconnects closed connections while tickets wait. A dial that
// fails at once costs the head ticket, counted as an error with its
// cause, so an unreachable target shows as errors at the offered rate.
func (c *rawClient) redial(acc *sender, one *tally, p *schedule, head *int64, next int64) {
	for i := range c.conns {
		if c.conns[i].state != connClosed || *head >= next {
			continue
		}
		if err := c.dial(i); err != nil {
			c.fail(p.ticket(*head), acc, one, err)
			*head++
		}
	}
}

// fail records a ticket whose connection could not be opened (err): sent
// and failed, as the fasthttp client counts a dial error.
func (c *rawClient) fail(t ticket, acc *sender, one *tally, err error) {
	one.resetOne()
	one.sent++
	one.errors++
	one.countErr(errKind(err))
	acc.record(t, one, false, 0, 0)
}

// sleepUntil parks in Go's netpoller until the timerfd fires at wake
// (unix ns).
func (c *rawClient) sleepUntil(wake int64) {
	d := max(wake-time.Now().UnixNano(), 1000)
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d)}
	if rawTimerfdSet(c.timer, &spec) != nil {
		return
	}
	_ = c.trc.Read(c.parkFn)
}

// poll is sleepUntil's callback (bound once in parkFn: a closure per call
// would allocate): it consumes the timer's expiry. It must look even on
// the first call: RawConn.Read forgets a readiness the netpoller saw
// before it started, and the timer, edge-triggered, fires only once.
func (c *rawClient) poll(uintptr) bool {
	_, err := rawRead(c.timer, c.tbuf[:])
	return !errors.Is(err, unix.EAGAIN)
}

// send writes t's request on idle connection i; sentAt is the write's time.
func (c *rawClient) send(i int, t ticket, sentAt int64, acc *sender, one *tally) {
	cn := &c.conns[i]
	e := c.e
	b := &e.bodies[t.seq%uint64(len(e.bodies))]
	head := c.head
	if b.Gzip {
		head = c.headGzip
	}
	w := append(cn.wbuf[:0], head...)
	w = appendUint(w, len(b.Data))
	w = append(w, "\r\n\r\n"...)
	start := len(w)
	w = append(w, b.Data...)
	if b.IDOff >= 0 {
		id := e.nonce<<40 | t.seq&(1<<40-1)
		for k := 15; k >= 0; k-- {
			w[start+b.IDOff+k] = hexDigits[id&15]
			id >>= 4
		}
	}
	cn.wbuf, cn.woff = w, 0
	// The time of this write, not of the loop's turn: the writes before it
	// in the same turn took microseconds each.
	cn.t, cn.sentAt, cn.deadline = t, sentAt, t.at+int64(e.cfg.Timeout)
	cn.state, cn.rn, cn.rxAt = connBusy, 0, 0
	cn.resp.reset()
	c.flush(i, acc, one)
}

// flush writes what is left of conn i's request.
func (c *rawClient) flush(i int, acc *sender, one *tally) {
	cn := &c.conns[i]
	for cn.woff < len(cn.wbuf) {
		n, err := rawWrite(cn.fd, cn.wbuf[cn.woff:])
		if n > 0 {
			cn.woff += n
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			c.setOut(i, true)
			return
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err == nil {
			err = errors.New("short write")
		}
		c.finishErr(i, acc, one, err)
		return
	}
	c.setOut(i, false)
}

// finishErr ends conn i's request with a transport error and closes it.
func (c *rawClient) finishErr(i int, acc *sender, one *tally, err error) {
	cn := &c.conns[i]
	t := cn.t
	c.closeConn(i)
	one.resetOne()
	one.sent++
	one.errors++
	one.countErr(errKind(err))
	if t.measured {
		end := time.Now().UnixNano()
		_ = acc.service.RecordValue((end - cn.sentAt) / 1000)
		_ = acc.sendLag.RecordValue((cn.sentAt - t.at) / 1000)
	}
	acc.record(t, one, false, 0, 0)
}

// expire times out requests in flight past their deadline and closes their
// connections, as fasthttp's client does (the answer may still come), and
// gives up connects older than Config.ConnectTimeout.
func (c *rawClient) expire(now int64, acc *sender, one *tally) {
	for i := range c.conns {
		cn := &c.conns[i]
		if cn.state == connConnecting && now >= cn.deadline {
			c.closeConn(i)
			c.dialFailed(errConnectTimeout)
			continue
		}
		if cn.state != connBusy || now < cn.deadline {
			continue
		}
		t, sentAt := cn.t, cn.sentAt
		c.closeConn(i)
		one.resetOne()
		one.sent++
		one.timeouts++
		if t.measured {
			_ = acc.service.RecordValue((now - sentAt) / 1000)
			_ = acc.sendLag.RecordValue((sentAt - t.at) / 1000)
		}
		acc.record(t, one, false, 0, 0)
	}
}

// handle processes ready connections.
func (c *rawClient) handle(evs []unix.EpollEvent, acc *sender, one *tally) {
	for _, ev := range evs {
		i := int(ev.Fd)
		cn := &c.conns[i]
		switch cn.state {
		case connClosed:
			continue
		case connConnecting:
			if ev.Events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
				continue
			}
			soerr, err := unix.GetsockoptInt(cn.fd, unix.SOL_SOCKET, unix.SO_ERROR)
			if err == nil && soerr != 0 {
				err = syscall.Errno(soerr)
			}
			if err != nil || ev.Events&unix.EPOLLHUP != 0 {
				if err == nil {
					err = errors.New("connection closed while connecting")
				}
				c.closeConn(i)
				c.dialFailed(err)
				continue
			}
			cn.state = connIdle
			c.setOut(i, false)
			c.idle = append(c.idle, int32(i))
		case connIdle:
			// The server closed a keep-alive connection (or sent something
			// unasked): reconnect, no request lost. A plain EPOLLIN may be
			// stale (raised by the last answer's second segment after the
			// answer was read whole): look before closing.
			if ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				c.closeConn(i)
			} else if ev.Events&unix.EPOLLIN != 0 {
				if _, err := rawRead(cn.fd, cn.rbuf); !errors.Is(err, unix.EAGAIN) {
					c.closeConn(i)
				}
			}
		case connBusy:
			if ev.Events&unix.EPOLLOUT != 0 && cn.woff < len(cn.wbuf) {
				c.flush(i, acc, one)
				if cn.state != connBusy {
					continue
				}
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				c.read(i, acc, one, ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0)
			}
		}
	}
}

// dialFailed notes a failed connect; the next waiting ticket carries it.
func (c *rawClient) dialFailed(err error) {
	c.dialErr = err
}

// read reads conn i's answer as far as it has come. hup: the server has
// closed its side (its edge is spent, so read on to the end of the data).
func (c *rawClient) read(i int, acc *sender, one *tally, hup bool) {
	cn := &c.conns[i]
	for {
		if cn.rn == len(cn.rbuf) {
			if len(cn.rbuf) >= maxAnswer {
				c.finishErr(i, acc, one, errors.New("answer larger than 16 MiB"))
				return
			}
			nb := make([]byte, 2*len(cn.rbuf))
			copy(nb, cn.rbuf[:cn.rn])
			cn.rbuf = nb
		}
		space := len(cn.rbuf) - cn.rn
		n, at, err := rawRecv(cn.fd, cn.rbuf[cn.rn:], &cn.rs)
		if n > 0 {
			cn.rn += n
			cn.rxAt = at
			done, perr := cn.resp.parse(cn.rbuf[:cn.rn], false)
			if perr != nil {
				c.finishErr(i, acc, one, perr)
				return
			}
			if done {
				c.finish(i, acc, one)
				if hup && c.conns[i].state == connIdle {
					c.closeConn(i)
				}
				return
			}
			if n < space && !hup && !cn.resp.close {
				// Drained: the rest raises a new edge. (An answer that
				// ends at the close reads on to EOF: the FIN may have come
				// with this data, on the edge already taken.)
				return
			}
			continue
		}
		switch {
		case n == 0 && err == nil: // EOF
			done, perr := cn.resp.parse(cn.rbuf[:cn.rn], true)
			if done && perr == nil {
				c.finish(i, acc, one)
				c.closeConn(i)
				return
			}
			if perr == nil {
				perr = errServerClosed
			}
			c.finishErr(i, acc, one, perr)
			return
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR):
			continue
		default:
			c.finishErr(i, acc, one, err)
			return
		}
	}
}

var (
	errServerClosed   = errors.New("the server closed the connection before answering")
	errConnectTimeout = errors.New("connect timed out")
)

// maxAnswer bounds one answer (headers and body).
const maxAnswer = 16 << 20

// finish records conn i's complete answer and returns the connection to
// the idle list (or closes it when the server asked to).
func (c *rawClient) finish(i int, acc *sender, one *tally) {
	cn := &c.conns[i]
	end := time.Now().UnixNano()
	if cn.rxAt > 0 {
		// When the answer arrived; the bench may have read it up to a
		// batch later. Kept within [sent, now] against clock steps.
		end = min(max(cn.rxAt, cn.sentAt), end)
	}
	t := cn.t
	lat, svc := time.Duration(end-t.at), time.Duration(end-cn.sentAt)
	one.resetOne()
	one.sent++
	one.responses++
	if t.measured {
		_ = acc.service.RecordValue(int64(svc / time.Microsecond))
		_ = acc.sendLag.RecordValue((cn.sentAt - t.at) / 1000)
	}
	r := &cn.resp
	acc.classifyAnswer(one, r.status, r.encoding(cn.rbuf), r.body(cn.rbuf))
	acc.record(t, one, true, lat, svc)
	if r.close {
		c.closeConn(i)
		return
	}
	cn.state, cn.rn = connIdle, 0
	c.idle = append(c.idle, int32(i))
}

// rawResponse parses one HTTP/1.1 answer in place, as it arrives. Only
// what the bench needs: status, framing (Content-Length, chunked, or until
// close), Content-Encoding and Connection: close.
type rawResponse struct {
	base     int // offset of this answer's status line (after interim answers)
	hdrEnd   int // offset of the body; 0: headers not complete
	status   int
	length   int // Content-Length, -1: none
	chunked  bool
	close    bool
	encOff   int // Content-Encoding value in the buffer
	encLen   int
	bodyOff  int // decoded body (chunked answers are compacted in place)
	bodyLen  int
	scanned  int // chunked: offset of the next chunk header
	compactN int // chunked: decoded bytes so far, at hdrEnd
}

func (r *rawResponse) reset() { *r = rawResponse{length: -1} }

func (r *rawResponse) encoding(b []byte) []byte { return b[r.encOff : r.encOff+r.encLen] }
func (r *rawResponse) body(b []byte) []byte     { return b[r.bodyOff : r.bodyOff+r.bodyLen] }

var errBadAnswer = errors.New("malformed HTTP answer")

// parse reports whether b holds the complete answer; eof: the connection
// has closed after b.
func (r *rawResponse) parse(b []byte, eof bool) (bool, error) {
	for r.hdrEnd == 0 {
		end := bytes.Index(b[r.base:], crlfcrlf)
		if end < 0 {
			if len(b)-r.base > 64<<10 {
				return false, errors.New("answer headers larger than 64 KiB")
			}
			return false, nil
		}
		if err := r.parseHeaders(b[r.base : r.base+end]); err != nil {
			return false, err
		}
		r.hdrEnd = r.base + end + 4
		if r.status >= 100 && r.status < 200 {
			// An interim answer (100 Continue): skip it and read on.
			base := r.hdrEnd
			r.reset()
			r.base = base
		}
	}
	switch {
	case r.status == 204 || r.status == 304:
		r.bodyOff, r.bodyLen = r.hdrEnd, 0
		return true, nil
	case r.chunked:
		return r.parseChunks(b)
	case r.length >= 0:
		if len(b)-r.hdrEnd < r.length {
			return false, nil
		}
		r.bodyOff, r.bodyLen = r.hdrEnd, r.length
		return true, nil
	default: // until the server closes
		r.close = true
		if !eof {
			return false, nil
		}
		r.bodyOff, r.bodyLen = r.hdrEnd, len(b)-r.hdrEnd
		return true, nil
	}
}

var crlfcrlf = []byte("\r\n\r\n")

func (r *rawResponse) parseHeaders(h []byte) error {
	line, rest, _ := bytes.Cut(h, crlf)
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return errBadAnswer
	}
	st := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return errBadAnswer
		}
		st = st*10 + int(d-'0')
	}
	r.status = st
	r.close = line[7] == '0' // HTTP/1.0 closes unless it says keep-alive
	off := len(line) + 2
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, crlf)
		lineOff := off
		off += len(line) + 2
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return errBadAnswer
		}
		valOff := lineOff + len(name) + 1
		for len(val) > 0 && (val[0] == ' ' || val[0] == '\t') {
			val, valOff = val[1:], valOff+1
		}
		val = bytes.TrimRight(val, " \t")
		switch {
		case equalFold(name, "content-length"):
			n := 0
			if len(val) == 0 || len(val) > 9 {
				return errBadAnswer
			}
			for _, d := range val {
				if d < '0' || d > '9' {
					return errBadAnswer
				}
				n = n*10 + int(d-'0')
			}
			r.length = n
		case equalFold(name, "transfer-encoding"):
			r.chunked = equalFold(val, "chunked")
		case equalFold(name, "content-encoding"):
			r.encOff, r.encLen = r.base+valOff, len(val)
		case equalFold(name, "connection"):
			if equalFold(val, "close") {
				r.close = true
			} else if equalFold(val, "keep-alive") {
				r.close = false
			}
		}
	}
	return nil
}

var crlf = []byte("\r\n")

// parseChunks decodes the chunked body after the headers in place: each
// chunk's data is moved down to follow the previous one.
func (r *rawResponse) parseChunks(b []byte) (bool, error) {
	if r.scanned == 0 {
		r.scanned = r.hdrEnd
	}
	for {
		rest := b[r.scanned:]
		i := bytes.Index(rest, crlf)
		if i < 0 {
			return false, nil
		}
		size := 0
	digits:
		for _, d := range rest[:i] {
			var v int
			switch {
			case d >= '0' && d <= '9':
				v = int(d - '0')
			case d >= 'a' && d <= 'f':
				v = int(d-'a') + 10
			case d >= 'A' && d <= 'F':
				v = int(d-'A') + 10
			case d == ';' || d == ' ' || d == '\t':
				break digits // chunk extensions
			default:
				return false, errBadAnswer
			}
			size = size*16 + v
			if size > maxAnswer {
				return false, errBadAnswer
			}
		}
		if size == 0 {
			// Last chunk; trailers end with an empty line.
			end := bytes.Index(rest[i:], crlfcrlf)
			if end < 0 {
				return false, nil
			}
			r.bodyOff, r.bodyLen = r.hdrEnd, r.compactN
			return true, nil
		}
		if len(rest) < i+2+size+2 {
			return false, nil
		}
		copy(b[r.hdrEnd+r.compactN:], rest[i+2:i+2+size])
		r.compactN += size
		r.scanned += i + 2 + size + 2
	}
}

// equalFold compares an ASCII header token case-insensitively without
// allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// appendUint appends n in decimal.
func appendUint(dst []byte, n int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, tmp[i:]...)
}
