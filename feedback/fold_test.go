package feedback

import (
	"reflect"

	"github.com/callbid/callbid/reports"
	"testing"
	"time"
)

// TestBidRunsFoldAsBids: bids folded as runs of alike records give the
// report rows that counting them one at a time with reports.Bid gives
// (runs broken by a new publisher, exchange, and second).
func TestBidRunsFoldAsBids(t *testing.T) {
	runs, _, now := newTest(t, Config{})
	each, _, _ := newTest(t, Config{})
	type bid struct {
		pub, exch    string
		price, value int64
		dt           time.Duration
	}
	bids := []bid{
		{"p1", "x1", 2_500_000, 3_000_000, 0}, {"p1", "x1", 2_000_000, 1_000_000, time.Millisecond},
		{"p1", "x1", 0, 0, 2 * time.Millisecond}, {"p2", "x1", 1_000_000, 0, 3 * time.Millisecond},
		{"p2", "x2", 1_000_000, 0, 4 * time.Millisecond}, {"p2", "x2", 1_000_000, 0, 1500 * time.Millisecond},
		{"p1", "x1", 2_500_000, 0, 1600 * time.Millisecond}, {"p1", "x1", 2_500_000, 0, -2 * time.Hour},
	}
	var last int64
	for k := range 3 {
		for _, b := range bids {
			at := now.Add(b.dt + time.Duration(k)*time.Millisecond)
			runs.RecordBid("c1", "mortgage", b.pub, b.exch, b.price, b.value, at)
			each.Reports().Bid(reports.Key{Hour: at.Unix() / 3600, Campaign: "c1", Publisher: b.pub, Exchange: b.exch},
				"mortgage", b.price, b.value, at.UnixNano())
			last = at.UnixNano()
		}
	}
	runs.drain()
	for _, g := range []string{"publisher", "exchange", "hour", "campaign"} {
		a, err := buildReport(runs, time.Time{}, time.Time{}, g)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := buildReport(each, time.Time{}, time.Time{}, g)
		a.BidsSince, b.BidsSince = time.Time{}, time.Time{}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("group_by=%s: folded as runs %+v\none at a time %+v", g, a, b)
		}
		if a.Total.Bids != int64(3*len(bids)) {
			t.Fatalf("group_by=%s: %d bids, want %d", g, a.Total.Bids, 3*len(bids))
		}
	}
	if n := runs.bidsSinceImp.Load(); n != int64(3*len(bids)) || runs.lastBidAt.Load() != last {
		t.Fatalf("freshness: %d bids, the last at %d; want %d, %d", n, runs.lastBidAt.Load(), 3*len(bids), last)
	}
}
