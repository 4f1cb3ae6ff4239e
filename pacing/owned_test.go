package pacing

import (
	"testing"
	"time"

	"github.com/callbid/callbid/jsonw"
)

// TestOtherBidOwnsTheExchange: OtherBid's strings come from a hold record
// of the lease log, views of the consumer's buffer that the next record
// overwrites (numbers.Pools.OnOtherHold). The exchange it keeps as a map
// key must be a copy, or the key changes under the map: the first
// exchange's evidence then reads as the second's and a lookup of the
// first finds nothing.
func TestOtherBidOwnsTheExchange(t *testing.T) {
	p, err := New(Config{}, []string{"sales"}, &fixedHeadroom{perMin: 10}, newFixedRates(t, 0.05))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	p.Tick(now)
	buf := []byte("x1") // the consumer's buffer
	for _, name := range []string{"x1", "x2", "x1"} {
		copy(buf, name)
		p.OtherBid("c1", "sales", "p1", jsonw.UnsafeString(buf), now, now)
	}
	copy(buf, "zz")
	var got []string
	for _, e := range p.View().Exchanges {
		got = append(got, e.Exchange)
	}
	if len(got) != 2 || got[0] != "x1" || got[1] != "x2" {
		t.Fatalf("exchanges %q after bids on x1, x2, x1; want [x1 x2]", got)
	}
}
