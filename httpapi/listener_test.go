package httpapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// fakeListener returns the queued errors, then connections from inner.
type fakeListener struct {
	net.Listener
	errs []error
}

func (f *fakeListener) Accept() (net.Conn, error) {
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	return f.Listener.Accept()
}

func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

func TestAcceptRetriesTemporaryErrors(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	m := newServerMetrics()
	fl := &fakeListener{Listener: inner, errs: []error{acceptErr(syscall.EMFILE), acceptErr(syscall.ENFILE),
		acceptErr(syscall.ECONNABORTED), acceptErr(syscall.EMFILE)}}
	l := newGuardedListener(fl, connLimits{name: "public"}, &m.public, zerolog.Nop())
	var slept []time.Duration
	l.sleep = func(d time.Duration, _ <-chan struct{}) { slept = append(slept, d) }

	client, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("accept after temporary errors: %v", err)
	}
	defer c.Close()
	if got := counterValue(m.public.acceptErrors); got != 4 {
		t.Errorf("accept errors counted: %v, want 4", got)
	}
	want := []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}
	if fmt.Sprint(slept) != fmt.Sprint(want) {
		t.Errorf("backoff %v, want %v", slept, want)
	}

	// A permanent error is returned (fasthttp then stops serving).
	perm := errors.New("something else")
	fl.errs = []error{perm}
	if _, err := l.Accept(); !errors.Is(err, perm) {
		t.Errorf("permanent error: got %v", err)
	}
}

func TestAcceptBackoffEndsOnClose(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newServerMetrics()
	fl := &fakeListener{Listener: inner, errs: []error{acceptErr(syscall.EMFILE)}}
	l := newGuardedListener(fl, connLimits{name: "public"}, &m.public, zerolog.Nop())
	l.sleep = func(d time.Duration, done <-chan struct{}) {
		l.Close() // closed while waiting out the backoff
		sleepOrDone(time.Hour, done)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
}

// dialFrom opens an idle connection from a chosen loopback address, so one
// machine can play several clients (127.0.0.0/8 is all loopback on Linux).
func dialFrom(t testing.TB, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitClosedByServer blocks until the server closes c (EOF or reset). The
// deadline is only a bound on a broken test, not a timing assertion.
func waitClosedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("connection %s was not closed by the server: %v", c.LocalAddr(), err)
	}
}

func TestIdleConnectionsCannotStarveOtherClients(t *testing.T) {
	cfg := loadYAMLConfig(t, testdata+"config.yaml")
	cfg.Server.MaxConns = 12
	cfg.Server.MaxConnsPerIP = 8
	ls := startServer(t, cfg, Options{})
	addr := ls.base[len("http://"):]
	m := ls.e.m
	body, _ := os.ReadFile(testdata + "requests/2.6/simple-banner.json")

	// One client opens idle connections beyond its per-IP limit: its own
	// longest-idle connections are closed to make room, oldest first.
	const hog = 20
	conns := make([]net.Conn, hog)
	for i := range conns {
		conns[i] = dialFrom(t, "127.0.0.2", addr)
	}
	for i := 0; i < hog-8; i++ {
		waitClosedByServer(t, conns[i])
	}
	if got := counterValue(m.public.evicted[limitPerIP]); got != hog-8 {
		t.Errorf("evicted for the per-IP limit: %v, want %d", got, hog-8)
	}

	// A second client fills the rest of the total with keep-alive
	// connections, each answered once (so each is known to be accepted).
	for i := 0; i < 4; i++ {
		c := dialFrom(t, "127.0.0.3", addr)
		if _, err := c.Write([]byte("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		var buf [512]byte
		if n, err := c.Read(buf[:]); err != nil || !bytes.Contains(buf[:n], []byte(" 404 ")) {
			t.Fatalf("keep-alive request from 127.0.0.3: %q %v", buf[:n], err)
		}
	}
	// Another client is still served: the total limit closes an idle
	// connection of the biggest holder (127.0.0.2) to make room.
	st, _, resp := ls.do(t, "POST", ls.base+"/openrtb2/bid", body)
	if st != 200 {
		t.Fatalf("other client: %d %s", st, resp)
	}
	if got := counterValue(m.public.evicted[limitTotal]); got < 1 {
		t.Errorf("evicted for the total limit: %v, want ≥ 1", got)
	}
	waitClosedByServer(t, conns[hog-8]) // 127.0.0.2's oldest survivor made room
	if open := gaugeValue(m.public.open); open > 12 {
		t.Errorf("open connections %v over max_conns 12", open)
	}
	// The listener never closed: a new connection is still served.
	ls.client.CloseIdleConnections()
	if st, _, _ := ls.do(t, "POST", ls.base+"/openrtb2/bid", body); st != 200 {
		t.Fatalf("after the flood: %d", st)
	}
	select {
	case err := <-ls.done:
		t.Fatalf("server stopped: %v", err)
	default:
	}
}

func TestConnectionRefusedWhenNoneIsIdle(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newServerMetrics()
	l := newGuardedListener(inner, connLimits{name: "public", maxPerIP: 1}, &m.public, zerolog.Nop())
	defer l.Close()
	c1 := dialFrom(t, "127.0.0.1", inner.Addr().String())
	a1, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a1.Close()
	connState(a1, fasthttp.StateActive) // a request is being served on it
	c2 := dialFrom(t, "127.0.0.1", inner.Addr().String())
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	waitClosedByServer(t, c2) // refused: the only connection is busy
	if got := counterValue(m.public.refused[limitPerIP]); got != 1 {
		t.Errorf("refused: %v", got)
	}
	_ = c1
	// Once the busy one is closed, a new connection is accepted.
	a1.Close()
	dialFrom(t, "127.0.0.1", inner.Addr().String())
	if c := <-accepted; c == nil {
		t.Fatal("no connection accepted after room was made")
	} else {
		c.Close()
	}
}

// TestReceiveTimestamp: the bid handler learns when the request's bytes
// reached the machine (the kernel's receive time), not when it read them.
func TestReceiveTimestamp(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newServerMetrics()
	l := newGuardedListener(inner, connLimits{name: "public"}, &m.public, zerolog.Nop())
	defer l.Close()
	c := dialFrom(t, "127.0.0.1", inner.Addr().String())
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	gc := sc.(*guardedConn)
	if gc.rx == nil {
		t.Skip("no SO_TIMESTAMPNS on this platform")
	}
	// Linux turns timestamping on asynchronously the first time a socket
	// asks: the first bytes may come unstamped (arrival unknown, 0).
	buf := make([]byte, 16)
	stamped := false
	for i := 0; i < 10000 && !stamped; i++ {
		before := time.Now().UnixNano()
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		n, err := sc.Read(buf)
		after := time.Now().UnixNano()
		if err != nil || string(buf[:n]) != "hello" {
			t.Fatalf("read %q %v", buf[:n], err)
		}
		if gc.rx.at == 0 {
			continue
		}
		stamped = true
		if gc.rx.at < before || gc.rx.at > after {
			t.Errorf("receive time %d not within [%d, %d]", gc.rx.at, before, after)
		}
	}
	if !stamped {
		t.Fatal("no receive timestamp in 10000 reads")
	}
	// EOF and deadlines behave as on a plain connection.
	_ = sc.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := sc.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past deadline: %v", err)
	}
	_ = sc.SetReadDeadline(time.Time{})
	c.Close()
	if _, err := sc.Read(buf); err != io.EOF {
		t.Errorf("read after peer close: %v, want EOF", err)
	}
}

func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	_ = g.Write(&m)
	return m.GetGauge().GetValue()
}

