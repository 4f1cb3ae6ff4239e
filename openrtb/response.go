package openrtb

import (
	"math"
	"strconv"

	"github.com/callbid/callbid/jsonw"
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
	dst = jsonw.AppendString(dst, requestID)
	if bidID != "" {
		dst = append(dst, `,"bidid":`...)
		dst = jsonw.AppendString(dst, bidID)
	}
	if cur != "" {
		dst = append(dst, `,"cur":`...)
		dst = jsonw.AppendString(dst, cur)
	}
	dst = append(dst, `,"seatbid":[{`...)
	if seat != "" {
		dst = append(dst, `"seat":`...)
		dst = jsonw.AppendString(dst, seat)
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
	dst = jsonw.AppendString(dst, b.ID)
	dst = append(dst, `,"impid":`...)
	dst = jsonw.AppendString(dst, b.ImpID)
	dst = append(dst, `,"price":`...)
	dst = AppendPrice(dst, b.Price)
	dst = append(dst, `,"adm":`...)
	if b.AdMEscaped {
		dst = append(dst, '"')
		dst = append(dst, b.AdM...)
		dst = append(dst, '"')
	} else {
		dst = jsonw.AppendBytes(dst, b.AdM)
	}
	if b.ADomain != "" {
		dst = append(dst, `,"adomain":[`...)
		dst = jsonw.AppendString(dst, b.ADomain)
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
			dst = jsonw.AppendString(dst, c)
		}
		dst = append(dst, ']')
		dst = appendIntField(dst, `,"cattax":`, b.CatTax)
	}
	dst = append(dst, `,"cid":`...)
	dst = jsonw.AppendString(dst, b.CID)
	dst = append(dst, `,"crid":`...)
	dst = jsonw.AppendString(dst, b.CrID)
	if b.DealID != "" {
		dst = append(dst, `,"dealid":`...)
		dst = jsonw.AppendString(dst, b.DealID)
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
	return jsonw.AppendString(dst, s)
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
	dst = jsonw.AppendString(dst, requestID)
	dst = append(dst, `,"nbr":`...)
	dst = strconv.AppendUint(dst, uint64(nbr), 10)
	return append(dst, '}')
}
