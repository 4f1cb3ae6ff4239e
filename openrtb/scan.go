package openrtb

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"

	"github.com/callbid/callbid/jsonr"
)

// scanner is a single-pass JSON reader over a byte slice it may modify:
// strings the decoder reads are unescaped in place (an unescaped string is
// never longer than its escaped form), so they can be handed out as views
// without copying. It builds no values. Parts the decoder does not read are
// skipped with full RFC 8259 validation (structure, string escapes, control
// characters, number grammar, literals), so a body callbid accepts is valid
// JSON throughout. One compatibility extension is kept from the fastjson
// parser this replaced: NaN and Inf (any case, optionally signed) lex as
// numbers; every number field callbid reads rejects them as not finite.
// UTF-8 is not validated (encoding/json does not reject it either).
//
// On a syntax error the scanner records it (bad) and every later call is a
// no-op; callers check ok() in their loops.
type scanner struct {
	b     []byte
	i     int
	depth int
	bad   bool
	msg   string
	off   int
}

// maxDepth bounds nesting, as fastjson's MaxDepth did: skipping is
// recursive, and no bid request nests more than a few levels.
const maxDepth = 300

func (s *scanner) reset(b []byte) { *s = scanner{b: b} }

func (s *scanner) ok() bool { return !s.bad }

func (s *scanner) syntax(msg string) {
	if !s.bad {
		s.bad, s.msg, s.off = true, msg, s.i
	}
	s.i = len(s.b)
}

func (s *scanner) ws() {
	b, i := s.b, s.i
	if i < len(b) && b[i] > ' ' {
		return
	}
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	s.i = i
}

// peek skips whitespace and returns the next byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// typeName names the JSON type a value starting with c has, as fastjson
// did in its error messages; "" when c cannot start a value.
func typeName(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't':
		return "true"
	case 'f':
		return "false"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'N', 'I', 'i':
		return "number"
	}
	return ""
}

// enter consumes c ('{' or '[') at the current position.
func (s *scanner) enter() {
	s.i++
	s.depth++
	if s.depth > maxDepth {
		s.syntax("nesting too deep")
	}
}

// next advances to the next member of an object or element of an array
// closed by end; n counts members seen so far. It returns false at the
// closing bracket (consumed) or on a syntax error.
func (s *scanner) next(n *int, end byte) bool {
	if s.bad {
		return false
	}
	c := s.peek()
	if c == end {
		s.i++
		s.depth--
		return false
	}
	if *n > 0 {
		if c != ',' {
			s.syntax("want ',' or a closing bracket")
			return false
		}
		s.i++
		if end == ']' {
			// "[1,]": the element reader sees ']' and fails; check here so
			// skipped and read arrays fail alike.
			if c := s.peek(); c == ']' {
				s.syntax("trailing comma")
				return false
			}
		}
	}
	*n++
	return true
}

// nextKey is next(n, '}') followed by key(): it returns the next member's
// key, or false at the closing brace (consumed) and on a syntax error. The
// common layout (optional blanks, ',', a key without escapes, ':') is read
// here on local copies; anything else goes back to next and key from the
// same position, so errors and offsets are theirs. Reading a key was about
// half of decoding, and the calls between next, peek, key and str were a
// good part of it.
func (s *scanner) nextKey(n *int) (string, bool) {
	b, i := s.b, s.i
	if s.bad {
		return "", false
	}
	i = skipBlanks(b, i)
	if i >= len(b) {
		goto slow
	}
	if c := b[i]; c == '}' {
		s.i = i + 1
		s.depth--
		return "", false
	} else if *n > 0 {
		if c != ',' {
			goto slow
		}
		i = skipBlanks(b, i+1)
		if i >= len(b) {
			goto slow
		}
	}
	if b[i] == '"' {
		// scanPlain's first word inline: most keys end within it.
		start := i + 1
		j := start + 8
		if j <= len(b) {
			if m := specialMask(binary.LittleEndian.Uint64(b[start:])); m != 0 {
				j = start + bits.TrailingZeros64(m)>>3
			} else {
				j = scanPlain(b, j)
			}
		} else {
			j = scanPlain(b, start)
		}
		if j < len(b) && b[j] == '"' {
			i = skipBlanks(b, j+1)
			if i < len(b) && b[i] == ':' {
				s.i = i + 1
				*n++
				return b2s(b[start:j]), true
			}
		}
	}
slow:
	if !s.next(n, '}') {
		return "", false
	}
	k := s.key()
	return b2s(k), s.ok()
}

