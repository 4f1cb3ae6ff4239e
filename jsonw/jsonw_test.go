package jsonw

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// refEscape is the byte-at-a-time escaping AppendStringBody must match.
func refEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				b = append(b, c)
			} else {
				b = appendEscapedASCII(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xF])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"":                     `""`,
		"plain id 123":         `"plain id 123"`,
		"a\"b\\c":              `"a\"b\\c"`,
		"\n\r\t\x00\x1f":       `"\n\r\t\u0000\u001f"`,
		"line\u2028para\u2029": `"line\u2028para\u2029"`,
		"é日本":                  `"é日本"`,
		"bad\xffutf8":          `"bad\ufffdutf8"`,
		"</script>":            `"</script>"`,
	} {
		if got := string(AppendString(nil, in)); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", in, got, want)
		}
		if got := string(AppendBytes([]byte("x"), []byte(in))); got != "x"+want {
			t.Errorf("AppendBytes(%q) = %s, want x%s", in, got, want)
		}
	}
}

// TestEscapeFastPath: skipping eight plain bytes at a time never skips a
// byte that needs escaping, wherever it sits.
func TestEscapeFastPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	special := []byte{0, 0x1f, 0x20, '"', '\\', 0x7f, 0x80, 0xe2, 0x80, 0xa8, 0xff, 'a', '/', '<'}
	for n := 0; n < 20000; n++ {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = special[rng.IntN(len(special))]
			} else {
				b[i] = byte(0x20 + rng.IntN(0x5f))
			}
		}
		if got, want := string(AppendStringBody(nil, string(b))), refEscape(string(b)); got != want {
			t.Fatalf("escape(%q) = %q, want %q", b, got, want)
		}
	}
}

func TestUnsafeString(t *testing.T) {
	if UnsafeString(nil) != "" || UnsafeString([]byte{}) != "" {
		t.Error("empty input must give the empty string")
	}
	if s := UnsafeString([]byte("abc")); s != "abc" {
		t.Errorf("UnsafeString = %q", s)
	}
}

// FuzzAppendString: the output matches the reference, is valid JSON, and
// decodes back to the input (with invalid UTF-8 replaced).
func FuzzAppendString(f *testing.F) {
	f.Add("https://bid.example.com/notice/win?t=AQAAAA&p=${AUCTION_PRICE}")
	f.Add("a\"b\\c\x01\u2028é\xff")
	f.Add(strings.Repeat("abcdefg\"", 5))
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		if got, want := string(out[1:len(out)-1]), refEscape(s); got != want {
			t.Fatalf("escape(%q) = %q, want %q", s, got, want)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s is not valid JSON: %v", s, out, err)
		}
		if want := replaceEach(s); back != want {
			t.Fatalf("round trip of %q gave %q, want %q", s, back, want)
		}
	})
}

// replaceEach replaces every byte of invalid UTF-8 with U+FFFD.
func replaceEach(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

var sink []byte

// BenchmarkAppendString: a notice URL (the common case: nothing to escape)
// and a title with quotes, a control byte and U+2028.
func BenchmarkAppendString(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"plain", "https://bid.example.com/notice/win?t=AQAAAAAAAAAAAAAAAAAAAAAAAAAAAA&p=${AUCTION_PRICE}"},
		{"escaped", "Refinance \"today\"\t— rates from 5.9%\u2028call now\x01"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.s)))
			buf := make([]byte, 0, 256)
			for b.Loop() {
				buf = AppendString(buf[:0], c.s)
			}
			sink = buf
		})
	}
}
