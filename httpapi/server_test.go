package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbid/callbid/bidder"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

type liveServer struct {
	e      *testEnv
	srv    *Server
	base   string
	admin  string
	done   chan error
	client *http.Client
}

func startServer(t *testing.T, cfg bidder.Config, opts Options) *liveServer {
	t.Helper()
	if cfg.Server.MaxQueueDelay == 0 {
		// These tests want decisions, not overload answers: a loaded test
		// machine (race detector, neighbours) queues requests for
		// milliseconds. Admission has its own tests.
		cfg.Server.MaxQueueDelay = -1
	}
	e := newEnv(t, cfg, 0)
	reg := prometheus.NewRegistry()
	opts.Gatherer = reg
	srv := NewServer(e.b, opts, zerolog.Nop())
	e.m = srv.m
	if err := errors.Join(e.b.RegisterMetrics(reg), srv.RegisterMetrics(reg)); err != nil {
		t.Fatal(err)
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ls := &liveServer{e: e, srv: srv, base: "http://" + pub.Addr().String(),
		admin: "http://" + adm.Addr().String(), done: make(chan error, 1),
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true}}}
	go func() { ls.done <- ls.srv.Serve(pub, adm) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ls.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-ls.done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ls
}

func (ls *liveServer) do(t *testing.T, method, url string, body []byte, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	st, h, b, err := ls.doErr(method, url, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return st, h, b
}

func (ls *liveServer) doErr(method, url string, body []byte, hdr ...string) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ls.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, nil
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestServerEndToEnd(t *testing.T) {
	reloads := 0
	ls := startServer(t, loadYAMLConfig(t, testdata+"config.yaml"), Options{
		Ready:  func() (bool, []string) { return false, []string{"capacity feed stale"} },
		Reload: func() error { reloads++; return nil },
		Reports: map[string]Report{"/admin/extra": func(q url.Values) (string, []byte, error) {
			if q.Get("fail") != "" {
				return "", nil, errors.New("fail is set")
			}
			return "text/plain", []byte("extra " + q.Get("x")), nil
		}},
	})
	body, err := os.ReadFile(testdata + "requests/2.5/simple-banner.json")
	if err != nil {
		t.Fatal(err)
	}
	bidURL := ls.base + "/openrtb2/bid"

	// Plain bid.
	st, hdr, resp := ls.do(t, "POST", bidURL, body, "Content-Type", "application/json")
	if st != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("bid: %d %q %s", st, hdr.Get("Content-Type"), resp)
	}
	var br openrtb2.BidResponse
	if err := json.Unmarshal(resp, &br); err != nil || len(br.SeatBid) != 1 || len(br.SeatBid[0].Bid) != 1 {
		t.Fatalf("bid response %s: %v", resp, err)
	}
	bid := br.SeatBid[0].Bid[0]
	t.Logf("response (%d bytes): %s", len(resp), resp)

	// gzip in and out.
	st, hdr, resp = ls.do(t, "POST", bidURL, gz(body), "Content-Encoding", "gzip", "Accept-Encoding", "gzip")
	if st != 200 || hdr.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip bid: %d %q", st, hdr.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(resp))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if err := json.Unmarshal(plain, &br); err != nil || len(br.SeatBid) != 1 {
		t.Fatalf("gunzipped response %s: %v", plain, err)
	}

	// Refusals.
	for _, c := range []struct {
		name, method string
		body         []byte
		hdr          []string
		want         int
	}{
		{"malformed", "POST", []byte(`{"id":`), nil, 400},
		{"no imp", "POST", []byte(`{"id":"x","imp":[],"site":{"id":"s"}}`), nil, 400},
		{"not gzip", "POST", body, []string{"Content-Encoding", "gzip"}, 400},
		{"wrong method", "GET", nil, nil, 405},
		{"too large", "POST", bytes.Repeat([]byte(" "), 70<<10), nil, 413},
		{"gzip bomb", "POST", gz(bytes.Repeat([]byte(" "), 50<<20)), []string{"Content-Encoding", "gzip"}, 413},
	} {
		st, _, resp, err := ls.doErr(c.method, bidURL, c.body, c.hdr...)
		if err != nil && c.want == 413 && len(c.body) > 64<<10 {
			// The server answers 413 from the headers and closes while the
			// client may still be writing the body: the client can then see a
			// broken pipe instead. The too_large counter below proves the refusal.
			continue
		}
		if err != nil || st != c.want || (st == 400 && len(resp) != 0) {
			t.Errorf("%s: %d %q %v, want %d", c.name, st, resp, err, c.want)
		}
	}

	// No bid: 204 by default, 200 + nbr for nbr exchanges.
	video, _ := os.ReadFile(testdata + "requests/2.5/video.json")
	if st, _, resp := ls.do(t, "POST", bidURL, video); st != 204 || len(resp) != 0 {
		t.Errorf("no bid: %d %q", st, resp)
	}
	coppa, _ := os.ReadFile(testdata + "requests/own/coppa-app.json")
	if st, _, resp := ls.do(t, "POST", bidURL+"?exchange=nbrx", coppa); st != 200 || string(resp) != `{"id":"own-coppa-app","nbr":504}` {
		t.Errorf("nbr no bid: %d %s", st, resp)
	}

	// Notices: win by GET, bill by POST (twice), loss, and a forged one.
	nurl := strings.ReplaceAll(bid.NURL, "https://bid.example.com", ls.base)
	burl := strings.ReplaceAll(bid.BURL, "https://bid.example.com", ls.base)
	lurl := strings.ReplaceAll(bid.LURL, "https://bid.example.com", ls.base)
	if st, _, _ := ls.do(t, "GET", strings.ReplaceAll(nurl, "${AUCTION_PRICE}", "3.10"), nil); st != 204 {
		t.Errorf("win: %d", st)
	}
	for i := 0; i < 2; i++ {
		if st, _, _ := ls.do(t, "POST", strings.ReplaceAll(burl, "${AUCTION_PRICE}", "3.10"), nil); st != 204 {
			t.Errorf("bill %d: %d", i, st)
		}
	}
	lurl = strings.ReplaceAll(strings.ReplaceAll(lurl, "${AUCTION_PRICE}", ""), "${AUCTION_LOSS}", "102")
	if st, _, _ := ls.do(t, "GET", lurl, nil); st != 204 {
		t.Errorf("loss: %d", st)
	}
	forged := strings.Replace(burl, "t=", "t=AAAA", 1)
	if st, _, _ := ls.do(t, "GET", forged, nil); st != 403 && st != 400 {
		t.Errorf("forged: %d", st)
	}
	if n := len(ls.e.res.bills); n != 1 {
		t.Errorf("billed refs %d, want 1", n)
	}
	if st, _, _ := ls.do(t, "POST", ls.base+"/v1/calls", []byte(`{}`)); st != 404 {
		t.Errorf("/v1/calls without pools: %d", st)
	}

	// Admin listener.
	if st, _, _ := ls.do(t, "GET", ls.admin+"/healthz", nil); st != 200 {
		t.Errorf("healthz %d", st)
	}
	if st, _, b := ls.do(t, "GET", ls.admin+"/readyz", nil); st != 503 || !strings.Contains(string(b), "capacity feed stale") {
		t.Errorf("readyz %d %s", st, b)
	}
	if st, _, _ := ls.do(t, "POST", ls.admin+"/admin/reload", nil); st != 200 || reloads != 1 {
		t.Errorf("reload %d (%d calls)", st, reloads)
	}
	if st, h, b := ls.do(t, "GET", ls.admin+"/admin/extra?x=1", nil); st != 200 || string(b) != "extra 1" || h.Get("Content-Type") != "text/plain" {
		t.Errorf("report route %d %q %s", st, h.Get("Content-Type"), b)
	}
	if st, _, b := ls.do(t, "GET", ls.admin+"/admin/extra?fail=1", nil); st != 400 || string(b) != "fail is set\n" {
		t.Errorf("report route, bad query: %d %s", st, b)
	}
	if st, _, _ := ls.do(t, "POST", ls.admin+"/admin/extra", nil); st != 405 {
		t.Errorf("report route, POST: %d", st)
	}
	if st, _, _ := ls.do(t, "GET", ls.admin+"/admin/pools", nil); st != 404 {
		t.Errorf("/admin/pools without pools: %d", st)
	}
	if st, _, _ := ls.do(t, "GET", ls.admin+"/debug/pprof/", nil); st != 200 {
		t.Errorf("pprof %d", st)
	}
	st, _, m := ls.do(t, "GET", ls.admin+"/metrics", nil)
	for _, want := range []string{`callbid_bidder_requests_total 10`, `callbid_bidder_bids_total 2`,
		`callbid_bidder_nobids_total{reason="unsupported"} 1`, `callbid_bidder_nobids_total{reason="blocked"} 1`,
		`callbid_bidder_bad_requests_total{reason="too_large"} 2`, `callbid_bidder_notices_total{kind="bill",outcome="duplicate"} 1`,
		`callbid_bidder_request_seconds_count 4`, `callbid_bidder_notice_numbers_total{result="leased"} 2`} {
		if st != 200 || !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.Contains(string(m), `callbid_bidder_notices_total{kind="bill",outcome="forged"} 1`) &&
		!strings.Contains(string(m), `callbid_bidder_notices_total{kind="bill",outcome="malformed"} 1`) {
		t.Errorf("forged notice not counted")
	}
	if st, _, _ := ls.do(t, "GET", ls.base+"/metrics", nil); st != 404 {
		t.Errorf("metrics on the public listener: %d", st)
	}
}

