package events

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/callbid/callbid/jsonw"
)

// HoldBatch writes a version-2 hold batch value (see leasebatch.go for
// what a hold batch is). The layout, integers little-endian:
//
//	value  = magic  u16 len  owner  u32 count  item…   (count items)
//	magic  = 0x00 'h' 'b' 0x02
//	item   = u16 len  key  u16 mask  string…  fixed  ids
//	string = u16 len  bytes, for each bit k set in mask (bit 0 first): pool,
//	         campaign, publisher, exchange, skill, creative, currency,
//	         country, region. A string whose bit is clear is the previous
//	         item's (in the first item: empty).
//	fixed  = u32 gen  u8 fl  u8 dt  i64 res  i64 pr  i64 cp  u64 ip  u64 ifa
//	         u16 len r  u16 len i  u16 len b  u16 len sa      (54 bytes)
//	ids    = the bytes of r, i, b and sa, back to back
//
// Each item stands for the number's Lease record with st "held", o the
// batch's owner, won and end 0 and no ani; the other fields are the Lease
// fields of the same short names. The value starts with a zero byte, so no
// version-1 (JSON) reader mistakes it for one of its own.
//
// Writing copies the entry's numbers and bytes: no escaping, no decimal
// formatting, and a string that repeats from hold to hold (pool, campaign,
// exchange, skill, creative, currency, geo) is left out. Add copies what it
// keeps, so a Hold may point into memory that changes after Add returns.
// The zero value is ready for Begin.
type HoldBatch struct {
	buf  []byte
	n    int
	prev [holdStrings][]byte // the strings of the previous item, copied
}

// Hold is one hold of a HoldBatch: the fields of a held Lease record.
type Hold struct {
	Pool, Campaign, Publisher, Exchange, Skill, Creative, Currency string
	Country, Region                                                string
	Gen                                                            uint32
	Flags, DeviceType                                              uint8
	ReservedAt, PriceMicros, ClearingMicros                        int64
	IPHash, IFAHash                                                uint64
	// IDs is request id | imp id | bid id | site or app, back to back (how
	// the pools keep them); ReqLen, ImpLen and BidLen split it, the site is
	// the rest.
	IDs                    []byte
	ReqLen, ImpLen, BidLen uint16
}

const (
	holdBatchMagic = "\x00hb\x02"
	holdStrings    = 9
	holdFixed      = 4 + 1 + 1 + 5*8 + 4*2
	maxHoldField   = 1<<16 - 1
)

// Begin starts a new value of owner, dropping what the batch held.
func (hb *HoldBatch) Begin(owner string) {
	hb.buf = append(hb.buf[:0], holdBatchMagic...)
	hb.buf = appendLen16(hb.buf, owner)
	hb.buf = append(hb.buf, 0, 0, 0, 0) // the count, set by Bytes
	hb.n = 0
	for k := range hb.prev {
		hb.prev[k] = hb.prev[k][:0]
	}
}

// Len is the number of holds added since Begin.
func (hb *HoldBatch) Len() int { return hb.n }

// Bytes is the value written so far (valid until the next Begin or Add).
func (hb *HoldBatch) Bytes() []byte {
	if len(hb.buf) < len(holdBatchMagic)+6 {
		return nil // no Begin
	}
	o := len(holdBatchMagic) + 2 + int(binary.LittleEndian.Uint16(hb.buf[len(holdBatchMagic):]))
	binary.LittleEndian.PutUint32(hb.buf[o:], uint32(hb.n))
	return hb.buf
}

// Add appends the hold of the number whose lease key is key.
func (hb *HoldBatch) Add(key []byte, h *Hold) {
	b := appendLen16(hb.buf, key)
	strs := [holdStrings]string{h.Pool, h.Campaign, h.Publisher, h.Exchange, h.Skill, h.Creative, h.Currency,
		h.Country, h.Region}
	var mask uint16
	for k := range strs {
		if strs[k] != string(hb.prev[k]) {
			mask |= 1 << k
		}
	}
	b = binary.LittleEndian.AppendUint16(b, mask)
	for k := range strs {
		if mask&(1<<k) != 0 {
			b = appendLen16(b, strs[k])
			hb.prev[k] = append(hb.prev[k][:0], strs[k]...)
		}
	}
	ids := h.IDs
	r, m, bid := int(h.ReqLen), int(h.ReqLen)+int(h.ImpLen), int(h.ReqLen)+int(h.ImpLen)+int(h.BidLen)
	if bid > len(ids) || len(ids)-bid > maxHoldField {
		ids, r, m, bid = nil, 0, 0, 0 // inconsistent: no ids rather than wrong ones
	}
	n := len(b)
	b = slices.Grow(b, holdFixed+len(ids))[:n+holdFixed]
	f := b[n:]
	le := binary.LittleEndian
	le.PutUint32(f[0:], h.Gen)
	f[4], f[5] = h.Flags, h.DeviceType
	le.PutUint64(f[6:], uint64(h.ReservedAt))
	le.PutUint64(f[14:], uint64(h.PriceMicros))
	le.PutUint64(f[22:], uint64(h.ClearingMicros))
	le.PutUint64(f[30:], h.IPHash)
	le.PutUint64(f[38:], h.IFAHash)
	le.PutUint16(f[46:], uint16(r))
	le.PutUint16(f[48:], uint16(m-r))
	le.PutUint16(f[50:], uint16(bid-m))
	le.PutUint16(f[52:], uint16(len(ids)-bid))
	hb.buf = append(b, ids...)
	hb.n++
}