// member is nextKey for loops over objects read leniently:
//
//	for n, k := 0, ""; s.member(&n, &k); { switch k { … } }
func (s *scanner) member(n *int, k *string) bool {
	var ok bool
	*k, ok = s.nextKey(n)
	return ok
}

// skipBlanks returns the index of the first non-whitespace byte at or
// after i; the common cases (none, one space) cost a compare or two.
func skipBlanks(b []byte, i int) int {
	if i < len(b) && b[i] > ' ' {
		return i
	}
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// key reads an object key and its colon; the key is unescaped.
func (s *scanner) key() []byte {
	if s.peek() != '"' {
		s.syntax("want an object key")
		return nil
	}
	k := s.str()
	if s.peek() != ':' {
		s.syntax("want ':' after an object key")
		return nil
	}
	s.i++
	return k
}

// specialMask flags (bit 7 of the byte) every byte of w that is '"', '\\'
// or below 0x20. Flags above the lowest may be false positives (borrows),
// the lowest flag is exact: bits.TrailingZeros64(m)/8 is the first special
// byte. XOR with 0x02 maps '"' (0x22) to 0x20 and keeps the control bytes
// below 0x20 while every other byte stays at or above 0x21, so one
// "less than 0x21" test finds both, and a zero-byte test after XOR with
// '\\' finds backslashes (8 operations instead of 11). Bytes from 0x80 up
// are never flagged and never borrow.
func specialMask(w uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	t := w ^ (lo * 0x02)
	bs := w ^ (lo * '\\')
	return ((t-lo*0x21)&^t | (bs-lo)&^bs) & hi
}

// scanPlain returns the index of the first '"', '\\' or control byte at
// or after i, len(b) when there is none.
func scanPlain(b []byte, i int) int {
	r := b[i:]
	for len(r) >= 8 {
		if m := specialMask(binary.LittleEndian.Uint64(r)); m != 0 {
			return len(b) - len(r) + bits.TrailingZeros64(m)>>3
		}
		r = r[8:]
	}
	for k, c := range r {
		if c == '"' || c == '\\' || c < 0x20 {
			return len(b) - len(r) + k
		}
	}
	return len(b)
}

// str reads the string at s.i (which is '"') and returns it unescaped, in
// place.
func (s *scanner) str() []byte {
	b := s.b
	i := s.i + 1
	start := i
	i = scanPlain(b, i)
	if i >= len(b) {
		s.syntax("unterminated string")
		return nil
	}
	switch b[i] {
	case '"':
		s.i = i + 1
		return b[start:i]
	case '\\':
		return s.unescape(start, i)
	}
	s.i = i
	s.syntax("control character in a string")
	return nil
}

// unescape continues str from the first backslash at r, writing the
// unescaped bytes over the string's own.
func (s *scanner) unescape(start, r int) []byte {
	b := s.b
	w := r
	for r < len(b) {
		c := b[r]
		switch {
		case c == '"':
			s.i = r + 1
			return b[start:w]
		case c < 0x20:
			s.i = r
			s.syntax("control character in a string")
			return nil
		case c != '\\':
			b[w] = c
			w++
			r++
			continue
		}
		if r+1 >= len(b) {
			break
		}
		e := b[r+1]
		r += 2
		switch e {
		case '"', '\\', '/':
			b[w] = e
		case 'b':
			b[w] = '\b'
		case 'f':
			b[w] = '\f'
		case 'n':
			b[w] = '\n'
		case 'r':
			b[w] = '\r'
		case 't':
			b[w] = '\t'
		case 'u':
			cp, ok := hex4(b, r)
			if !ok {
				s.i = r
				s.syntax("bad \\u escape in a string")
				return nil
			}
			r += 4
			if utf16IsHigh(cp) {
				// A pair makes one code point; a lone half is U+FFFD, as
				// encoding/json decodes it.
				if r+6 <= len(b) && b[r] == '\\' && b[r+1] == 'u' {
					if lo, ok := hex4(b, r+2); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						cp = 0x10000 + (cp-0xD800)<<10 + (lo - 0xDC00)
						r += 6
					} else {
						cp = utf8.RuneError
					}
				} else {
					cp = utf8.RuneError
				}
			} else if cp >= 0xDC00 && cp <= 0xDFFF {
				cp = utf8.RuneError
			}
			w += utf8.EncodeRune(b[w:], cp)
			continue
		default:
			s.i = r - 1
			s.syntax("bad escape in a string")
			return nil
		}
		w++
	}
	s.i = len(b)
	s.syntax("unterminated string")
	return nil
}

