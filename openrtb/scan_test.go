package openrtb

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func scanPlainNaive(b []byte, i int) int {
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return i
}

// TestScanPlain checks the SWAR scan against a byte loop: every byte value
// at every position of a word and of the tail, over backgrounds that sit
// next to the special values (0x20, 0x21, 0x23, 0x5b, 0x5d, 0x80, 0xff),
// and random bodies dense in special bytes.
func TestScanPlain(t *testing.T) {
	for _, bg := range []byte{'a', 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xff} {
		for n := 1; n <= 19; n++ {
			for pos := 0; pos < n; pos++ {
				for c := 0; c < 256; c++ {
					b := make([]byte, n)
					for k := range b {
						b[k] = bg
					}
					b[pos] = byte(c)
					for start := 0; start <= pos; start += 3 {
						if got, want := scanPlain(b, start), scanPlainNaive(b, start); got != want {
							t.Fatalf("scanPlain(%q, %d) = %d, want %d", b, start, got, want)
						}
					}
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'"', '\\', 0, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5c, 0x5b, 0x80, 0xff, 'a'}
	for range 100000 {
		b := make([]byte, rng.IntN(24))
		for k := range b {
			b[k] = alphabet[rng.IntN(len(alphabet))]
		}
		start := 0
		if len(b) > 0 {
			start = rng.IntN(len(b) + 1)
		}
		if got, want := scanPlain(b, start), scanPlainNaive(b, start); got != want {
			t.Fatalf("scanPlain(%q, %d) = %d, want %d", b, start, got, want)
		}
	}
}

// TestPlainNumbers checks the integer and decimal fast paths against
// strconv on random tokens around their limits (digit counts, leading
// zeros, fractions, exponents, signs).
func TestPlainNumbers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	digits := func(n int) string {
		b := make([]byte, n)
		for k := range b {
			b[k] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	for range 200000 {
		tok := digits(1 + rng.IntN(19))
		if rng.IntN(2) == 0 {
			tok += "." + digits(rng.IntN(17))
		}
		switch rng.IntN(8) {
		case 0:
			tok = "-" + tok
		case 1:
			tok += "e" + digits(1)
		}
		for _, tail := range []string{"", ",", "}", " ", "x"} {
			body := []byte(tok + tail)
			want, err := strconv.ParseFloat(tok, 64)
			var s scanner
			s.reset(body)
			if f, ok := s.plainFloat(); ok {
				if err != nil || f != want || s.i != len(tok) {
					t.Fatalf("plainFloat(%q) = %v at %d, strconv %v (%v)", body, f, s.i, want, err)
				}
			}
			s.reset(body)
			if n, ok := s.plainInt(); ok {
				if err != nil || float64(n) != want || s.i != len(tok) || len(strings.TrimLeft(tok, "-")) > 18 {
					t.Fatalf("plainInt(%q) = %v at %d, strconv %v (%v)", body, n, s.i, want, err)
				}
				if w, ok := parseInt([]byte(tok)); !ok || w != n {
					t.Fatalf("plainInt(%q) = %v, parseInt %v %v", body, n, w, ok)
				}
			}
		}
	}
}
