//go:build linux

package bench

import (
	"bufio"
	"context"
	"net"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// newTestRaw is an engine with the raw client against target.
func newTestRaw(tb testing.TB, target string, conns int) (*engine, *sender) {
	tb.Helper()
	cfg := testConfig(target)
	cfg.Conns, cfg.Timeout, cfg.Client = conns, time.Minute, ClientRaw
	bodies, err := Generate(GeneratorConfig{Seed: 1, Count: 64, Publishers: 10, UniqueIDs: true})
	if err != nil {
		tb.Fatal(err)
	}
	e, err := newEngine(cfg, bodies, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if e.raw == nil {
		tb.Fatal("raw client not chosen")
	}
	acc := e.newSender(-1)
	tb.Cleanup(func() { acc.release(); e.close() })
	return e, acc
}

// rawBurst runs n requests, all due now, through the raw client.
func rawBurst(e *engine, acc *sender, n int64) {
	p := schedule{base: time.Now().UnixNano(), interval: 0, totalN: n, seqBase: e.seqBase,
		timeout: int64(e.cfg.Timeout), batch: int64(e.cfg.Batch)}
	i, _ := e.raw.runPhase(context.Background(), &p, acc)
	e.seqBase += uint64(i)
}

// The raw client's per-request path must not allocate either.
func TestRawSendDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under -race")
	}
	e, acc := newTestRaw(t, serve(t, CeilingHandler(CeilingBody("127.0.0.1:1"))), 4)
	// AllocsPerRun counts the whole process, the in-process target (fasthttp)
	// too, whose worker pool and pools allocate now and then (1 run in 10 saw
	// one allocation per 200 requests, with the GC off: not per request).
	// So the runs are long, 2,000 requests, and up to one allocation a run is
	// the target's: a per-request allocation in the client would be 2,000.
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	rawBurst(e, acc, 2000) // dial and warm the buffers
	if n := testing.AllocsPerRun(5, func() { rawBurst(e, acc, 2000) }); n > 1 {
		t.Fatalf("%.1f allocations per 2,000 requests, want at most the target's one", n)
	}
	if acc.total.errors != 0 || acc.total.timeouts != 0 || acc.total.bids != 14000 {
		t.Fatalf("errors %d timeouts %d bids %d, want 0, 0, 14000", acc.total.errors, acc.total.timeouts, acc.total.bids)
	}
}

// There is no BenchmarkRawSend beside BenchmarkSend: with the target in
// the same process the raw client's wait for an answer (epoll_pwait2, a
// blocking system call) must hand the P to the server's goroutine through
// sysmon, and the figure would measure that hand-off. Its CPU per request
// is measured against the ceiling in another process (bench/README.md,
// "what the bench itself costs").