func utf16IsHigh(r rune) bool { return r >= 0xD800 && r <= 0xDBFF }

func hex4(b []byte, i int) (rune, bool) {
	r, bad := jsonr.Hex4(b, i)
	return r, bad < 0
}

// skipStr validates the string at s.i without unescaping it.
func (s *scanner) skipStr() {
	b := s.b
	i := s.i + 1
	for {
		i = scanPlain(b, i)
		if i >= len(b) {
			s.syntax("unterminated string")
			return
		}
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return
		case c < 0x20:
			s.i = i
			s.syntax("control character in a string")
			return
		case c == '\\':
			if i+1 >= len(b) {
				s.syntax("unterminated string")
				return
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(b, i+2); !ok {
					s.i = i
					s.syntax("bad \\u escape in a string")
					return
				}
				i += 6
			default:
				s.i = i
				s.syntax("bad escape in a string")
				return
			}
			continue
		}
		i++
	}
}

// skip validates and passes over one value of any type.
func (s *scanner) skip() {
	switch c := s.peek(); c {
	case '"':
		s.skipStr()
	case '{', '[':
		s.skipContainer()
	case 't':
		s.lit("true")
	case 'f':
		s.lit("false")
	case 'n':
		s.lit("null")
	case 0:
		s.syntax("unexpected end of input")
	default:
		s.number()
	}
}

// skipContainer validates and passes over the object or array at s.i in
// one loop with an explicit stack: skipped parts are most of a request's
// tokens, and a call per token was most of the cost. The grammar's states
// are the labels (value, afterValue, key), so each token is tested only
// against what may come there.
func (s *scanner) skipContainer() {
	b := s.b
	i := s.i
	var stack [maxDepth/64 + 1]uint64 // bit set: that level is an object
	depth := s.depth
	base := depth
	var c byte
value: // a value, or ']' right after '['
	i = skipBlanks(b, i)
	if i >= len(b) {
		goto eof
	}
	c = b[i]
	switch {
	case c == '"':
		if j := scanPlain(b, i+1); j < len(b) && b[j] == '"' {
			i = j + 1 // no escapes: skipStr would find the same end
			goto afterValue
		}
		s.i = i
		s.skipStr()
	case c-'0' <= 9:
		// A plain integer inline; a fraction, an exponent or a leading
		// zero goes to number() from the start.
		if j := i + 1; c != '0' {
			for j < len(b) && b[j]-'0' <= 9 {
				j++
			}
			if j >= len(b) || b[j] != '.' && b[j]|0x20 != 'e' {
				i = j
				goto afterValue
			}
		}
		s.i = i
		s.number()
	case c == '{' || c == '[':
		if depth-base >= maxDepth || depth >= maxDepth {
			s.i = i
			s.syntax("nesting too deep")
			return
		}
		k := depth - base
		depth++
		i = skipBlanks(b, i+1)
		if i >= len(b) {
			goto eof
		}
		if c == '{' {
			stack[k>>6] |= 1 << (k & 63)
			if b[i] == '}' {
				goto close
			}
			goto key
		}
		stack[k>>6] &^= 1 << (k & 63)
		if b[i] == ']' {
			goto close
		}
		goto value
	case c == 't':
		s.i = i
		s.lit("true")
	case c == 'f':
		s.i = i
		s.lit("false")
	case c == 'n':
		s.i = i
		s.lit("null")
	default:
		s.i = i
		s.number()
	}
	if s.bad {
		return
	}
	i = s.i
afterValue: // ',' or the closing bracket of the innermost container
	i = skipBlanks(b, i)
	if i >= len(b) {
		goto eof
	}
	c = b[i]
	if obj := stack[(depth-base-1)>>6]>>((depth-base-1)&63)&1 == 1; c == ',' {
		i++
		if obj {
			goto key
		}
		goto value
	} else if c == '}' && obj || c == ']' && !obj {
		goto close
	}
	s.i = i
	s.syntax("want ',' or a closing bracket")
	return
key: // a key and its ':'
	i = skipBlanks(b, i)
	if i >= len(b) {
		goto eof
	}
	if b[i] != '"' {
		s.i = i
		s.syntax("want an object key")
		return
	}
	if j := scanPlain(b, i+1); j < len(b) && b[j] == '"' {
		i = j + 1
	} else {
		s.i = i
		s.skipStr()
		if s.bad {
			return
		}
		i = s.i
	}
	i = skipBlanks(b, i)
	if i >= len(b) {
		goto eof
	}
	if b[i] != ':' {
		s.i = i
		s.syntax("want ':' after an object key")
		return
	}
	i++
	goto value
close: // b[i] closes the innermost container
	i++
	depth--
	if depth == base {
		s.i = i
		return
	}
	goto afterValue
eof:
	s.i = i
	s.syntax("unexpected end of input")
}

