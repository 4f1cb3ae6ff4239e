package openrtb

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Bid is one bid to encode. AdM is the markup, already rendered; it is
// JSON-escaped here unless AdMEscaped says it already is (Template.AppendJSON).
type Bid struct {
	ID         string
	ImpID      string
	Price      float64 // CPM in the response currency
	AdM        []byte
	AdMEscaped bool
	ADomain    string
	CID        string
	CrID       string
	DealID     string
	MType      int // 1 banner, 4 native
	W, H       int
	NURL       string
	BURL       string
	LURL       string
	Exp        int
	// Cat are the ad's categories in taxonomy CatTax (1: IAB Content
	// Category Taxonomy 1.0); Bundle is the advertised app; AdID the
	// creative's id. Empty ones are left out.
	Cat    []string
	CatTax int
	Bundle string
	AdID   string
}

// AppendResponse appends a BidResponse JSON with one seatbid to dst:
// {"id","bidid","cur","seatbid":[{"seat","bid":[…]}]}. Empty bidid, cur and
// seat are left out (cur then means USD), as are a bid's empty optional
// fields (adomain, bundle, adid, cat, dealid, nurl, burl, lurl) and zero
// mtype, w, h, exp and cattax.
// Strings are JSON-escaped; adm is written as a JSON string. Prices are
// rounded to 6 decimals (micro-units of the currency per mille), and a price
// that is negative or not finite is written as 0: that is a bug upstream,
// and 0 is a bid no exchange lets win.
func AppendResponse(dst []byte, requestID, bidID, cur, seat string, bids []Bid) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, requestID)
	if bidID != "" {
		dst = append(dst, `,"bidid":`...)
		dst = appendJSONString(dst, bidID)
	}
	if cur != "" {
		dst = append(dst, `,"cur":`...)
		dst = appendJSONString(dst, cur)
	}
	dst = append(dst, `,"seatbid":[{`...)
	if seat != "" {
		dst = append(dst, `"seat":`...)
		dst = appendJSONString(dst, seat)
		dst = append(dst, ',')
	}
	dst = append(dst, `"bid":[`...)
	for i := range bids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendBid(dst, &bids[i])
	}
	return append(dst, "]}]}"...)
}

func appendBid(dst []byte, b *Bid) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, b.ID)
	dst = append(dst, `,"impid":`...)
	dst = appendJSONString(dst, b.ImpID)
	dst = append(dst, `,"price":`...)
	dst = AppendPrice(dst, b.Price)
	dst = append(dst, `,"adm":`...)
	if b.AdMEscaped {
		dst = append(dst, '"')
		dst = append(dst, b.AdM...)
		dst = append(dst, '"')
	} else {
		dst = appendJSONBytes(dst, b.AdM)
	}
	if b.ADomain != "" {
		dst = append(dst, `,"adomain":[`...)
		dst = appendJSONString(dst, b.ADomain)
		dst = append(dst, ']')
	}
	dst = appendStringField(dst, `,"bundle":`, b.Bundle)
	dst = appendStringField(dst, `,"adid":`, b.AdID)
	if len(b.Cat) > 0 {
		dst = append(dst, `,"cat":[`...)
		for i, c := range b.Cat {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, c)
		}
		dst = append(dst, ']')
		dst = appendIntField(dst, `,"cattax":`, b.CatTax)
	}
	dst = append(dst, `,"cid":`...)
	dst = appendJSONString(dst, b.CID)
	dst = append(dst, `,"crid":`...)
	dst = appendJSONString(dst, b.CrID)
	if b.DealID != "" {
		dst = append(dst, `,"dealid":`...)
		dst = appendJSONString(dst, b.DealID)
	}
	dst = appendIntField(dst, `,"mtype":`, b.MType)
	dst = appendIntField(dst, `,"w":`, b.W)
	dst = appendIntField(dst, `,"h":`, b.H)
	dst = appendStringField(dst, `,"nurl":`, b.NURL)
	dst = appendStringField(dst, `,"burl":`, b.BURL)
	dst = appendStringField(dst, `,"lurl":`, b.LURL)
	dst = appendIntField(dst, `,"exp":`, b.Exp)
	return append(dst, '}')
}

func appendIntField(dst []byte, key string, n int) []byte {
	if n == 0 {
		return dst
	}
	dst = append(dst, key...)
	return strconv.AppendInt(dst, int64(n), 10)
}

func appendStringField(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	dst = append(dst, key...)
	return appendJSONString(dst, s)
}

// AppendPrice appends a CPM rounded to 6 decimals in its shortest form
// (2.75, not 2.7500000000000004). Negative or non-finite prices append 0.
func AppendPrice(dst []byte, p float64) []byte {
	if !(p > 0) || math.IsInf(p, 0) {
		return append(dst, '0')
	}
	return strconv.AppendFloat(dst, math.Round(p*1e6)/1e6, 'f', -1, 64)
}

// AppendNoBidResponse appends {"id":…,"nbr":…} to dst.
func AppendNoBidResponse(dst []byte, requestID string, nbr NoBidReason) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, requestID)
	dst = append(dst, `,"nbr":`...)
	dst = strconv.AppendUint(dst, uint64(nbr), 10)
	return append(dst, '}')
}

// AppendJSONString appends s as a JSON string literal: quotes, backslashes
// and control characters escaped, U+2028/U+2029 escaped (so the JSON is also
// safe inside a script), invalid UTF-8 replaced by U+FFFD.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONStringBody(dst, s)
	return append(dst, '"')
}

// appendJSONStringBody appends s escaped as the inside of a JSON string.
func appendJSONStringBody(dst []byte, s string) []byte {
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

// appendJSONBytes is appendJSONString for a []byte without converting it.
func appendJSONBytes(dst []byte, b []byte) []byte {
	return appendJSONString(dst, b2s(b))
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
