package openrtb

import "strings"

// MacroValues are the values of the OpenRTB substitution macros (2.6 §4.4),
// already formatted as the exchange would write them. An empty field
// expands to the empty string, as the spec requires for missing data.
type MacroValues struct {
	AuctionID string // ${AUCTION_ID}: BidRequest.id
	ImpID     string // ${AUCTION_IMP_ID}
	BidID     string // ${AUCTION_BID_ID}: BidResponse.bidid
	SeatID    string // ${AUCTION_SEAT_ID}
	AdID      string // ${AUCTION_AD_ID}: bid.adid
	Price     string // ${AUCTION_PRICE}: clearing price, in the bid's currency
	Currency  string // ${AUCTION_CURRENCY}
	MBR       string // ${AUCTION_MBR}: clearing price / bid price
	Loss      string // ${AUCTION_LOSS}: loss reason code
	MinToWin  string // ${AUCTION_MIN_TO_WIN}
}

// ExpandMacros appends s to dst with every known ${AUCTION_…} macro
// replaced by its value from v (nil v expands them all to ""). Unknown
// macros, including ones with an encoding suffix such as
// ${AUCTION_PRICE:B64}, are copied unchanged: their meaning is agreed per
// exchange.
func ExpandMacros(dst []byte, s string, v *MacroValues) []byte {
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		s = s[i:]
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return append(dst, s...)
		}
		val, ok := macroValue(s[2:j], v)
		if !ok {
			// Copy "${" and go on after it, so a macro nested in an unknown one
			// is still found.
			dst = append(dst, s[:2]...)
			s = s[2:]
			continue
		}
		dst = append(dst, val...)
		s = s[j+1:]
	}
}

func macroValue(name string, v *MacroValues) (string, bool) {
	if v == nil {
		v = &MacroValues{}
	}
	switch name {
	case "AUCTION_ID":
		return v.AuctionID, true
	case "AUCTION_IMP_ID":
		return v.ImpID, true
	case "AUCTION_BID_ID":
		return v.BidID, true
	case "AUCTION_SEAT_ID":
		return v.SeatID, true
	case "AUCTION_AD_ID":
		return v.AdID, true
	case "AUCTION_PRICE":
		return v.Price, true
	case "AUCTION_CURRENCY":
		return v.Currency, true
	case "AUCTION_MBR":
		return v.MBR, true
	case "AUCTION_LOSS":
		return v.Loss, true
	case "AUCTION_MIN_TO_WIN":
		return v.MinToWin, true
	}
	return "", false
}
