package jsonr

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	// MaxDepth is how deep arrays and objects may nest (the limit
	// valyala/fastjson applied before this package replaced it).
	MaxDepth = 300
	// MaxBytes is the longest document Parse reads: offsets in the index
	// are 32-bit.
	MaxBytes = math.MaxInt32
)

// ErrTooDeep is in the chain of the error Parse returns for a document
// whose containers nest more than MaxDepth deep.
var ErrTooDeep = errors.New("containers nest more than " + strconv.Itoa(MaxDepth) + " deep")

// errTooLong is the cause of the error for a document over MaxBytes.
var errTooLong = errors.New("document is longer than " + strconv.Itoa(MaxBytes) + " bytes")

// SyntaxError is a document that is not JSON, or that is beyond a limit.
type SyntaxError struct {
	Offset int    // the byte where reading stopped
	msg    string // what was wrong there
	err    error  // ErrTooDeep, or nil
}

func (e *SyntaxError) Error() string {
	return "invalid JSON at byte " + strconv.Itoa(e.Offset) + ": " + e.msg
}

func (e *SyntaxError) Unwrap() error { return e.err }

// Kind is the JSON type of a Value.
type Kind uint8

// The kinds; None is no value (a key that is absent).
const (
	None Kind = iota
	Null
	False
	True
	Number
	String
	Array
	Object
)

var kindNames = [...]string{"none", "null", "false", "true", "number", "string", "array", "object"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// node is one value in the index. A container's members follow it in
// document order (an object's as key, value), so a value's subtree is the
// size nodes starting at its own. It is 16 bytes: a container keeps its
// count and key table in the text fields it has no use for.
type node struct {
	// start, end: a number's or string's text, in the document or, when
	// esc, in Parser.unesc. A container's end is its count of elements or
	// members (count); an object with a key table has the table's offset
	// in Parser.slots in start.
	start, end int32
	size       int32 // nodes in the subtree, this one included
	kind       Kind
	esc        bool // a string whose text is in Parser.unesc
}

func (n *node) count() int32 { return n.end }

// Parser parses documents into its reusable index. The zero value is ready
// to use.
type Parser struct {
	b     []byte
	nodes []node
	unesc []byte // strings with escapes, decoded
	slots []slot // the key tables of objects with indexFrom members or more
}

// Parse checks and indexes b, and returns its top-level value. b must not
// change while the value is in use. An error is a *SyntaxError.
func (p *Parser) Parse(b []byte) (Value, error) {
	p.nodes, p.unesc, p.slots = p.nodes[:0], p.unesc[:0], p.slots[:0]
	if len(b) > MaxBytes {
		p.b = nil
		return Value{}, &SyntaxError{Offset: 0, msg: errTooLong.Error(), err: errTooLong}
	}
	p.b = b
	i, err := p.value(skipWS(b, 0), 0)
	if err == nil && skipWS(b, i) < len(b) {
		i = skipWS(b, i)
		err = p.fail(i, "after the top-level value")
	}
	if err != nil {
		p.Reset()
		return Value{}, err
	}
	return Value{p: p}, nil
}

// Reset drops the parser's reference to the last document (its Values
// become invalid) and keeps the index's memory for the next Parse.
func (p *Parser) Reset() {
	p.b, p.nodes, p.unesc, p.slots = nil, p.nodes[:0], p.unesc[:0], p.slots[:0]
}

// fail describes the byte at i (or the end of the document) as unexpected.
func (p *Parser) fail(i int, where string) error {
	if i >= len(p.b) {
		return &SyntaxError{Offset: i, msg: "the document ends early"}
	}
	c := strconv.QuoteRune(rune(p.b[i]))
	if p.b[i] >= utf8.RuneSelf {
		c = "byte 0x" + strconv.FormatUint(uint64(p.b[i]), 16)
	}
	return &SyntaxError{Offset: i, msg: "unexpected " + c + " " + where}
}

var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func skipWS(b []byte, i int) int {
	for i < len(b) && space[b[i]] {
		i++
	}
	return i
}

// value indexes the value at b[i] (no space before it) and returns the
// offset after it; depth is the number of containers around it.
func (p *Parser) value(i, depth int) (int, error) {
	b := p.b
	if i >= len(b) {
		return i, p.fail(i, "")
	}
	switch c := b[i]; c {
	case '{':
		return p.container(i, depth+1, Object)
	case '[':
		return p.container(i, depth+1, Array)
	case '"':
		return p.str(i)
	case 't':
		return p.literal(i, "true", True)
	case 'f':
		return p.literal(i, "false", False)
	case 'n':
		return p.literal(i, "null", Null)
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return p.number(i)
		}
		return i, p.fail(i, "at the start of a value")
	}
}

