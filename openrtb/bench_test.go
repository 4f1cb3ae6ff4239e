package openrtb

// Measured here (AMD EPYC, 2 cores shared with other jobs, go1.26.8),
// `go test -run '^$' -bench . -benchtime=1s ./openrtb/`, 2026-11-23:
//
//	BenchmarkDecode/fastjson/site-banner (2277 B)             ~4.9 µs/op     0 B/op    0 allocs/op
//	BenchmarkDecode/encoding-json-prebid/site-banner          ~30.5 µs/op 6550 B/op  137 allocs/op
//	BenchmarkDecode/fastjson/app-native (2268 B)              ~5.6 µs/op     0 B/op    0 allocs/op
//	BenchmarkDecode/encoding-json-prebid/app-native           ~22.4 µs/op 4872 B/op   73 allocs/op
//	BenchmarkDecode/fastjson/pmp-deal (2077 B)                ~4.9 µs/op     0 B/op    0 allocs/op
//	BenchmarkDecode/encoding-json-prebid/pmp-deal             ~28.0 µs/op 6992 B/op  116 allocs/op
//	BenchmarkAppendResponse (one banner bid, ~1.2 KB)         ~1.0 µs/op  0 allocs/op
//	BenchmarkTemplate (default banner)                        ~62 ns/op   0 allocs/op
//
// A second run while the other jobs on the box were busy measured about
// twice those times for every line (fastjson 8.1–9.3 µs, encoding/json
// 36–57 µs): compare lines of one run, not runs.
//
// Those "fastjson" lines were the earlier decoder (a full fastjson tree,
// then reading fields from it). The "scan" lines are the single-pass
// selective scanner that replaced it; see the README's Performance section
// for the before/after measured on 2026-12-07 (CPU time per op, because
// the shared machine was loaded and wall-clock ns/op swung 2× run to run).
//
// The scanner's fast paths (nextKey, plainStr/plainInt/plainFloat, the
// 8-operation specialMask, skipContainer's labelled states), 2026-12-08,
// CPU time per decode before → after, median of 8 alternating runs of the
// two test binaries, each run
// `perf stat -e task-clock ./openrtb.test -test.run '^$' -test.bench 'BenchmarkDecode$/scan/<name>$' -test.benchtime 300000x`
// (task-clock ÷ 300000; wall-clock ns/op on the shared box swung ±8%
// between identical binaries):
//
//	site-banner          2946 → 2110 ns  (-28%)
//	app-native           3016 → 2235 ns  (-26%)
//	pmp-deal             3237 → 2230 ns  (-31%)
//	wrk-mortgage-banner  1416 →  963 ns  (-32%; bench/testdata/wrk, 859 B)

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
)

var benchFixtures = []string{"site-banner", "app-native", "pmp-deal", "wrk-mortgage-banner"}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	file := "testdata/requests/" + name + ".json"
	if name == "wrk-mortgage-banner" {
		// The body bench/wrk-ratio.sh sends: the server's decode cost.
		file = "../bench/testdata/wrk/mortgage-banner.json"
	}
	b, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var sinkReq *Request

func BenchmarkDecode(b *testing.B) {
	for _, name := range benchFixtures {
		body := readFixture(b, name)
		b.Run("scan/"+name, func(b *testing.B) {
			d := AcquireDecoder()
			defer ReleaseDecoder(d)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := d.Decode(body)
				if err != nil {
					b.Fatal(err)
				}
				sinkReq = r
			}
		})
		b.Run("encoding-json-prebid/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var r openrtb2.BidRequest
				if err := json.Unmarshal(body, &r); err != nil {
					b.Fatal(err)
				}
				if r.ID == "" || len(r.Imp) == 0 {
					b.Fatal("decoded nothing")
				}
			}
		})
	}
}

// BenchmarkDecodeParallel is the pooled path the server uses: Acquire,
// Decode, Release per request.
func BenchmarkDecodeParallel(b *testing.B) {
	body := readFixture(b, "site-banner")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d := AcquireDecoder()
			if _, err := d.Decode(body); err != nil {
				b.Error(err)
			}
			ReleaseDecoder(d)
		}
	})
}

// benchAdM is the default call banner (creative.DefaultBannerTemplate,
// 300×250) rendered with a number: the markup a typical bid carries.
const benchAdM = `<div style="width:300px;height:250px;box-sizing:border-box;display:flex;flex-direction:column;align-items:center;justify-content:center;font:15px Arial,sans-serif;border:1px solid #ccc;text-align:center;overflow:hidden">Refinance today: talk to a licensed loan officer<a href="tel:+18005550123;ext=42" target="_top" style="margin:6px;font-size:20px;font-weight:bold;color:#0a58ca;text-decoration:none">&#128222; (800) 555-0123 ext. 42</a><small>Tap to call</small></div>`

func benchBids() []Bid {
	adm := []byte(benchAdM)
	return []Bid{{
		ID: "5f1d3c2a-1", ImpID: "1", Price: 4.2137, AdM: adm, ADomain: "acme-mortgage.com",
		CID: "mortgage", CrID: "mortgage-300x250", MType: 1, W: 300, H: 250,
		NURL: "https://bid.callbid.example/n/win?t=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8&p=${AUCTION_PRICE}",
		BURL: "https://bid.callbid.example/n/bill?t=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8&p=${AUCTION_PRICE}",
		LURL: "https://bid.callbid.example/n/loss?t=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8&r=${AUCTION_LOSS}",
		Exp:  300, URLsPlain: true, // as the bidder writes them
	}}
}

var sinkBuf []byte

func BenchmarkAppendResponse(b *testing.B) {
	bids := benchBids()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendResponse(buf[:0], "5f1d3c2a-8b7e-4c11-9a0e-2d6f4b8c9e01", "5f1d3c2a", "USD", "callbid", bids)
	}
	b.SetBytes(int64(len(buf)))
	sinkBuf = buf
}

func BenchmarkAppendNoBidResponse(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendNoBidResponse(buf[:0], "5f1d3c2a-8b7e-4c11-9a0e-2d6f4b8c9e01", NBRNoHeadroom)
	}
	sinkBuf = buf
}
