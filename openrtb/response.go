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
	// URLsPlain says NURL, BURL and LURL need no JSON escaping (the bidder
	// builds them from a checked base URL, a base64url token and macros):
	// they are copied as they are.
	URLsPlain bool
	Exp       int
	// Cat are the ad's categories in taxonomy CatTax (1: IAB Content
	// Category Taxonomy 1.0); Bundle is the advertised app; AdID the
	// creative's id. Empty ones are left out.
	Cat    []string
	CatTax int
	Bundle string
	AdID   string
	// Fields, when not empty, is what AppendBidFields writes for ADomain,
	// Bundle, AdID, Cat, CatTax, CID and CrID, encoded once per creative
	// when the config is loaded: the response copies it instead of
	// escaping seven strings per bid, and those fields are not read.
	Fields string
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
	dst = appendResponseID(dst, requestID, bidID)
	dst = appendResponseHead(dst, cur, seat)
	return appendResponseBids(dst, bids)
}

// ResponseHead is what AppendResponse writes for a currency and seat, from
// ,"cur" to the bid array's opening bracket, encoded once by
// EncodeResponseHead (both come from config).
type ResponseHead string

// EncodeResponseHead encodes the head of responses in cur for seat.
func EncodeResponseHead(cur, seat string) ResponseHead {
	return ResponseHead(appendResponseHead(nil, cur, seat))
}

// AppendResponseHead is AppendResponse with cur and seat encoded once
// (EncodeResponseHead): the same bytes.
func AppendResponseHead(dst []byte, requestID, bidID string, head ResponseHead, bids []Bid) []byte {
	dst = appendResponseID(dst, requestID, bidID)
	dst = append(dst, head...)
	return appendResponseBids(dst, bids)
}

func appendResponseID(dst []byte, requestID, bidID string) []byte {
	dst = append(dst, `{"id":`...)
	dst = jsonw.AppendString(dst, requestID)
	if bidID != "" {
		dst = append(dst, `,"bidid":`...)
		dst = jsonw.AppendString(dst, bidID)
	}
	return dst
}

func appendResponseHead(dst []byte, cur, seat string) []byte {
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
	return append(dst, `"bid":[`...)
}

func appendResponseBids(dst []byte, bids []Bid) []byte {
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
	if b.Fields != "" {
		dst = append(dst, b.Fields...)
	} else {
		dst = AppendBidFields(dst, b.ADomain, b.Bundle, b.AdID, b.Cat, b.CatTax, b.CID, b.CrID)
	}
	if b.DealID != "" {
		dst = append(dst, `,"dealid":`...)
		dst = jsonw.AppendString(dst, b.DealID)
	}
	dst = appendIntField(dst, `,"mtype":`, b.MType)
	dst = appendIntField(dst, `,"w":`, b.W)
	dst = appendIntField(dst, `,"h":`, b.H)
	if b.URLsPlain {
		dst = appendPlainField(dst, `,"nurl":"`, b.NURL)
		dst = appendPlainField(dst, `,"burl":"`, b.BURL)
		dst = appendPlainField(dst, `,"lurl":"`, b.LURL)
	} else {
		dst = appendStringField(dst, `,"nurl":`, b.NURL)
		dst = appendStringField(dst, `,"burl":`, b.BURL)
		dst = appendStringField(dst, `,"lurl":`, b.LURL)
	}
	dst = appendIntField(dst, `,"exp":`, b.Exp)
	return append(dst, '}')
}

// AppendBidFields appends a bid's fields from adomain to crid as
// AppendResponse writes them (from a leading comma; empty adomain, bundle,
// adid and cat are left out, cattax with cat). Bid.Fields holds its output.
func AppendBidFields(dst []byte, adomain, bundle, adID string, cat []string, catTax int, cid, crid string) []byte {
	if adomain != "" {
		dst = append(dst, `,"adomain":[`...)
		dst = jsonw.AppendString(dst, adomain)
		dst = append(dst, ']')
	}
	dst = appendStringField(dst, `,"bundle":`, bundle)
	dst = appendStringField(dst, `,"adid":`, adID)
	if len(cat) > 0 {
		dst = append(dst, `,"cat":[`...)
		for i, c := range cat {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonw.AppendString(dst, c)
		}
		dst = append(dst, ']')
		dst = appendIntField(dst, `,"cattax":`, catTax)
	}
	dst = append(dst, `,"cid":`...)
	dst = jsonw.AppendString(dst, cid)
	dst = append(dst, `,"crid":`...)
	return jsonw.AppendString(dst, crid)
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

// appendPlainField writes key (with the value's opening quote) and s, which
// needs no escaping, unless s is empty.
func appendPlainField(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	dst = append(dst, key...)
	dst = append(dst, s...)
	return append(dst, '"')
}

// AppendPrice appends a CPM rounded to 6 decimals in its shortest form
// (2.75, not 2.7500000000000004). Negative or non-finite prices append 0.
func AppendPrice(dst []byte, p float64) []byte {
	if !(p > 0) || math.IsInf(p, 0) {
		return append(dst, '0')
	}
	m := math.Round(p * 1e6)
	if m >= 1e15 {
		return strconv.AppendFloat(dst, m/1e6, 'f', -1, 64)
	}
	// Under 10^15 micro-units a price has at most 15 significant digits, so
	// its shortest round-trip form is the decimal m/10^6 itself: write the
	// integer with the point put in, instead of strconv's shortest-float
	// search (TestAppendPriceMatchesStrconv checks they agree).
	return appendMicros(dst, uint64(m))
}

// appendMicros appends m/10^6 in decimal without trailing fraction zeros.
func appendMicros(dst []byte, m uint64) []byte {
	dst = strconv.AppendUint(dst, m/1e6, 10)
	frac := m % 1e6
	if frac == 0 {
		return dst
	}
	var b [7]byte
	b[0] = '.'
	for i := 6; i > 0; i-- {
		b[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 7
	for b[n-1] == '0' {
		n--
	}
	return append(dst, b[:n]...)
}

// AppendNoBidResponse appends {"id":…,"nbr":…} to dst.
func AppendNoBidResponse(dst []byte, requestID string, nbr NoBidReason) []byte {
	dst = append(dst, `{"id":`...)
	dst = jsonw.AppendString(dst, requestID)
	dst = append(dst, `,"nbr":`...)
	dst = strconv.AppendUint(dst, uint64(nbr), 10)
	return append(dst, '}')
}
