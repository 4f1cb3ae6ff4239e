package httpapi

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbid/callbid/bidder"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// TestAdminRemoteNeedsToken: reload and pprof answer loopback clients; others
// need the admin token, unless server.admin_allow_remote opens them.
func TestAdminRemoteNeedsToken(t *testing.T) {
	const token = "0123456789abcdef-admin"
	remote := &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 40000}
	local := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 40000}
	for _, c := range []struct {
		name   string
		cfg    bidder.ServerConfig
		from   net.Addr
		auth   string
		status int
	}{
		{"loopback, no token configured", bidder.ServerConfig{}, local, "", 200},
		{"loopback, token configured", bidder.ServerConfig{AdminToken: token}, local, "", 200},
		{"remote, no token configured", bidder.ServerConfig{}, remote, "Bearer " + token, 403},
		{"remote, no token sent", bidder.ServerConfig{AdminToken: token}, remote, "", 401},
		{"remote, wrong token", bidder.ServerConfig{AdminToken: token}, remote, "Bearer " + token + "x", 401},
		{"remote, token", bidder.ServerConfig{AdminToken: token}, remote, "Bearer " + token, 200},
		{"remote, admin_allow_remote", bidder.ServerConfig{AdminAllowRemote: true}, remote, "", 200},
	} {
		for _, path := range []string{"/admin/reload", "/debug/pprof/cmdline"} {
			m := newServerMetrics()
			reloads := 0
			cfg := c.cfg
			h := adminHandler(nil, Options{Reload: func() error { reloads++; return nil }}, func() *bidder.ServerConfig { return &cfg }, m, zerolog.Nop())
			var req fasthttp.Request
			req.Header.SetMethod("POST")
			req.SetRequestURI(path)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			var ctx fasthttp.RequestCtx
			ctx.Init(&req, c.from, nil)
			h(&ctx)
			if st := ctx.Response.StatusCode(); st != c.status {
				t.Errorf("%s %s: %d %s, want %d", c.name, path, st, ctx.Response.Body(), c.status)
			}
			if path == "/admin/reload" && (reloads == 1) != (c.status == 200) {
				t.Errorf("%s: reload ran %d times with status %d", c.name, reloads, c.status)
			}
		}
	}

	// Metrics and readiness stay open to every client of the admin listener.
	cfg := bidder.ServerConfig{}
	h := adminHandler(nil, Options{}, func() *bidder.ServerConfig { return &cfg }, newServerMetrics(), zerolog.Nop())
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		var req fasthttp.Request
		req.SetRequestURI(path)
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, remote, nil)
		h(&ctx)
		if ctx.Response.StatusCode() != 200 {
			t.Errorf("%s from a remote client: %d", path, ctx.Response.StatusCode())
		}
	}
}

// addrListener reports another address than the one it listens on, to play
// an admin listener bound beyond loopback without leaving loopback.
type addrListener struct {
	net.Listener
	addr net.Addr
}

func (a addrListener) Addr() net.Addr { return a.addr }

func TestWarnWhenAdminBeyondLoopback(t *testing.T) {
	for _, c := range []struct {
		cfg  bidder.ServerConfig
		want string
	}{
		{bidder.ServerConfig{}, "reload and pprof answer loopback clients only"},
		{bidder.ServerConfig{AdminToken: "0123456789abcdef"}, "reload and pprof need the admin token"},
		{bidder.ServerConfig{AdminAllowRemote: true}, "opens reload and pprof to every client"},
	} {
		cfg := loadYAMLConfig(t, testdata+"config.yaml")
		cfg.Server.AdminToken, cfg.Server.AdminAllowRemote = c.cfg.AdminToken, c.cfg.AdminAllowRemote
		e := newEnv(t, cfg, 0)
		var logs syncBuffer
		srv := NewServer(e.b, Options{}, zerolog.New(&logs))
		pub, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		adm, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			done <- srv.Serve(pub, addrListener{adm, &net.TCPAddr{IP: net.IPv4zero, Port: 8081}})
		}()
		// "serving" is logged after the warning: wait for the listeners to
		// answer, then stop.
		client := &fasthttp.Client{}
		var st int
		for i := 0; i < 1000 && st != 200; i++ {
			st, _, _ = client.GetTimeout(nil, "http://"+adm.Addr().String()+"/healthz", 5*time.Second)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		<-done
		out := logs.String()
		if !strings.Contains(out, `"level":"warn"`) || !strings.Contains(out, c.want) {
			t.Errorf("start log for %+v lacks the warning %q:\n%s", c.cfg, c.want, out)
		}
	}
	// Loopback: no warning.
	e := newEnv(t, loadYAMLConfig(t, testdata+"config.yaml"), 0)
	var logs syncBuffer
	srv := NewServer(e.b, Options{}, zerolog.New(&logs))
	pub, _ := net.Listen("tcp", "127.0.0.1:0")
	adm, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pub, adm) }()
	client := &fasthttp.Client{}
	var st int
	for i := 0; i < 1000 && st != 200; i++ {
		st, _, _ = client.GetTimeout(nil, "http://"+adm.Addr().String()+"/healthz", 5*time.Second)
	}
	_ = srv.Shutdown(context.Background())
	<-done
	if strings.Contains(logs.String(), "beyond loopback") {
		t.Errorf("warning for a loopback admin listener:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestAdminTokenReloads: the admin token and switch follow config reloads.
func TestAdminTokenReloads(t *testing.T) {
	cfg := loadYAMLConfig(t, testdata+"config.yaml")
	e := newEnv(t, cfg, 0)
	srv := NewServer(e.b, Options{Reload: func() error { return nil }}, zerolog.Nop())
	call := func(auth string) int {
		var req fasthttp.Request
		req.Header.SetMethod("POST")
		req.SetRequestURI("/admin/reload")
		req.Header.Set("Authorization", auth)
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP("198.51.100.4"), Port: 1}, nil)
		srv.admin.Handler(&ctx)
		return ctx.Response.StatusCode()
	}
	const token = "fedcba9876543210-admin"
	if st := call("Bearer " + token); st != 403 {
		t.Fatalf("before the token is configured: %d", st)
	}
	cfg.Server.AdminToken = token
	if err := e.b.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if st := call("Bearer " + token); st != 200 {
		t.Errorf("after reloading a token: %d", st)
	}
}

// A Shutdown that comes before Serve has started its listeners (SIGTERM
// during start-up, or a test that stops at once) still makes Serve return:
// fasthttp's own Shutdown does nothing to a listener it does not serve yet.
func TestShutdownBeforeServeReturns(t *testing.T) {
	e := newEnv(t, loadYAMLConfig(t, testdata+"config.yaml"), 0)
	srv := NewServer(e.b, Options{}, zerolog.Nop())
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown before Serve: %v", err)
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(pub, adm); err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	// Its listeners are closed, not left bound.
	if _, err := net.Dial("tcp", pub.Addr().String()); err == nil {
		t.Fatal("the public listener still accepts after Serve returned")
	}
}