// TestSurvivesFileLimit runs a server in a child process whose file limit is
// nearly used up (as 265 idle connections under ulimit -n 300 would), so
// accept really fails with EMFILE: the listener keeps going, closes idle
// connections to free descriptors, and a new client is served.
func TestSurvivesFileLimit(t *testing.T) {
	if os.Getenv("CALLBID_TEST_EMFILE_CHILD") == "1" {
		emfileChild(t)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux file limits")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSurvivesFileLimit$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CALLBID_TEST_EMFILE_CHILD=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	out := bufio.NewScanner(stdout)
	var addr string
	for out.Scan() {
		if a, ok := strings.CutPrefix(out.Text(), "LISTEN "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatalf("child did not start: %s", stderr.String())
	}
	// Idle connections beyond the descriptors the child has left.
	conns := make([]net.Conn, 12)
	for i := range conns {
		conns[i] = dialFrom(t, "127.0.0.2", addr)
	}
	waitClosedByServer(t, conns[0]) // closed to free a descriptor for a newer one
	// Another client is served on a new connection.
	body, _ := os.ReadFile(testdata + "requests/2.6/simple-banner.json")
	c := dialFrom(t, "127.0.0.1", addr)
	req := fmt.Sprintf("POST /openrtb2/bid?exchange=nbrx HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("bid from another client: %v\nchild: %s", err, stderr.String())
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Contains(got, []byte(`"seatbid"`)) {
		t.Fatalf("bid from another client: %d %s", resp.StatusCode, got)
	}
	stdin.Close() // the child reports its counters and exits
	var report string
	for out.Scan() {
		if r, ok := strings.CutPrefix(out.Text(), "REPORT "); ok {
			report = r
		}
	}
	_ = cmd.Wait()
	var acceptErrs, evicted float64
	if _, err := fmt.Sscanf(report, "accept_errors=%g evicted_files=%g", &acceptErrs, &evicted); err != nil {
		t.Fatalf("child report %q: %v\n%s", report, err, stderr.String())
	}
	if acceptErrs < 1 || evicted < 1 {
		t.Errorf("accept errors %v, connections closed for descriptors %v: want both ≥ 1", acceptErrs, evicted)
	}
}

func emfileChild(t *testing.T) {
	cfg := loadYAMLConfig(t, testdata+"config.yaml")
	// The request waits in the kernel while accept backs off; decide it
	// fully anyway so the parent sees a bid, not a shed no-bid.
	cfg.Server.MaxQueueDelay = -1
	e := newEnv(t, cfg, 0)
	srv := NewServer(e.b, Options{}, zerolog.Nop())
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = 300
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pub, adm) }()
	// Use up the descriptors but three, as idle clients would have.
	var filler []*os.File
	for i := 0; i < 1000; i++ {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		filler = append(filler, f)
	}
	for _, f := range filler[len(filler)-3:] {
		f.Close()
	}
	fmt.Printf("LISTEN %s\n", pub.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent is done
	select {
	case err := <-done:
		fmt.Fprintf(os.Stderr, "server stopped: %v\n", err)
	default:
	}
	m := &srv.m.public
	fmt.Printf("REPORT accept_errors=%g evicted_files=%g\n", counterValue(m.acceptErrors), counterValue(m.evicted[limitFiles]))
	os.Exit(0)
}
