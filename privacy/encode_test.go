package privacy

import "strings"

// bitWriter builds consent strings for the tests: fields are appended
// big-endian and the result is base64url without padding, as CMPs write.
type bitWriter struct{ b []bool }

func (w *bitWriter) uint(v uint64, n int) *bitWriter {
	for i := n - 1; i >= 0; i-- {
		w.b = append(w.b, v>>i&1 == 1)
	}
	return w
}

func (w *bitWriter) bool(v bool) *bitWriter {
	w.b = append(w.b, v)
	return w
}

// fib appends v ≥ 1 Fibonacci-coded (Zeckendorf digits low to high, then
// the closing 1).
func (w *bitWriter) fib(v int) *bitWriter {
	fs := []int{1, 2}
	for fs[len(fs)-1] <= v {
		fs = append(fs, fs[len(fs)-1]+fs[len(fs)-2])
	}
	digits := make([]bool, len(fs))
	top := 0
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i] <= v {
			v -= fs[i]
			digits[i] = true
			if top == 0 {
				top = i
			}
		}
	}
	w.b = append(w.b, digits[:top+1]...)
	w.b = append(w.b, true)
	return w
}

func (w *bitWriter) String() string {
	const url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var sb strings.Builder
	for i := 0; i < len(w.b); i += 6 {
		v := 0
		for j := 0; j < 6; j++ {
			v <<= 1
			if i+j < len(w.b) && w.b[i+j] {
				v |= 1
			}
		}
		sb.WriteByte(url[v])
	}
	return sb.String()
}

// tcString encodes a TCF v2 core segment with the given purpose consents
// and vendor consents, as a bitfield or in range encoding.
func tcString(purposes []int, vendors []int, ranges bool) string {
	w := &bitWriter{}
	w.uint(2, 6).uint(16_000_000_000, 36).uint(16_000_000_000, 36) // version, created, updated (deciseconds)
	w.uint(7, 12).uint(1, 12).uint(1, 6).uint(uint64('E'-'A')<<6|uint64('N'-'A'), 12)
	w.uint(150, 12).uint(4, 6).bool(false).bool(false).uint(0, 12)
	var pc uint64
	for _, p := range purposes {
		pc |= 1 << (24 - p)
	}
	w.uint(pc, 24).uint(0, 24).bool(false).uint(uint64('D'-'A')<<6|uint64('E'-'A'), 12)
	maxV := 0
	for _, v := range vendors {
		maxV = max(maxV, v)
	}
	w.uint(uint64(maxV), 16).bool(ranges)
	if !ranges {
		set := map[int]bool{}
		for _, v := range vendors {
			set[v] = true
		}
		for v := 1; v <= maxV; v++ {
			w.bool(set[v])
		}
	} else {
		// Consecutive ids become one range entry.
		type entry struct{ a, b int }
		var es []entry
		for _, v := range vendors {
			if n := len(es); n > 0 && es[n-1].b+1 == v {
				es[n-1].b = v
				continue
			}
			es = append(es, entry{v, v})
		}
		w.uint(uint64(len(es)), 12)
		for _, e := range es {
			w.bool(e.a != e.b).uint(uint64(e.a), 16)
			if e.a != e.b {
				w.uint(uint64(e.b), 16)
			}
		}
	}
	w.uint(0, 16).bool(false) // no legitimate-interest vendors
	w.uint(0, 12)             // no publisher restrictions
	return w.String()
}

// gppHeader encodes a GPP header for the section ids (ascending), single
// ids only, or ranges of consecutive ids when ranges is set.
func gppHeader(ids []int, ranges bool) string {
	w := &bitWriter{}
	w.uint(3, 6).uint(1, 6)
	type entry struct{ a, b int }
	var es []entry
	for _, id := range ids {
		if n := len(es); ranges && n > 0 && es[n-1].b+1 == id {
			es[n-1].b = id
			continue
		}
		es = append(es, entry{id, id})
	}
	w.uint(uint64(len(es)), 12)
	last := 0
	for _, e := range es {
		w.bool(e.a != e.b).fib(e.a - last)
		if e.a != e.b {
			w.fib(e.b - e.a)
		}
		last = e.b
	}
	return w.String()
}

// usSection encodes a US section core: version 1 followed by 2-bit fields.
func usSection(fields ...uint64) string {
	w := &bitWriter{}
	w.uint(1, 6)
	for _, f := range fields {
		w.uint(f, 2)
	}
	return w.String()
}
