package privacy

import "errors"

var (
	// ErrMalformed: the string is not valid base64url or is too short
	// for the fields its header announces.
	ErrMalformed = errors.New("privacy: malformed consent string")
	// ErrUnsupported: a version or section this package does not decode.
	ErrUnsupported = errors.New("privacy: unsupported consent string version or section")
)

// b64 maps a base64 character (URL or standard alphabet) to its 6 bits;
// 0xff marks any other byte.
var b64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(url); i++ {
		t[url[i]] = byte(i)
	}
	t['+'], t['/'] = 62, 63
	return t
}()

// bits reads big-endian bit fields out of base64 text without decoding
// it into a buffer. Trailing '=' padding is ignored.
type bits struct {
	s string
	n int // bits available
}

func newBits(s string) (bits, error) {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	for i := 0; i < len(s); i++ {
		if b64[s[i]] == 0xff {
			return bits{}, ErrMalformed
		}
	}
	return bits{s: s, n: 6 * len(s)}, nil
}

// bit returns bit i (0 is the first); ok is false past the end.
func (b *bits) bit(i int) (bool, bool) {
	if i < 0 || i >= b.n {
		return false, false
	}
	return b64[b.s[i/6]]>>(5-i%6)&1 == 1, true
}

// uint reads n ≤ 64 bits at off as an unsigned integer.
func (b *bits) uint(off, n int) (uint64, bool) {
	if off < 0 || n < 0 || n > 64 || off+n > b.n {
		return 0, false
	}
	var v uint64
	for i := off; i < off+n; i++ {
		v = v<<1 | uint64(b64[b.s[i/6]]>>(5-i%6)&1)
	}
	return v, true
}

// fibonacci reads a Fibonacci-coded integer at off (bit k adds F(k+2),
// "11" ends it) and returns it and the offset after it. Values are
// capped at 16 bits' worth of terms: section ids and their offsets are
// small, and a longer run is an error, not a loop.
func (b *bits) fibonacci(off int) (v, next int, ok bool) {
	prev := false
	f1, f2 := 1, 2 // F(2), F(3)
	for k := 0; k < 24; k++ {
		set, ok := b.bit(off + k)
		if !ok {
			return 0, 0, false
		}
		if set && prev {
			return v, off + k + 1, true
		}
		if set {
			v += f1
		}
		prev = set
		f1, f2 = f2, f1+f2
	}
	return 0, 0, false
}
