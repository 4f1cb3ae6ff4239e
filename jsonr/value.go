package jsonr

import (
	"strconv"

	"github.com/callbid/callbid/jsonw"
)

// Value is one value of a parsed document; the zero Value is None. It is
// valid until the next Parse or Reset of its Parser.
type Value struct {
	p *Parser
	i int32
}

func (v Value) node() *node { return &v.p.nodes[v.i] }

// Kind is the value's JSON type; None for the zero Value.
func (v Value) Kind() Kind {
	if v.p == nil {
		return None
	}
	return v.node().kind
}

// Exists reports whether v is a value: false for a key Get did not find.
func (v Value) Exists() bool { return v.Kind() != None }

// Get returns the first member of an object with the key (compared with
// the key's escapes decoded), or None when v is not an object or has no
// such member. An object of indexFrom members or more is looked up in its
// key table; a smaller one is read in order.
func (v Value) Get(key string) Value {
	if v.Kind() != Object {
		return Value{}
	}
	p := v.p
	o := &p.nodes[v.i]
	if o.count() >= indexFrom {
		b := tableBits(o.count())
		tab, mask := p.slots[o.start:o.start+1<<b], uint32(1)<<b-1
		h := keyHash(key)
		for i := h >> (32 - b); ; i = (i + 1) & mask {
			s := tab[i]
			if s.k == 0 {
				return Value{}
			}
			if s.h == h && p.isKey(s.k, key) {
				return Value{p: p, i: s.k + 1}
			}
		}
	}
	end := v.i + o.size
	for k := v.i + 1; k < end; k += 1 + p.nodes[k+1].size {
		if p.isKey(k, key) {
			return Value{p: p, i: k + 1}
		}
	}
	return Value{}
}

func (p *Parser) isKey(k int32, key string) bool {
	// Most keys differ in length: compare that before the bytes.
	n := &p.nodes[k]
	return int(n.end-n.start) == len(key) && string(p.text(n)) == key
}

// Len is the number of an array's elements or an object's members; 0 for
// other kinds.
func (v Value) Len() int {
	if k := v.Kind(); k != Array && k != Object {
		return 0
	}
	return int(v.node().count())
}

// StringBytes returns a string's bytes, escapes decoded. ok is false when v
// is not a string.
func (v Value) StringBytes() (b []byte, ok bool) {
	if v.Kind() != String {
		return nil, false
	}
	return v.p.text(v.node()), true
}

// NumberBytes returns a number as it is written in the document. ok is
// false when v is not a number.
func (v Value) NumberBytes() (b []byte, ok bool) {
	if v.Kind() != Number {
		return nil, false
	}
	return v.p.text(v.node()), true
}

// Int64 returns an integer written without fraction or exponent that fits
// an int64 (as encoding/json reads one into an int64); ok is false for any
// other value.
func (v Value) Int64() (n int64, ok bool) {
	b, ok := v.NumberBytes()
	if !ok {
		return 0, false
	}
	neg := b[0] == '-'
	d := b
	if neg {
		d = b[1:]
	}
	if len(d) > 18 {
		n, err := strconv.ParseInt(jsonw.UnsafeString(b), 10, 64)
		if err != nil {
			return 0, false
		}
		return n, true
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// Uint64 returns a non-negative integer written without sign, fraction or
// exponent that fits a uint64; ok is false for any other value.
func (v Value) Uint64() (n uint64, ok bool) {
	b, ok := v.NumberBytes()
	if !ok {
		return 0, false
	}
	if len(b) > 19 {
		n, err := strconv.ParseUint(jsonw.UnsafeString(b), 10, 64)
		if err != nil {
			return 0, false
		}
		return n, true
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// Float64 returns a number as the nearest float64; ok is false when v is
// not a number or is beyond float64's range (encoding/json refuses those
// too).
func (v Value) Float64() (f float64, ok bool) {
	b, ok := v.NumberBytes()
	if !ok {
		return 0, false
	}
	if f, ok := exactFloat(b); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(jsonw.UnsafeString(b), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// Bool returns true or false; ok is false for any other value.
func (v Value) Bool() (t, ok bool) {
	switch v.Kind() {
	case True:
		return true, true
	case False:
		return false, true
	}
	return false, false
}

// Iter returns an iterator over an array's elements or an object's
// members, in document order; for other kinds it visits nothing.
func (v Value) Iter() Iter {
	if k := v.Kind(); k != Array && k != Object {
		return Iter{}
	}
	return Iter{p: v.p, obj: v.Kind() == Object, next: v.i + 1, end: v.i + v.node().size}
}

// Iter walks a container:
//
//	for it := v.Iter(); it.Next(); { use(it.Key(), it.Value()) }
type Iter struct {
	p              *Parser
	obj            bool
	next, end, val int32
}

// Next moves to the next element or member, and reports whether there is
// one.
func (it *Iter) Next() bool {
	if it.next >= it.end {
		return false
	}
	it.val = it.next
	if it.obj {
		it.val++ // past the key
	}
	it.next = it.val + it.p.nodes[it.val].size
	return true
}

// Value is the current element or member value.
func (it *Iter) Value() Value { return Value{p: it.p, i: it.val} }

// Key is the current member's key, escapes decoded; nil in an array.
func (it *Iter) Key() []byte {
	if !it.obj {
		return nil
	}
	return it.p.text(&it.p.nodes[it.val-1])
}

func (p *Parser) text(n *node) []byte {
	if n.esc {
		return p.unesc[n.start:n.end:n.end]
	}
	return p.b[n.start:n.end:n.end]
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// exactFloat reads a number of at most 15 digits without exponent, such as
// 4.0 or -12.75, the common case, without strconv: its digits and its power
// of ten are exact float64s, so one division rounds it correctly, as
// strconv.ParseFloat does (Clinger's fast path). ok is false for any other
// number.
func exactFloat(b []byte) (float64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var m uint64
	digits, frac := 0, -1
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
		case c == '.':
			frac = i
		default:
			return 0, false // an exponent
		}
	}
	if digits > 15 {
		return 0, false
	}
	f := float64(m)
	if frac >= 0 {
		f /= pow10[len(b)-frac-1]
	}
	if neg {
		f = -f
	}
	return f, true
}
