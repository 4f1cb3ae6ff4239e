//go:build !race

package jsonw

import "testing"

func TestAppendStringAllocatesNothing(t *testing.T) {
	buf := make([]byte, 0, 256)
	raw := []byte("bytes \"too\"\u2028")
	n := testing.AllocsPerRun(1000, func() {
		buf = AppendString(buf[:0], "Refinance \"today\"\t\u2028\xff https://bid.example.com/win?p=${AUCTION_PRICE}")
		buf = AppendBytes(buf, raw)
		_ = UnsafeString(raw)
	})
	if n != 0 {
		t.Errorf("%v allocs per run, want 0", n)
	}
}
