package bidder

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// TestAppendB64URLAgreesWithStdlib: every length up to 300 and random
// bytes encode as base64.RawURLEncoding does, appended after a prefix.
func TestAppendB64URLAgreesWithStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for n := 0; n <= 300; n++ {
		for range 20 {
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(r.Uint32())
			}
			got := appendB64URL([]byte("x."), src)
			want := base64.RawURLEncoding.AppendEncode([]byte("x."), src)
			if !bytes.Equal(got, want) {
				t.Fatalf("appendB64URL(% x) = %q, want %q", src, got, want)
			}
		}
	}
}
