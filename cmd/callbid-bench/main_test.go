package main

import (
	"bytes"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestBadInputGivesOneLineAndExitCode(t *testing.T) {
	f := func(args []string, code int, want string) {
		t.Helper()
		var out, errw bytes.Buffer
		got := run(args, &out, &errw)
		msg := errw.String()
		if got != code || !strings.Contains(msg, want) || strings.Count(msg, "\n") != 1 || strings.Contains(msg, "goroutine") {
			t.Errorf("run(%q) = %d, stderr %q; want %d and one line with %q", args, got, msg, code, want)
		}
	}
	f([]string{"-rate", "fast"}, 2, `invalid value "fast" for flag -rate`)
	f([]string{"-nope"}, 2, "flag provided but not defined: -nope")
	f([]string{"-rate", "0", "-conns", "0"}, 2, "rate: 0 must be in (0, 2000000] requests/s; conns: 0 must be between 1 and 10000")
	f([]string{"-target", "http://192.0.2.1:80"}, 2, "is not a loopback address")
	f([]string{"-target", "http://127.0.0.1:1", "-duration", "1s"}, 1, "target 127.0.0.1:1 is not reachable")
	f([]string{"-corpus", "/nonexistent", "-target", "http://127.0.0.1:1"}, 1, "corpus: cannot read /nonexistent")
	f([]string{"-json", "/nonexistent/dir/r.json"}, 1, "cannot create /nonexistent/dir/r.json")
	f([]string{"walk"}, 2, `unknown command "walk"`)
	f([]string{"ceiling", "-listen", "10.1.1.1:80"}, 1, "not a loopback address")
	f([]string{"run", "extra"}, 2, `unexpected argument "extra"`)
}

func serve204(t *testing.T) string {
	return serveH(t, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusNoContent) })
}

func serveH(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// TestLimitsFailTheRun: a constant-rate run given -max-p99 or
// -max-error-rate exits 3 when it misses them (the CI gate), 0 when not.
func TestLimitsFailTheRun(t *testing.T) {
	target := serve204(t)
	dir := t.TempDir()
	base := []string{"-target", target, "-rate", "1000", "-n", "20", "-warmup", "0", "-quiet", "-conns", "2", "-pool", "50"}
	var out, errw bytes.Buffer
	// No latency is under 1ns: the p99 limit fails.
	code := run(append(base, "-max-p99", "1ns", "-hgrm", dir+"/run.hgrm"), &out, &errw)
	if code != 3 || !strings.Contains(errw.String(), "FAILED: p99") || !strings.Contains(out.String(), "FAILED limits") {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errw.String(), out.String())
	}
	if b, err := os.ReadFile(dir + "/run.hgrm"); err != nil || !strings.Contains(string(b), "Percentile") {
		t.Errorf("hgrm file: %v %q", err, b)
	}
	out.Reset()
	errw.Reset()
	if code := run(append(base, "-max-p99", "1m", "-max-error-rate", "0"), &out, &errw); code != 0 {
		t.Errorf("within limits: exit %d, stderr %q", code, errw.String())
	}
	// A server that drops every connection unanswered: all errors.
	dropper := serveH(t, func(ctx *fasthttp.RequestCtx) { _ = ctx.Conn().Close() })
	base[1] = dropper
	out.Reset()
	errw.Reset()
	if code := run(append(base, "-max-error-rate", "0.5"), &out, &errw); code != 3 ||
		!strings.Contains(errw.String(), "are over -max-error-rate 50.000%") {
		t.Errorf("errors over the limit: exit %d, stderr %q", code, errw.String())
	}
}

func TestRemoteTargetsNeedAllowRemote(t *testing.T) {
	var out, errw bytes.Buffer
	if code := run([]string{"-target", "https://bid.example.com"}, &out, &errw); code != 2 ||
		!strings.Contains(errw.String(), "-allow-remote") {
		t.Errorf("https without -allow-remote: exit %d, %q", code, errw.String())
	}
}
