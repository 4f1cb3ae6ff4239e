package numbers

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// An exhausted pool is logged at warn once per check, with how many bids it
// refused since the last one, and not again while nothing new is refused.
func TestExhaustionIsLoggedAtWarn(t *testing.T) {
	var out bytes.Buffer
	p := &Pools{log: zerolog.New(&out), pools: make([]pool, 2)}
	p.pools[0].id, p.pools[1].id = "p0", "p1"
	p.pools[1].nobids.Add(3)
	p.warnExhaustion()
	if got := out.String(); strings.Count(got, `"level":"warn"`) != 1 || !strings.Contains(got, `"pool":"p1"`) || !strings.Contains(got, `"nobids":3`) {
		t.Fatalf("first check logged %q", got)
	}
	out.Reset()
	p.warnExhaustion()
	if out.Len() != 0 {
		t.Fatalf("nothing new refused, yet logged %q", out.String())
	}
	p.pools[0].nobids.Add(2)
	p.warnExhaustion()
	if got := out.String(); !strings.Contains(got, `"pool":"p0"`) || !strings.Contains(got, `"nobids":2`) || strings.Contains(got, `"pool":"p1"`) {
		t.Fatalf("second check logged %q", got)
	}
}
