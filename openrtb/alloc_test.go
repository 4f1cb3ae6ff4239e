//go:build !race

package openrtb

import "testing"

// The hot path must not allocate in steady state: one Decode per request,
// one response encode per bid answer.

func TestDecodeAllocs(t *testing.T) {
	d := AcquireDecoder()
	defer ReleaseDecoder(d)
	all := fixtures(t)
	// Warm up on every fixture first: the Decoder's buffers grow to the
	// largest request once, after which no request needs more.
	for _, body := range all {
		if _, err := d.Decode(body); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range all {
		n := testing.AllocsPerRun(50, func() {
			if _, err := d.Decode(body); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("Decode(%s): %v allocs per run, want 0", name, n)
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	bids := benchBids()
	buf := make([]byte, 0, 4096)
	for name, f := range map[string]func(){
		"AppendResponse": func() {
			buf = AppendResponse(buf[:0], "req-1", "bid-1", "USD", "callbid", bids)
		},
		"AppendNoBidResponse": func() { buf = AppendNoBidResponse(buf[:0], "req-1", NBRNoHeadroom) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
}