func appendLen16[T ~string | ~[]byte](b []byte, s T) []byte {
	s = s[:min(len(s), maxHoldField)]
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// HoldBatchVersion tells a hold batch value's format: 2, 1, or 0 when v is
// neither (a tombstone is empty: 0).
func HoldBatchVersion(v []byte) int {
	switch {
	case bytes.HasPrefix(v, []byte(holdBatchMagic)):
		return 2
	case bytes.HasPrefix(v, []byte(`{"o":`)):
		return 1
	}
	return 0
}

// HoldBatchOwner returns the instance that wrote hold batch value v (either
// version; it points into v), or false when v does not say.
func HoldBatchOwner(v []byte) ([]byte, bool) {
	switch HoldBatchVersion(v) {
	case 2:
		o, _, ok := len16(v, len(holdBatchMagic))
		return o, ok
	case 1:
		o, _, ok := plainString(v, len(`{"o":`))
		return o, ok
	}
	return nil, false
}

var errHoldBatch2 = errors.New("hold batch (version 2) is malformed")

// ReadHoldBatch calls fn with each hold of version-2 batch value v, in
// order: the number's lease key and its held Lease record. key, l and l's
// strings and bytes point into v and into ReadHoldBatch's own variables:
// valid until fn returns. An item that is well formed but not a usable
// lease (Lease.Check) is skipped and counted in bad. It stops at the first
// malformed part with an error; the items before it have been passed.
func ReadHoldBatch(v []byte, fn func(key []byte, l *Lease)) (bad int, err error) {
	if HoldBatchVersion(v) != 2 {
		return 0, errHoldBatch2
	}
	owner, i, ok := len16(v, len(holdBatchMagic))
	if !ok || len(v)-i < 4 {
		return 0, errHoldBatch2
	}
	count := binary.LittleEndian.Uint32(v[i:])
	i += 4
	var prev [holdStrings][]byte
	var l Lease
	le := binary.LittleEndian
	for n := uint32(0); n < count; n++ {
		var key []byte
		if key, i, ok = len16(v, i); !ok || i+2 > len(v) {
			return bad, errHoldBatch2
		}
		mask := le.Uint16(v[i:])
		i += 2
		if mask>>holdStrings != 0 {
			return bad, errHoldBatch2
		}
		for k := range prev {
			if mask&(1<<k) != 0 {
				if prev[k], i, ok = len16(v, i); !ok {
					return bad, errHoldBatch2
				}
			}
		}
		if len(v)-i < holdFixed {
			return bad, errHoldBatch2
		}
		f := v[i : i+holdFixed]
		i += holdFixed
		r, m, b, sa := int(le.Uint16(f[46:])), int(le.Uint16(f[48:])), int(le.Uint16(f[50:])), int(le.Uint16(f[52:]))
		if len(v)-i < r+m+b+sa {
			return bad, errHoldBatch2
		}
		ids := v[i : i+r+m+b+sa]
		i += len(ids)
		str := func(k int) string { return jsonw.UnsafeString(prev[k]) }
		l = Lease{
			Owner: jsonw.UnsafeString(owner), Pool: str(0), State: LeaseHeld,
			Gen: le.Uint32(f[0:]), Flags: f[4], DeviceType: f[5],
			ReservedAt: int64(le.Uint64(f[6:])), PriceMicros: int64(le.Uint64(f[14:])),
			ClearingMicros: int64(le.Uint64(f[22:])), IPHash: le.Uint64(f[30:]), IFAHash: le.Uint64(f[38:]),
			Campaign: str(1), Publisher: str(2), Exchange: str(3), Skill: str(4), Creative: str(5),
			Currency: str(6), Country: str(7), Region: str(8),
			RequestID: ids[:r:r], ImpID: ids[r : r+m : r+m], BidID: ids[r+m : r+m+b : r+m+b],
			SiteOrApp: ids[r+m+b:],
		}
		if l.Check(Limits{}) != nil {
			bad++
			continue
		}
		fn(key, &l)
	}
	if i != len(v) {
		return bad, errHoldBatch2
	}
	return bad, nil
}

// len16 reads a u16 length and that many bytes at v[i].
func len16(v []byte, i int) ([]byte, int, bool) {
	if i+2 > len(v) {
		return nil, i, false
	}
	n := int(binary.LittleEndian.Uint16(v[i:]))
	i += 2
	if len(v)-i < n {
		return nil, i, false
	}
	return v[i : i+n : i+n], i + n, true
}