func (p *Parser) literal(i int, word string, k Kind) (int, error) {
	for j := 0; j < len(word); j++ {
		if i+j >= len(p.b) || p.b[i+j] != word[j] {
			return i + j, p.fail(i+j, "in the literal "+word)
		}
	}
	p.nodes = append(p.nodes, node{start: int32(i), end: int32(i + len(word)), size: 1, kind: k})
	return i + len(word), nil
}

// container indexes the array or object (k) whose bracket is at b[i].
func (p *Parser) container(i, depth int, k Kind) (int, error) {
	if depth > MaxDepth {
		return i, &SyntaxError{Offset: i, msg: ErrTooDeep.Error(), err: ErrTooDeep}
	}
	closer, after := byte(']'), "after an array element"
	if k == Object {
		closer, after = '}', "after an object member"
	}
	b := p.b
	n := len(p.nodes)
	p.nodes = append(p.nodes, node{kind: k})
	count := 0
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == closer {
		i++
	} else {
		for {
			var err error
			if k == Object {
				if i, err = p.key(i); err != nil {
					return i, err
				}
			}
			if i, err = p.value(i, depth); err != nil {
				return i, err
			}
			count++
			i = skipWS(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipWS(b, i+1)
				continue
			}
			if i < len(b) && b[i] == closer {
				i++
				break
			}
			return i, p.fail(i, after)
		}
	}
	p.nodes[n].end, p.nodes[n].size = int32(count), int32(len(p.nodes)-n)
	if k == Object && count >= indexFrom {
		p.index(n)
	}
	return i, nil
}

// key indexes the object key at b[i] and returns where its value starts.
func (p *Parser) key(i int) (int, error) {
	b := p.b
	if i >= len(b) || b[i] != '"' {
		return i, p.fail(i, "where an object key should start")
	}
	i, err := p.str(i)
	if err != nil {
		return i, err
	}
	if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
		return i, p.fail(i, "after an object key")
	}
	return skipWS(b, i+1), nil
}

// plain are the bytes a string holds as they are: not a quote, a backslash
// or a control character.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// special8 reports whether one of the 8 bytes in x is a quote, a
// backslash or a control character (the bit tricks of "Determine if a word
// has a byte less than n": a zero byte of x^c is a byte equal to c).
func special8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := x^(ones*'"'), x^(ones*'\\')
	return ((q-ones)&^q|(bs-ones)&^bs|(x-ones*0x20)&^x)&highs != 0
}

// str indexes the string whose quote is at b[i].
func (p *Parser) str(i int) (int, error) {
	b := p.b
	start := i + 1
	j := start
	for j+8 <= len(b) && !special8(binary.LittleEndian.Uint64(b[j:])) {
		j += 8
	}
	for j < len(b) && plain[b[j]] {
		j++
	}
	if j < len(b) && b[j] == '"' {
		p.nodes = append(p.nodes, node{start: int32(start), end: int32(j), size: 1, kind: String})
		return j + 1, nil
	}
	if j < len(b) && b[j] == '\\' {
		return p.escaped(start, j)
	}
	return j, p.fail(j, "in a string")
}