// TestClientsAgree runs the same schedule through both clients against a
// target that answers bids, nbr no-bids, bare 204s, gzip and 500s: every
// figure derived from the answers must be the same.
func TestClientsAgree(t *testing.T) {
	bid := CeilingBody("127.0.0.1:1")
	gz := fasthttp.AppendGzipBytes(nil, bid)
	var n atomic.Int32
	target := serve(t, func(ctx *fasthttp.RequestCtx) {
		switch n.Add(1) % 5 {
		case 0:
			ctx.SetContentType("application/json")
			ctx.SetBody(bid)
		case 1:
			ctx.SetBodyString(`{"id":"x","nbr":502}`)
		case 2:
			ctx.SetStatusCode(fasthttp.StatusNoContent)
		case 3:
			ctx.Response.Header.Set(fasthttp.HeaderContentEncoding, "gzip")
			ctx.SetBody(gz)
		case 4:
			ctx.SetStatusCode(500)
		}
	})
	results := map[string]*Result{}
	for _, client := range []string{ClientRaw, ClientFastHTTP} {
		n.Store(0)
		cfg := testConfig(target)
		cfg.Client, cfg.Conns, cfg.Requests, cfg.Duration, cfg.Rate = client, 1, 100, 0, 1000
		rep, err := Run(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		results[client] = rep.Result
	}
	raw, fh := results[ClientRaw], results[ClientFastHTTP]
	type figures struct {
		Scheduled, Sent, Responses, Errors, Timeouts, Bids int64
		MeanPrice                                          float64
		Status                                             map[string]int64
		NoBid                                              map[string]int64
	}
	get := func(r *Result) figures {
		return figures{r.Scheduled, r.Sent, r.Responses, r.Errors, r.Timeouts, r.Bids, r.MeanPrice, r.Status, r.NoBidReasons}
	}
	if a, b := get(raw), get(fh); !reflect.DeepEqual(a, b) {
		t.Fatalf("raw client %+v\nfasthttp    %+v", a, b)
	}
	if raw.Responses != 100 || raw.Bids != 40 || raw.Status["500"] != 20 {
		t.Errorf("responses %d bids %d status %v, want 100, 40 (plain and gzip), 20 × 500", raw.Responses, raw.Bids, raw.Status)
	}
}

// rawServer answers each request on a plain TCP listener with answer(i),
// written in pieces as given, so framing the raw client must handle can be
// produced exactly.
func rawServer(t *testing.T, answer func(i int) []string) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var served atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer func() { _ = c.Close() }()
				r := bufio.NewReader(c)
				for {
					n, ok := readRequest(r)
					if !ok {
						return
					}
					_ = n
					for _, piece := range answer(int(served.Add(1))) {
						if piece == "CLOSE" {
							return
						}
						if _, err := c.Write([]byte(piece)); err != nil {
							return
						}
					}
				}
			}(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

// readRequest reads one request (headers and Content-Length body).
func readRequest(r *bufio.Reader) (int, bool) {
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, false
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "content-length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	buf := make([]byte, length)
	_, err := ioReadFull(r, buf)
	return length, err == nil
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestRawFraming: answers split across writes, chunked, with interim 100,
// closed by the server (Connection: close, or a body that ends at close)
// are all read whole, and the connection is reopened when the server
// closes it.
func TestRawFraming(t *testing.T) {
	bid := string(CeilingBody("127.0.0.1:1"))
	half := len(bid) / 2
	target := rawServer(t, func(i int) []string {
		switch i % 6 {
		case 0: // split in the headers and in the body
			h := "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(bid)) + "\r\n\r\n"
			return []string{h[:10], h[10:] + bid[:half], bid[half:]}
		case 1: // chunked, with an extension and a trailer
			return []string{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
				strconv.FormatInt(int64(half), 16) + ";x=y\r\n" + bid[:half] + "\r\n",
				strconv.FormatInt(int64(len(bid)-half), 16) + "\r\n" + bid[half:] + "\r\n0\r\nX-T: 1\r\n\r\n"}
		case 2: // interim answer first, then a gzipped no-bid in two writes
			nbr := string(fasthttp.AppendGzipBytes(nil, []byte(`{"id":"x","nbr":502}`)))
			return []string{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " +
				strconv.Itoa(len(nbr)) + "\r\n\r\n" + nbr[:5], nbr[5:]}
		case 3: // the server closes after answering
			return []string{"HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 20\r\n\r\n{\"id\":\"x\",\"nbr\":502}", "CLOSE"}
		case 4: // body delimited by the close
			return []string{"HTTP/1.0 200 OK\r\n\r\n" + bid, "CLOSE"}
		default: // the server closes without answering
			return []string{"CLOSE"}
		}
	})
	e, acc := newTestRaw(t, target, 1)
	rawBurst(e, acc, 60)
	tot := &acc.total
	if tot.responses != 50 || tot.bidResponses != 30 || tot.errors != 10 || tot.timeouts != 0 || tot.badBodies != 0 {
		t.Fatalf("answered %d bids %d errors %d (%v) timeouts %d bad bodies %d, want 50, 30, 10, 0, 0",
			tot.responses, tot.bidResponses, tot.errors, tot.errKinds, tot.timeouts, tot.badBodies)
	}
	if tot.nbr[502] != 20 {
		t.Errorf("no-bid reasons %v, want 20 × 502", tot.nbr)
	}
	if tot.errKinds[errServerClosed.Error()] != 10 {
		t.Errorf("errors %v, want 10 × %q", tot.errKinds, errServerClosed)
	}
}

// TestRawTimeoutReopens: a request unanswered at its deadline counts as a
// timeout, its connection is closed, and the next request goes out on a
// new one.
func TestRawTimeoutReopens(t *testing.T) {
	bid := string(CeilingBody("127.0.0.1:1"))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	target := rawServer(t, func(i int) []string {
		if i == 1 {
			<-release // never answered while the test runs
			return []string{"CLOSE"}
		}
		return []string{"HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(bid)) + "\r\n\r\n" + bid}
	})
	e, acc := newTestRaw(t, target, 1)
	e.cfg.Timeout = 20 * time.Millisecond
	p := schedule{base: time.Now().UnixNano(), interval: float64(50 * time.Millisecond), totalN: 3,
		timeout: int64(e.cfg.Timeout), batch: int64(e.cfg.Batch)}
	e.raw.runPhase(context.Background(), &p, acc)
	if tot := &acc.total; tot.timeouts != 1 || tot.responses != 2 || tot.errors != 0 || tot.sent != 3 {
		t.Fatalf("timeouts %d answered %d errors %d sent %d, want 1, 2, 0, 3", tot.timeouts, tot.responses, tot.errors, tot.sent)
	}
}

// TestRawAnswerTimeFromKernel: the end of an answer's latency is when the
// kernel received it (SO_TIMESTAMPNS), not when the bench read it.
func TestRawAnswerTimeFromKernel(t *testing.T) {
	e, acc := newTestRaw(t, serve(t, CeilingHandler(CeilingBody("127.0.0.1:1"))), 1)
	before := time.Now().UnixNano()
	rawBurst(e, acc, 3)
	cn := &e.raw.conns[0]
	if acc.total.responses != 3 || cn.rxAt < before || cn.rxAt < cn.sentAt || cn.rxAt > time.Now().UnixNano() {
		t.Fatalf("answers %d, arrival %d, want 3 and an arrival after the send (%d)", acc.total.responses, cn.rxAt, cn.sentAt)
	}
}

// TestRawDeadTarget: when the target refuses connections every ticket ends
// as an error naming the cause, and the phase ends.
func TestRawDeadTarget(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	e, acc := newTestRaw(t, "http://"+addr, 4)
	rawBurst(e, acc, 20)
	tot := &acc.total
	if tot.errors != 20 || tot.sent != 20 || tot.responses != 0 || tot.errKinds["connection refused"] != 20 {
		t.Fatalf("errors %d (%v) sent %d answered %d, want 20 refused, 20 sent, 0", tot.errors, tot.errKinds, tot.sent, tot.responses)
	}
}

// TestClientChoice: auto picks the raw client for http targets and the
// general one for https; asking for raw where it cannot run is an error.
func TestClientChoice(t *testing.T) {
	for _, tc := range []struct {
		target, client string
		raw, fails     bool
	}{
		{"http://127.0.0.1:9", "", true, false},
		{"http://127.0.0.1:9", ClientFastHTTP, false, false},
		{"https://127.0.0.1:9", "", false, false},
		{"https://127.0.0.1:9", ClientRaw, false, true},
	} {
		cfg := DefaultConfig()
		cfg.Target, cfg.Client = tc.target, tc.client
		e, err := newEngine(cfg, nil, nil, nil)
		if (err != nil) != tc.fails {
			t.Errorf("%s client %q: err %v, want failure %v", tc.target, tc.client, err, tc.fails)
			continue
		}
		if err == nil {
			if (e.raw != nil) != tc.raw {
				t.Errorf("%s client %q: raw %v, want %v", tc.target, tc.client, e.raw != nil, tc.raw)
			}
			e.close()
		}
	}
}
