package bidder

import (
	"strconv"
	"testing"
)

func TestExchangeNames(t *testing.T) {
	cfg := baseConfig()
	cfg.Server.NBRExchanges = []string{"only-in-nbr-list"}
	cfg.Exchanges = map[string]ExchangeConfig{"configured": {NetworkAllowance: 70}}
	e := newEnv(t, cfg, 0)
	s := e.b.snap.Load()
	if x := s.exchange([]byte("only-in-nbr-list")); !x.nbr || x.name != "only-in-nbr-list" {
		t.Errorf("nbr_exchanges name: %+v", x)
	}
	if x := s.exchange([]byte("configured")); x.allowance != 70 || x.nbr {
		t.Errorf("configured: %+v", x)
	}
	if x := s.exchange(nil); x.name != "default" {
		t.Errorf("empty name: %+v", x)
	}
	if x := s.exchange([]byte("new-exchange")); x.name != "new-exchange" || x.allowance != s.cfg.Server.NetworkAllowance {
		t.Errorf("unconfigured name not kept: %+v", x)
	}
	if x1, x2 := s.exchange([]byte("new-exchange")), s.exchange([]byte("new-exchange")); x1 != x2 {
		t.Error("unconfigured name interned twice")
	}
	if n := testing.AllocsPerRun(50, func() { s.exchange([]byte("new-exchange")) }); n != 0 {
		t.Errorf("known unconfigured name allocates %.0f", n)
	}
	for _, bad := range []string{"has space", "<script>", string(make([]byte, 40))} {
		if x := s.exchange([]byte(bad)); x.name != "other" {
			t.Errorf("%q kept as %q", bad, x.name)
		}
	}
	for i := 0; i < 100; i++ {
		s.exchange([]byte("ex" + strconv.Itoa(i)))
	}
	if x := s.exchange([]byte("one-too-many")); x.name != "other" {
		t.Errorf("interning is unbounded: %q", x.name)
	}
}
