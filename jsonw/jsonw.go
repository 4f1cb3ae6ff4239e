// Package jsonw writes JSON strings: the one escaper every package that
// hand-writes JSON uses (bid responses, markup, the /v1/calls answer, lease
// and attribution records), and the unsafe byte-to-string view those writers
// and the decoders share. It owns no state; any goroutine may call it.
//
// The escaping: quotes, backslashes and control characters escaped (\n, \r,
// \t by name, the rest as \u00XX), U+2028 and U+2029 escaped so the JSON is
// also safe inside a script, invalid UTF-8 replaced by U+FFFD. Nothing
// allocates beyond growing dst.
package jsonw

import (
	"unicode/utf8"
	"unsafe"
)

// AppendString appends s as a JSON string literal, quotes included.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendStringBody(dst, s)
	return append(dst, '"')
}

// AppendBytes is AppendString for a []byte, without copying it.
func AppendBytes(dst []byte, b []byte) []byte {
	return AppendString(dst, UnsafeString(b))
}

// AppendStringBody appends s escaped as the inside of a JSON string, for
// callers that write the quotes themselves.
func AppendStringBody(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Most of what callbid writes (ids, notice URLs) needs no escaping:
		// skip it eight bytes at a time.
		if i+8 <= len(s) && plain8(load8(s, i)) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedASCII(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// UnsafeString views b as a string without copying. b must not change while
// the string is in use: callers hand it only bytes that stay as they are
// (a pooled buffer until its release, an arena that is only appended to).
func UnsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

const hexDigits = "0123456789abcdef"

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// load8 reads s[i:i+8] little-endian (the compiler merges it into one load).
func load8(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// plain8 reports whether none of the eight bytes in x needs escaping in a
// JSON string: no control byte, quote, backslash or non-ASCII byte. The
// "has a byte less than n" and "has a zero byte" tests never miss a byte;
// they may flag a harmless one after a real hit, which the byte loop sorts out.
func plain8(x uint64) bool {
	ctl := (x - 0x20*lo8) &^ x
	q := x ^ ('"' * lo8)
	bs := x ^ ('\\' * lo8)
	return (ctl|((q-lo8)&^q)|((bs-lo8)&^bs)|x)&hi8 == 0
}

func appendEscapedASCII(dst []byte, c byte) []byte {
	switch c {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}
