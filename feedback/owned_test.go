package feedback

import (
	"testing"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/jsonw"
)

// TestRecordsOwnTheirStrings: the bid path hands RecordBid the publisher
// and exchange as views of the request (the decoder's buffer, reused by
// the next request), and the in-process tee hands over an impression in
// the notice's stack buffer. The records are folded later, on the
// aggregator's goroutine, and the report rows keep their keys: each must
// be a copy. Every call here reuses one buffer, overwritten between calls
// and after the last.
func TestRecordsOwnTheirStrings(t *testing.T) {
	f, _, now := newTest(t, Config{})
	pub, exch := []byte("pub-0"), []byte("x-0")
	var val []byte
	tee := f.Tee(nil)
	// Bids on pub-1..3 (x-1..3), wins on pub-4..6 (x-4..6): each path
	// makes its own rows.
	for _, n := range []string{"1", "2", "3"} {
		copy(pub[4:], n)
		copy(exch[2:], n)
		f.RecordBid("c1", "mortgage", jsonw.UnsafeString(pub), jsonw.UnsafeString(exch), 2_000_000, 0, *now)
		w := string(rune(n[0] + 3))
		im := events.Impression{BidID: "bid-" + w, Kind: "win", CampaignID: "c1", PublisherID: "pub-" + w,
			Exchange: "x-" + w, Skill: "mortgage", PriceMicros: 1_000_000, Currency: "USD", At: *now}
		val = events.AppendImpression(val[:0], &im)
		tee.Publish(events.TopicImpressions, []byte(im.BidID), val)
	}
	copy(pub, "ZZZZZ")
	copy(exch, "ZZZ")
	for i := range val {
		val[i] = ' '
	}
	f.drain()
	for _, by := range []string{"publisher", "exchange"} {
		rep, err := buildReport(f, *now, now.Add(1), by)
		if err != nil {
			t.Fatal(err)
		}
		prefix := map[string]string{"publisher": "pub-", "exchange": "x-"}[by]
		if len(rep.Rows) != 6 {
			t.Fatalf("by %s: %d rows, want 6: %+v", by, len(rep.Rows), rep.Rows)
		}
		for i, r := range rep.Rows {
			bids, wins := int64(1), int64(0)
			if i >= 3 {
				bids, wins = 0, 1
			}
			if want := prefix + string(rune('1'+i)); r.Key != want || r.Bids != bids || r.Wins != wins {
				t.Errorf("by %s: row %d is %s with %d bids and %d wins, want %s with %d and %d", by, i, r.Key, r.Bids, r.Wins, want, bids, wins)
			}
		}
	}
}
