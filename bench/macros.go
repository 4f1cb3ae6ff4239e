package bench

import (
	"encoding/base64"
	"strings"
)

// Macros are the OpenRTB 2.6 §4.4 substitution values an exchange knows
// when it fires a notice.
type Macros struct {
	AuctionID, BidID, ImpID, SeatID, AdID, Price, Currency, MBR, Loss, MinToWin string
}

// Expand replaces ${AUCTION_…} macros in s the way an exchange does: plain
// text replacement, an empty string for a known macro without data, a
// ":B64" suffix for base64url, and unknown macros left as they are.
func Expand(s string, m *Macros) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		name := s[i+2 : i+j]
		b64 := false
		if n, ok := strings.CutSuffix(name, ":B64"); ok {
			name, b64 = n, true
		}
		v, known := m.value(name)
		b.WriteString(s[:i])
		switch {
		case !known:
			b.WriteString(s[i : i+j+1])
		case b64:
			b.WriteString(base64.URLEncoding.EncodeToString([]byte(v)))
		default:
			b.WriteString(v)
		}
		s = s[i+j+1:]
	}
	b.WriteString(s)
	return b.String()
}

func (m *Macros) value(name string) (string, bool) {
	switch name {
	case "AUCTION_ID":
		return m.AuctionID, true
	case "AUCTION_BID_ID":
		return m.BidID, true
	case "AUCTION_IMP_ID":
		return m.ImpID, true
	case "AUCTION_SEAT_ID":
		return m.SeatID, true
	case "AUCTION_AD_ID":
		return m.AdID, true
	case "AUCTION_PRICE":
		return m.Price, true
	case "AUCTION_CURRENCY":
		return m.Currency, true
	case "AUCTION_MBR":
		return m.MBR, true
	case "AUCTION_LOSS":
		return m.Loss, true
	case "AUCTION_MIN_TO_WIN":
		return m.MinToWin, true
	case "AUCTION_MULTIPLIER", "AUCTION_IMP_TS", "AUCTION_DISCOUNT_PCT", "AUCTION_DISCOUNT_CPM":
		return "", true
	}
	return "", false
}

// PhoneFromAdm finds the tracking number in ad markup: the first tel: URI
// (with its ;ext=), else the first E.164-looking string (a native phone data
// asset). ok is false when there is none.
func PhoneFromAdm(adm string) (e164, ext string, ok bool) {
	if i := strings.Index(adm, "tel:"); i >= 0 {
		e164 = e164At(adm[i+4:])
		if e164 != "" {
			rest := adm[i+4+len(e164):]
			if strings.HasPrefix(rest, ";ext=") {
				ext = digitsAt(rest[5:])
			}
			return e164, ext, true
		}
	}
	for i := 0; i < len(adm); i++ {
		if adm[i] == '+' {
			if n := e164At(adm[i:]); n != "" {
				rest := adm[i+len(n):]
				if strings.HasPrefix(rest, ";ext=") {
					ext = digitsAt(rest[5:])
				}
				return n, ext, true
			}
		}
	}
	return "", "", false
}

// e164At returns the E.164 number (+ and 8 to 15 digits) at the start of s.
func e164At(s string) string {
	if len(s) < 2 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return ""
	}
	d := digitsAt(s[1:])
	if len(d) < 8 || len(d) > 15 {
		return ""
	}
	return s[:1+len(d)]
}

func digitsAt(s string) string {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return s[:n]
}
