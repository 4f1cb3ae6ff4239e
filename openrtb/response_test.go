package openrtb

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/callbid/callbid/jsonw"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
)

func TestAppendResponseDecodesWithPrebid(t *testing.T) {
	adm := []byte("<div class=\"ad\">Call <a href='tel:+18005550123;ext=42'>(800) 555-0123 ext. 42</a>\n\t\\ \x01 é \u2028 end</div>")
	bids := []Bid{{
		ID: "b-1", ImpID: "imp\"1", Price: 2.5 * 1.1, AdM: adm, ADomain: "acme-mortgage.com",
		CID: "mortgage", CrID: "mortgage-300x250", DealID: "LEGAL-PI-Q4-001", MType: 1, W: 300, H: 250,
		NURL: "https://bid.callbid.example/n/win?t=abc&p=${AUCTION_PRICE}",
		BURL: "https://bid.callbid.example/n/bill?t=abc&p=${AUCTION_PRICE}",
		LURL: "https://bid.callbid.example/n/loss?t=abc&r=${AUCTION_LOSS}", Exp: 300,
	}, {
		ID: "b-2", ImpID: "2", Price: 0.75, AdM: []byte(`{"ver":"1.2","assets":[]}`), ADomain: "autoquote.example",
		CID: "auto", CrID: "auto-native", MType: 4, Exp: 600,
	}}
	out := AppendResponse(nil, "req-1", "resp-1", "USD", "callbid", bids)
	var resp openrtb2.BidResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("prebid openrtb2.BidResponse cannot decode %s: %v", out, err)
	}
	checkEq(t, "id", resp.ID, "req-1")
	checkEq(t, "bidid", resp.BidID, "resp-1")
	checkEq(t, "cur", resp.Cur, "USD")
	if len(resp.SeatBid) != 1 || len(resp.SeatBid[0].Bid) != 2 {
		t.Fatalf("seatbid shape: %s", out)
	}
	checkEq(t, "seat", resp.SeatBid[0].Seat, "callbid")
	b := resp.SeatBid[0].Bid[0]
	checkEq(t, "bid.id", b.ID, "b-1")
	checkEq(t, "bid.impid", b.ImpID, "imp\"1")
	checkEq(t, "bid.price", b.Price, 2.75)
	checkEq(t, "bid.adm", b.AdM, strings.Replace(string(adm), "\x01", "\x01", 1))
	checkEq(t, "bid.adomain", b.ADomain, []string{"acme-mortgage.com"})
	checkEq(t, "bid.cid", b.CID, "mortgage")
	checkEq(t, "bid.crid", b.CrID, "mortgage-300x250")
	checkEq(t, "bid.dealid", b.DealID, "LEGAL-PI-Q4-001")
	checkEq(t, "bid.mtype", b.MType, openrtb2.MarkupBanner)
	checkEq(t, "bid.w", b.W, int64(300))
	checkEq(t, "bid.h", b.H, int64(250))
	checkEq(t, "bid.nurl", b.NURL, bids[0].NURL)
	checkEq(t, "bid.burl", b.BURL, bids[0].BURL)
	checkEq(t, "bid.lurl", b.LURL, bids[0].LURL)
	checkEq(t, "bid.exp", b.Exp, int64(300))

	b = resp.SeatBid[0].Bid[1]
	checkEq(t, "bid2.mtype", b.MType, openrtb2.MarkupNative)
	checkEq(t, "bid2.adm", b.AdM, `{"ver":"1.2","assets":[]}`)
	checkEq(t, "bid2.price", b.Price, 0.75)
	checkEq(t, "bid2.w/h/dealid", [3]any{b.W, b.H, b.DealID}, [3]any{0, 0, ""})
	// Optional fields left out, not written empty.
	if strings.Contains(string(out[strings.Index(string(out), `"b-2"`):]), "dealid") {
		t.Errorf("empty dealid written: %s", out)
	}
}