func (s *scanner) lit(w string) {
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return
	}
	s.syntax("unexpected value")
}

// number validates the number at s.i and returns its text.
func (s *scanner) number() []byte {
	b := s.b
	start, i := s.i, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i+3 <= len(b) && (eqFold3(b[i:i+3], "nan") || eqFold3(b[i:i+3], "inf")) {
		s.i = i + 3
		return b[start:s.i]
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		s.i = i
		s.syntax("unexpected character")
		return nil
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == d {
			s.i = i
			s.syntax("want a digit after '.'")
			return nil
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == d {
			s.i = i
			s.syntax("want a digit in the exponent")
			return nil
		}
	}
	s.i = i
	return b[start:i]
}

func eqFold3(b []byte, w string) bool {
	return b[0]|0x20 == w[0] && b[1]|0x20 == w[1] && b[2]|0x20 == w[2]
}

// parseInt reads an integral number token (300, -2, 300.0, 2.5e2); ok is
// false for fractions and for magnitudes beyond 2^53 given as floats.
func parseInt(t []byte) (int64, bool) {
	neg := len(t) > 0 && t[0] == '-'
	digits := t
	if neg {
		digits = t[1:]
	}
	if len(digits) > 0 && len(digits) <= 18 {
		var n int64
		plain := true
		for _, c := range digits {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if plain {
			if neg {
				n = -n
			}
			return n, true
		}
	}
	f := parseFloat(t)
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// parseFloat reads a validated number token; out-of-range values come back
// as ±Inf or ±0 (strconv's result on ErrRange), NaN/Inf as themselves.
func parseFloat(t []byte) float64 {
	if len(t) == 1 && t[0] >= '0' && t[0] <= '9' {
		return float64(t[0] - '0')
	}
	f, _ := strconv.ParseFloat(b2s(t), 64)
	return f
}

// Readers of typed values. On a type mismatch they consume nothing and
// report false, so the caller can name the type it found (typeName of
// peek()). null reads as the zero value.

// Fast paths of the readers: the common token shapes (a string without
// escapes, a plain integer, a short decimal) read in one call on local
// copies. They change nothing unless they succeed, and then leave the
// scanner where the general reader would, with the same value; anything
// else (null, escapes, exponents, errors) takes the general reader from
// the same position.

// plainStr reads a string without escapes.
func (s *scanner) plainStr() (string, bool) {
	b := s.b
	i := skipBlanks(b, s.i)
	if i < len(b) && b[i] == '"' {
		// scanPlain's first word inline, as in nextKey.
		j := i + 9
		if j <= len(b) {
			if m := specialMask(binary.LittleEndian.Uint64(b[i+1:])); m != 0 {
				j = i + 1 + bits.TrailingZeros64(m)>>3
			} else {
				j = scanPlain(b, j)
			}
		} else {
			j = scanPlain(b, i+1)
		}
		if j < len(b) && b[j] == '"' {
			s.i = j + 1
			return b2s(b[i+1 : j]), true
		}
	}
	return "", false
}

// plainInt reads an integer of at most 18 digits without fraction or
// exponent (what parseInt reads without parseFloat).
func (s *scanner) plainInt() (int64, bool) {
	b := s.b
	i := skipBlanks(b, s.i)
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	d0 := j
	var n int64
	for j < len(b) && b[j]-'0' <= 9 {
		n = n*10 + int64(b[j]-'0')
		j++
	}
	if nd := j - d0; nd == 0 || nd > 18 || nd > 1 && b[d0] == '0' {
		return 0, false
	}
	if j < len(b) && (b[j] == '.' || b[j]|0x20 == 'e') {
		return 0, false
	}
	if d0 > i {
		n = -n
	}
	s.i = j
	return n, true
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// plainFloat reads a non-negative decimal (digits, optionally '.' and
// digits) of at most 15 digits without exponent. Its digits and the power
// of ten are exact in a float64, so one division rounds correctly: the
// value strconv.ParseFloat returns (its own exact fast path).
func (s *scanner) plainFloat() (float64, bool) {
	b := s.b
	i := skipBlanks(b, s.i)
	j := i
	var m uint64
	for j < len(b) && b[j]-'0' <= 9 {
		m = m*10 + uint64(b[j]-'0')
		j++
	}
	ni := j - i
	if ni == 0 || ni > 1 && b[i] == '0' {
		return 0, false
	}
	nf := 0
	if j < len(b) && b[j] == '.' {
		j++
		f0 := j
		for j < len(b) && b[j]-'0' <= 9 {
			m = m*10 + uint64(b[j]-'0')
			j++
		}
		if nf = j - f0; nf == 0 {
			return 0, false
		}
	}
	if ni+nf > 15 || j < len(b) && b[j]|0x20 == 'e' {
		return 0, false
	}
	s.i = j
	return float64(m) / pow10[nf], true
}

// readStr reads a string or null.
func (s *scanner) readStr() (string, bool) {
	if v, ok := s.plainStr(); ok {
		return v, true
	}
	switch s.peek() {
	case '"':
		return b2s(s.str()), true
	case 'n':
		s.lit("null")
		return "", true
	}
	return "", false
}

// readInt reads an integral number or null.
func (s *scanner) readInt() (int64, bool) {
	if n, ok := s.plainInt(); ok {
		return n, true
	}
	switch c := s.peek(); typeName(c) {
	case "number":
		at := s.i
		n, ok := parseInt(s.number())
		if !ok && !s.bad {
			s.i = at
		}
		return n, ok || s.bad
	case "null":
		s.lit("null")
		return 0, true
	}
	return 0, false
}

// readFloat reads a finite number or null.
func (s *scanner) readFloat() (float64, bool) {
	if f, ok := s.plainFloat(); ok {
		return f, true
	}
	switch c := s.peek(); typeName(c) {
	case "number":
		at := s.i
		f := parseFloat(s.number())
		if (math.IsNaN(f) || math.IsInf(f, 0)) && !s.bad {
			s.i = at
			return 0, false
		}
		return f, true
	case "null":
		s.lit("null")
		return 0, true
	}
	return 0, false
}

// readFlag reads an OpenRTB 0/1 flag: any non-zero number is 1, JSON
// booleans are tolerated, null is 0.
func (s *scanner) readFlag() (bool, bool) {
	if n, ok := s.plainInt(); ok {
		return n != 0, true
	}
	switch c := s.peek(); c {
	case 't':
		s.lit("true")
		return true, true
	case 'f':
		s.lit("false")
		return false, true
	case 'n':
		s.lit("null")
		return false, true
	default:
		if typeName(c) == "number" {
			return parseFloat(s.number()) != 0, true
		}
	}
	return false, false
}

// lenientInt reads an ext integer that exchanges send as a number, a
// numeric string or a boolean; ok is false when the value is unusable
// (it is consumed either way).
func (s *scanner) lenientInt() (int64, bool) {
	if n, ok := s.plainInt(); ok {
		return n, true
	}
	switch c := s.peek(); c {
	case '"':
		t := s.str()
		if len(t) == 0 || len(t) > 18 {
			return 0, false
		}
		var n int64
		for _, c := range t {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int64(c-'0')
		}
		return n, true
	case 't':
		s.lit("true")
		return 1, true
	case 'f':
		s.lit("false")
		return 0, true
	default:
		if typeName(c) == "number" {
			return parseInt(s.number())
		}
	}
	s.skip()
	return 0, false
}

// lenientStr reads an ext string; any other type reads as "" (consumed).
func (s *scanner) lenientStr() string {
	if v, ok := s.plainStr(); ok {
		return v
	}
	if s.peek() == '"' {
		return b2s(s.str())
	}
	s.skip()
	return ""
}

// arrayLen counts an array's elements (validating them); 0 for anything
// else.
func (s *scanner) arrayLen() int {
	if s.peek() != '[' {
		s.skip()
		return 0
	}
	s.enter()
	n := 0
	for s.next(&n, ']') {
		s.skip()
	}
	return n
}

// openObject consumes '{' and reports true when the value is an object;
// otherwise it consumes nothing.
func (s *scanner) openObject() bool {
	if s.peek() == '{' {
		s.enter()
		return true
	}
	return false
}