// escaped decodes the string that starts at b[start] and has its first
// escape at b[j] into p.unesc.
func (p *Parser) escaped(start, j int) (int, error) {
	b := p.b
	us := len(p.unesc)
	p.unesc = append(p.unesc, b[start:j]...)
	for j < len(b) {
		switch c := b[j]; {
		case c == '"':
			p.nodes = append(p.nodes, node{start: int32(us), end: int32(len(p.unesc)), size: 1, kind: String, esc: true})
			return j + 1, nil
		case c == '\\':
			if j+1 >= len(b) {
				return j + 1, p.fail(j+1, "")
			}
			switch e := b[j+1]; e {
			case '"', '\\', '/':
				p.unesc = append(p.unesc, e)
			case 'b':
				p.unesc = append(p.unesc, '\b')
			case 'f':
				p.unesc = append(p.unesc, '\f')
			case 'n':
				p.unesc = append(p.unesc, '\n')
			case 'r':
				p.unesc = append(p.unesc, '\r')
			case 't':
				p.unesc = append(p.unesc, '\t')
			case 'u':
				r, err := p.hex4(j + 2)
				if err != nil {
					return j, err
				}
				j += 6
				if utf16.IsSurrogate(r) {
					// A pair is two escapes; anything else is U+FFFD and
					// what follows is read on its own.
					r2 := rune(-1)
					if j+1 < len(b) && b[j] == '\\' && b[j+1] == 'u' {
						if x, err := p.hex4(j + 2); err == nil {
							r2 = x
						}
					}
					if r = utf16.DecodeRune(r, r2); r != utf8.RuneError {
						j += 6
					}
				}
				p.unesc = utf8.AppendRune(p.unesc, r)
				continue
			default:
				return j + 1, p.fail(j+1, "in a string escape")
			}
			j += 2
		case plain[c]:
			k := j + 1
			for k < len(b) && plain[b[k]] {
				k++
			}
			p.unesc = append(p.unesc, b[j:k]...)
			j = k
		default:
			return j, p.fail(j, "in a string")
		}
	}
	return j, p.fail(j, "")
}

// hex4 reads the four hex digits of a \u escape at b[i].
func (p *Parser) hex4(i int) (rune, error) {
	r, bad := Hex4(p.b, i)
	switch {
	case bad < 0:
		return r, nil
	case bad >= len(p.b):
		return 0, p.fail(bad, "")
	}
	return 0, p.fail(bad, "in a \\u escape")
}

// Hex4 decodes the four hex digits of a \u escape at b[i:i+4]; bad is the
// index of the first one missing or not hex, −1 when all four are (the
// request scanner in openrtb shares it).
func Hex4(b []byte, i int) (r rune, bad int) {
	for k := i; k < i+4; k++ {
		if k >= len(b) {
			return 0, k
		}
		c := b[k]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, k
		}
		r = r<<4 | rune(c)
	}
	return r, -1
}

// number indexes the number at b[i]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *Parser) number(i int) (int, error) {
	b := p.b
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return i, p.fail(i, "in a number")
	}
	if i < len(b) && b[i] == '.' {
		if i = digits(b, i+1); b[i-1] == '.' {
			return i, p.fail(i, "after a decimal point")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		if i = digits(b, i); i == d {
			return i, p.fail(i, "in an exponent")
		}
	}
	p.nodes = append(p.nodes, node{start: int32(start), end: int32(i), size: 1, kind: Number})
	return i, nil
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// Objects with indexFrom members or more get a key table: an open
// addressing hash table of their keys, so Get costs the same whatever the
// order of the keys and whether the key is there. A record of 26 fields
// read field by field is 26 lookups, not 26 scans of half the keys.
const indexFrom = 12

// slot is an entry of a key table: the key's hash, and its node (0: empty).
type slot struct {
	h uint32
	k int32
}

// tableBits is log2 of the size of the key table of count keys: at most
// half full.
func tableBits(count int32) uint { return uint(bits.Len32(uint32(2*count - 1))) }

// keyHash mixes a key's length and three of its bytes: enough to tell
// apart the keys of a record (an equal hash is then compared in full).
func keyHash[K string | []byte](k K) uint32 {
	h := uint32(len(k))
	if len(k) > 0 {
		h |= uint32(k[0])<<8 | uint32(k[len(k)/2])<<16 | uint32(k[len(k)-1])<<24
	}
	return h * 0x9E3779B1
}

// index builds the key table of object n; of a repeated key, the first
// member stays in it.
func (p *Parser) index(n int) {
	o := &p.nodes[n]
	b := tableBits(o.count())
	off := len(p.slots)
	p.slots = append(p.slots, make([]slot, 1<<b)...)
	tab, mask := p.slots[off:], uint32(1)<<b-1
	end := n + int(o.size)
	o.start = int32(off)
	for k := n + 1; k < end; k += 1 + int(p.nodes[k+1].size) {
		key := p.text(&p.nodes[k])
		h := keyHash(key)
		for i := h >> (32 - b); ; i = (i + 1) & mask {
			s := &tab[i]
			if s.k == 0 {
				*s = slot{h: h, k: int32(k)}
				break
			}
			if s.h == h && string(p.text(&p.nodes[s.k])) == string(key) {
				break // a repeated key
			}
		}
	}
}