func TestAppendResponseEscaping(t *testing.T) {
	// Invalid UTF-8 becomes U+FFFD; the result is still valid JSON.
	out := AppendResponse(nil, "r\xff", "", "", "", []Bid{{ID: "1", ImpID: "1", Price: 1, AdM: []byte("a\xc3")}})
	var resp openrtb2.BidResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	checkEq(t, "id", resp.ID, "r\uFFFD")
	checkEq(t, "adm", resp.SeatBid[0].Bid[0].AdM, "a\uFFFD")
	if strings.Contains(string(out), `"bidid"`) || strings.Contains(string(out), `"cur"`) || strings.Contains(string(out), `"seat"`) {
		t.Errorf("empty bidid/cur/seat written: %s", out)
	}
	// The escaping itself is jsonw's, tested there; here, that the
	// response uses it (U+2028 escaped in the id).
	out = AppendNoBidResponse(nil, "a\u2028b", NBRNoHeadroom)
	checkEq(t, "escapes", string(out), `{"id":"a\u2028b","nbr":500}`)
}

func TestAppendPrice(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{2.5 * 1.1, "2.75"}, {1, "1"}, {0.0000004, "0"}, {0.0000005, "0.000001"}, {12.3456789, "12.345679"},
		{-1, "0"}, {math.NaN(), "0"}, {math.Inf(1), "0"}, {1e6, "1000000"},
	}
	for _, c := range cases {
		if got := string(AppendPrice(nil, c.in)); got != c.want {
			t.Errorf("AppendPrice(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestAppendPriceMatchesStrconv: the integer path writes what
// strconv.AppendFloat's shortest form of the rounded price wrote before it.
func TestAppendPriceMatchesStrconv(t *testing.T) {
	want := func(p float64) string {
		return string(strconv.AppendFloat(nil, math.Round(p*1e6)/1e6, 'f', -1, 64))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(p float64) {
		t.Helper()
		if got, w := string(AppendPrice(nil, p)), want(p); got != w {
			t.Fatalf("AppendPrice(%v) = %s, strconv writes %s", p, got, w)
		}
	}
	for _, p := range []float64{1e-6, 0.1, 0.3, 1.005, 999999999.999999, 1e9 - 1e-6, 1e9, 1e9 + 0.5, 123456789.123456, 4.25} {
		check(p)
	}
	for range 200_000 {
		switch rng.IntN(3) {
		case 0: // micro-unit prices, as the bidder computes them
			check(float64(rng.Int64N(1e12)) / 1e6)
		case 1:
			check(rng.Float64() * 100)
		default:
			check(math.Exp(rng.Float64()*40 - 15))
		}
	}
}

func TestAppendNoBidResponse(t *testing.T) {
	out := AppendNoBidResponse(nil, "req-\"9", NBRPoolExhausted)
	var resp openrtb2.BidResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	checkEq(t, "id", resp.ID, "req-\"9")
	if resp.NBR == nil || int(*resp.NBR) != 502 {
		t.Errorf("nbr = %v, want 502 (%s)", resp.NBR, out)
	}
}

func TestNoBidLabel(t *testing.T) {
	want := map[NoBidReason]string{
		openrtb3.NoBidUnknownError: "unknown", openrtb3.NoBidTechnicalError: "technical_error",
		openrtb3.NoBidInvalidRequest: "invalid_request", openrtb3.NoBidInsufficientTime: "insufficient_time",
		NBRNoHeadroom: "no_headroom", NBRCapacityStale: "capacity_stale", NBRPoolExhausted: "pool_exhausted",
		NBRBelowFloor: "below_floor", NBRBlockedTraffic: "blocked_traffic",
		openrtb3.NoBidBlockedPublisher: "blocked_publisher", 499: "other",
	}
	for r, w := range want {
		checkEq(t, "NoBidLabel("+w+")", NoBidLabel(r), w)
	}
	seen := map[string]NoBidReason{}
	for r := NoBidReason(0); r < 600; r++ {
		s := NoBidLabel(r)
		if s == "other" {
			continue
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("%d and %d share the label %q", prev, r, s)
		}
		seen[s] = r
	}
}

// TestURLsPlainWritesTheSameBytes: copying plain notice URLs unscanned
// writes what escaping them would.
func TestURLsPlainWritesTheSameBytes(t *testing.T) {
	b := Bid{ID: "b1", ImpID: "1", Price: 4.25, AdM: []byte("<a>"), CID: "c", CrID: "cr",
		NURL: "https://bid.example.com/notice/win?t=AAE_-x.tag&p=${AUCTION_PRICE}",
		BURL: "https://bid.example.com/notice/bill?t=AAE_-x.tag&p=${AUCTION_PRICE}",
		LURL: "https://bid.example.com/notice/loss?t=AAE_-x.tag&l=${AUCTION_LOSS}"}
	escaped := AppendResponse(nil, "r", "b1", "USD", "seat", []Bid{b})
	b.URLsPlain = true
	plain := AppendResponse(nil, "r", "b1", "USD", "seat", []Bid{b})
	checkEq(t, "response", string(plain), string(escaped))
}

// TestFieldsWritesTheSameBytes: a bid's pre-encoded Fields stand for the
// fields they were encoded from.
func TestFieldsWritesTheSameBytes(t *testing.T) {
	for _, b := range []Bid{
		{ID: "b1", ImpID: "1", Price: 4.25, AdM: []byte("<a>"), ADomain: "acme.com", Bundle: "com.acme\"app",
			AdID: "cr", Cat: []string{"IAB13-7", "IAB13"}, CatTax: 1, CID: "c\u00e9", CrID: "cr", DealID: "d", MType: 1, W: 300, H: 250},
		{ID: "b2", ImpID: "2", Price: 1, AdM: []byte("x"), CID: "c", CrID: "cr"},
	} {
		want := AppendResponse(nil, "r", b.ID, "USD", "seat", []Bid{b})
		b.Fields = string(AppendBidFields(nil, b.ADomain, b.Bundle, b.AdID, b.Cat, b.CatTax, b.CID, b.CrID))
		b.ADomain, b.Bundle, b.AdID, b.Cat, b.CatTax, b.CID, b.CrID = "", "", "", nil, 0, "", ""
		got := AppendResponse(nil, "r", b.ID, "USD", "seat", []Bid{b})
		checkEq(t, "response", string(got), string(want))
	}
}

// TestResponseHeadWritesTheSameBytes: a head encoded once writes what
// AppendResponse writes for its currency and seat.
func TestResponseHeadWritesTheSameBytes(t *testing.T) {
	bids := []Bid{{ID: "b1", ImpID: "1", Price: 4.25, AdM: []byte("<a>"), CID: "c", CrID: "cr"}}
	for _, cs := range [][2]string{{"USD", "callbid"}, {"", ""}, {"EUR", "se\"at"}, {"", "s"}} {
		want := AppendResponse(nil, "r\x01", "b1", cs[0], cs[1], bids)
		got := AppendResponseHead(nil, "r\x01", "b1", EncodeResponseHead(cs[0], cs[1]), bids)
		checkEq(t, "response", string(got), string(want))
	}
}

// BenchmarkAppendResponseEncoded compares the response of BenchmarkAppendResponse
// written from strings with the bidder's way: cur and seat in a head and
// the creative's fields encoded once.
func BenchmarkAppendResponseEncoded(b *testing.B) {
	bids := benchBids()
	buf := make([]byte, 0, 4096)
	b.Run("strings", func(b *testing.B) {
		for b.Loop() {
			buf = AppendResponse(buf[:0], "5f1d3c2a-8b7e-4c11-9a0e-2d6f4b8c9e01", "5f1d3c2a", "USD", "callbid", bids)
		}
	})
	head := EncodeResponseHead("USD", "callbid")
	for i := range bids {
		x := &bids[i]
		x.Fields = string(AppendBidFields(nil, x.ADomain, x.Bundle, x.AdID, x.Cat, x.CatTax, x.CID, x.CrID))
	}
	b.Run("encoded", func(b *testing.B) {
		for b.Loop() {
			buf = AppendResponseHead(buf[:0], "5f1d3c2a-8b7e-4c11-9a0e-2d6f4b8c9e01", "5f1d3c2a", head, bids)
		}
	})
	// As the bidder writes it: the markup escaped when it was rendered.
	for i := range bids {
		bids[i].AdM = jsonw.AppendStringBody(nil, string(bids[i].AdM))
		bids[i].AdMEscaped = true
	}
	b.Run("escaped", func(b *testing.B) {
		for b.Loop() {
			buf = AppendResponseHead(buf[:0], "5f1d3c2a-8b7e-4c11-9a0e-2d6f4b8c9e01", "5f1d3c2a", head, bids)
		}
	})
	sinkBuf = buf
}
