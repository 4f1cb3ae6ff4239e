package bidder

import (
	"github.com/callbid/callbid/jsonw"
	"github.com/callbid/callbid/openrtb"
)

// maxFoldKey bounds the request strings looked up in campaign sets: a
// longer one matches nothing (no configured id is that long).
const maxFoldKey = 128

// reqKeys are the request's strings that campaign sets and multipliers are
// keyed by, case-folded once per request, then numbered (keyids.go). evalCampaign used to fold each
// into a stack buffer for every lookup, that is once per campaign and set
// (sixteen folds a request with configs/bench.yaml's three campaigns).
// A string that needs no folding is used as it is; the others are folded
// into buf. Valid during one decision (release clears them).
type reqKeys struct {
	pub, site, domain, bundle string // lower case
	country, region           string // upper case
	buf                       [6 * maxFoldKey]byte
}

// keyNeeds says which request keys some campaign of a snapshot reads
// (compileKeyNeeds); set folds only those, the others stay "".
type keyNeeds uint8

const (
	needPub keyNeeds = 1 << iota
	needSite
	needDomain
	needBundle
	needCountry
	needRegion
)

// compileKeyNeeds is the union of the keys campaigns look up: each bit is
// set under the same condition evalCampaign reads that key under.
func compileKeyNeeds(cs []*campaign) keyNeeds {
	var n keyNeeds
	for _, c := range cs {
		if c.pubBlock != nil || c.pubAllow != nil {
			n |= needPub | needSite | needDomain | needBundle
		}
		if len(c.pubMult) > 0 {
			n |= needPub
		}
		if c.domainMult != nil {
			n |= needDomain
		}
		if c.bundleMult != nil {
			n |= needBundle
		}
		if c.countries != nil || len(c.countryMult) > 0 {
			n |= needCountry
		}
		if c.regions != nil || len(c.regionMult) > 0 {
			n |= needRegion
		}
	}
	return n
}

func (k *reqKeys) set(req *openrtb.Request, need keyNeeds) {
	k.clear()
	b := k.buf[:0]
	if need&needPub != 0 {
		k.pub, b = foldKey(b, req.PublisherID, false)
	}
	if need&needSite != 0 {
		k.site, b = foldKey(b, req.SiteOrAppID, false)
	}
	if need&needDomain != 0 {
		k.domain, b = foldKey(b, req.Domain, false)
	}
	if need&needBundle != 0 {
		k.bundle, b = foldKey(b, req.Bundle, false)
	}
	if need&needCountry != 0 {
		k.country, b = foldKey(b, req.Device.Country, true)
	}
	if need&needRegion != 0 {
		k.region, _ = foldKey(b, req.Device.Region, true)
	}
}

func (k *reqKeys) clear() {
	k.pub, k.site, k.domain, k.bundle, k.country, k.region = "", "", "", "", "", ""
}

// foldKey returns s in lower (or upper) case ASCII, "" when s is empty or
// longer than maxFoldKey, appending the folded bytes to buf (whose capacity
// must hold them: it is never grown, the strings returned point into it).
func foldKey(buf []byte, s string, upper bool) (string, []byte) {
	if s == "" || len(s) > maxFoldKey {
		return "", buf
	}
	lo, hi := byte('A'), byte('Z')
	if upper {
		lo, hi = 'a', 'z'
	}
	i := 0
	for i < len(s) && (s[i] < lo || s[i] > hi) {
		i++
	}
	if i == len(s) {
		return s, buf
	}
	start := len(buf)
	buf = append(buf, s...)
	for j := start + i; j < len(buf); j++ {
		if c := buf[j]; c >= lo && c <= hi {
			buf[j] = c ^ 0x20
		}
	}
	return jsonw.UnsafeString(buf[start:]), buf
}

// keyed looks up a key folded by foldKey; "" is never found.
func keyed(m map[string]float64, k string) (float64, bool) {
	if k == "" {
		return 0, false
	}
	v, ok := m[k]
	return v, ok
}