// TestReloadUnderLoad swaps configs while clients bid over HTTP: no request
// may fail or be dropped.
func TestReloadUnderLoad(t *testing.T) {
	cfgA := loadYAMLConfig(t, testdata+"config.yaml")
	cfgB := loadYAMLConfig(t, testdata+"config.yaml")
	cfgB.Campaigns[0].ValuePerCall = 50_000_000 // 5.00 CPM
	cfgB.Campaigns = append(cfgB.Campaigns[:1], cfgB.Campaigns[2:]...)
	// Every request must get a bid: no queue shedding on a busy test machine
	// (the configs applied below replace the one startServer adjusts).
	// Nor deadline no-bids: under the race detector and neighbours'
	// builds a request can wait 50ms for a CPU.
	for _, c := range []*bidder.Config{&cfgA, &cfgB} {
		c.Server.MaxQueueDelay = -1
		c.Server.DefaultTMax, c.Server.MaxDeadline = 10*time.Second, 10*time.Second
	}
	ls := startServer(t, cfgA, Options{})
	body, _ := os.ReadFile(testdata + "requests/2.6/simple-banner.json")
	client := &fasthttp.Client{MaxConnsPerHost: 16}
	addr := ls.base + "/openrtb2/bid"

	const workers, perWorker = 4, 250
	var failed, ok atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var reloads atomic.Int64
	var wg sync.WaitGroup
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cfg := cfgA
			if i%2 == 1 {
				cfg = cfgB
			}
			if err := ls.e.b.Apply(cfg); err != nil {
				firstErr.Store(err)
				failed.Add(1)
			}
			reloads.Add(1)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for i := 0; i < perWorker; i++ {
				req.SetRequestURI(addr)
				req.Header.SetMethod("POST")
				req.SetBody(body)
				if err := client.DoTimeout(req, resp, 5*time.Second); err != nil || resp.StatusCode() != 200 {
					if err == nil {
						err = errors.New(resp.String())
					}
					firstErr.Store(err)
					failed.Add(1)
					continue
				}
				var br openrtb2.BidResponse
				if err := json.Unmarshal(resp.Body(), &br); err != nil || len(br.SeatBid) != 1 {
					firstErr.Store(errors.New("bad body: " + string(resp.Body())))
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if reloads.Load() < 10 {
		t.Fatalf("only %d reloads happened during the load", reloads.Load())
	}
	if f := failed.Load(); f != 0 || ok.Load() != workers*perWorker {
		var why []string
		for r, c := range ls.e.m.shed {
			why = append(why, fmt.Sprintf("shed %s: %v", shedReasonNames[r], counterValue(c)))
		}
		t.Fatalf("%d failed, %d ok of %d (%s); first error: %v", f, ok.Load(), workers*perWorker, strings.Join(why, ", "), firstErr.Load())
	}
	t.Logf("%d requests answered with a bid across %d reloads", ok.Load(), reloads.Load())
}
