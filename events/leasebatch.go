package events

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/callbid/callbid/jsonw"
)

// A hold batch is one callbid.leases.v1 record that carries many holds:
// writing each hold as its own Kafka record cost more CPU than deciding the
// bid. Its key starts with HoldBatchKeyPrefix (no number does) and is unique
// per batch. A reader applies the items in order, as if each were a record
// of its number key holding that number's held Lease; the batch sits on the
// partition of all its numbers, so it keeps its place among their records.
// The writer deletes the batch (a tombstone of its key) once every hold in
// it has ended, since the topic is compacted and a unique key is otherwise
// kept for ever.
//
// Two value formats exist; HoldBatchOwner reads the writer of either:
//
//   - version 2 (HoldBatch writes it, ReadHoldBatch reads it): binary,
//     described at HoldBatch: the entry's fields copied, a repeated string
//     written once; ≈ 100 bytes a hold, 2.5× cheaper to write than JSON.
//   - version 1 (written by session 4's releases; SplitHoldBatch reads it):
//     {"o":"<owner>","holds":[["<number key>",<lease value>],…]}, each
//     lease value exactly what AppendLease writes for that number.

// HoldBatchKeyPrefix starts the key of every hold batch.
const HoldBatchKeyPrefix = "~holds;"

// IsHoldBatchKey reports whether key is a hold batch's.
func IsHoldBatchKey(key []byte) bool { return bytes.HasPrefix(key, []byte(HoldBatchKeyPrefix)) }

// AppendHoldBatchKey appends the key of owner's batch number n; salt only
// moves the key to another partition (see kafkaio.Partitioner).
func AppendHoldBatchKey(b []byte, owner string, n uint64, salt uint32) []byte {
	b = append(b, HoldBatchKeyPrefix...)
	b = append(b, owner...)
	b = append(b, ';')
	b = strconv.AppendUint(b, n, 10)
	b = append(b, ';')
	return strconv.AppendUint(b, uint64(salt), 10)
}

// AppendHoldBatchStart begins a version-1 batch value of owner. Version 1
// is no longer written by callbid; its writer stays so that tests can make
// the records an earlier release left in the log.
func AppendHoldBatchStart(b []byte, owner string) []byte {
	b = OwnPrefix(b, owner)
	return append(b, `,"holds":[`...)
}

// AppendHoldBatchItem appends one number's record (key: the number's lease
// key, l: its state) to a batch begun by AppendHoldBatchStart.
func AppendHoldBatchItem(b, key []byte, l *Lease) []byte {
	if len(b) > 0 && b[len(b)-1] != '[' {
		b = append(b, ',')
	}
	b = append(b, '[')
	b = jsonw.AppendBytes(b, key)
	b = append(b, ',')
	b = AppendLease(b, l)
	return append(b, ']')
}

// AppendHoldBatchEnd ends a batch value.
func AppendHoldBatchEnd(b []byte) []byte { return append(b, "]}"...) }

var errHoldBatch = errors.New("hold batch is malformed")

// SplitHoldBatch calls fn with each item of version-1 batch value v, in order: the
// number's lease key and its lease value (both point into v). It stops at
// the first malformed part and returns an error; the items before it have
// been passed.
func SplitHoldBatch(v []byte, fn func(key, lease []byte)) error {
	i, ok := expect(v, 0, `{"o":`)
	if !ok {
		return errHoldBatch
	}
	if _, i, ok = plainString(v, i); !ok {
		return errHoldBatch
	}
	if i, ok = expect(v, i, `,"holds":[`); !ok {
		return errHoldBatch
	}
	if i < len(v) && v[i] == ']' {
		i++
	} else {
		for {
			if i, ok = expect(v, i, `[`); !ok {
				return errHoldBatch
			}
			var key []byte
			if key, i, ok = plainString(v, i); !ok {
				return errHoldBatch
			}
			if i, ok = expect(v, i, `,`); !ok {
				return errHoldBatch
			}
			end, ok := objectEnd(v, i)
			if !ok {
				return errHoldBatch
			}
			fn(key, v[i:end])
			if i, ok = expect(v, end, `]`); !ok {
				return errHoldBatch
			}
			if i < len(v) && v[i] == ',' {
				i++
				continue
			}
			if i, ok = expect(v, i, `]`); !ok {
				return errHoldBatch
			}
			break
		}
	}
	if i, ok = expect(v, i, `}`); !ok || i != len(v) {
		return errHoldBatch
	}
	return nil
}

func expect(v []byte, i int, s string) (int, bool) {
	if i > len(v) || !bytes.HasPrefix(v[i:], []byte(s)) {
		return i, false
	}
	return i + len(s), true
}

// plainString reads a JSON string without escapes at v[i] (what a number
// key and an owner id are) and returns its bytes and the index after it.
func plainString(v []byte, i int) ([]byte, int, bool) {
	if i >= len(v) || v[i] != '"' {
		return nil, i, false
	}
	n := bytes.IndexByte(v[i+1:], '"')
	if n < 0 {
		return nil, i, false
	}
	s := v[i+1 : i+1+n]
	if bytes.IndexByte(s, '\\') >= 0 {
		return nil, i, false
	}
	return s, i + n + 2, true
}

// objectEnd returns the index after the JSON object that starts at v[i]
// (strings and nesting honoured; the object itself is checked by its
// decoder).
func objectEnd(v []byte, i int) (int, bool) {
	if i >= len(v) || v[i] != '{' {
		return i, false
	}
	depth, inStr := 0, false
	for j := i; j < len(v); j++ {
		c := v[j]
		switch {
		case inStr:
			if c == '\\' {
				j++
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return j + 1, c == '}'
			}
		}
	}
	return i, false
}
