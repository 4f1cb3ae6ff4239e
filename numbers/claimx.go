package numbers

import (
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/jsonw"
)

// The attribution details beyond the impression ids: creative, currency,
// geo, device type and the clearing price. They ride in the entry (fixed
// size, no allocation on the bid path) and in the lease record, and come out
// in the /v1/calls answer and callbid.attribution.v1.

// geoLen is the room for country (3 bytes, ISO-3166-1 alpha-3) and region
// (up to 6 bytes, the subdivision part of ISO-3166-2) in an entry; longer or
// non-printable values are not kept.
const (
	countryLen = 3
	regionLen  = 6
)

type geoBytes [countryLen + regionLen]byte

// putGeo stores country and region, NUL-padded.
func putGeo(g *geoBytes, country, region string) {
	*g = geoBytes{}
	if len(country) <= countryLen && printable(country) {
		copy(g[:countryLen], country)
	}
	if len(region) <= regionLen && printable(region) {
		copy(g[countryLen:], region)
	}
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\\' {
			return false
		}
	}
	return true
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

func (g *geoBytes) country() []byte { return trimNUL(g[:countryLen]) }
func (g *geoBytes) region() []byte  { return trimNUL(g[countryLen:]) }

// setClaimExtra copies the claim's details beyond the ids into e; the
// caller holds the entry's shard lock. The clearing price is unknown until
// a notice tells it.
func (p *Pools) setClaimExtra(s *shard, e *entry, c *Claim) {
	e.creative = cachedID(p.ids, &s.lastCreative, c.CreativeID)
	e.cur = uint16(cachedID(p.small, &s.lastCur, c.Currency))
	e.devType = c.DeviceType
	putGeo(&e.geo, c.Country, c.Region)
	e.clearing = 0
}

// SetClearing records the clearing price (CPM micros in the bid currency)
// a win or billing notice reported for reservation ref, for the call
// attribution. A billing notice's price wins over a win notice's. It reports
// whether ref is the entry's current reservation; call it before Win or
// Bill, so the lease record they write carries the price.
func (p *Pools) SetClearing(ref Ref, micros int64, billed bool) bool {
	idx, gen := uint32(ref>>32), uint32(ref)
	if idx == fallbackIdx || int64(idx) >= int64(len(p.entries)) || micros < 0 {
		return false
	}
	i := int32(idx)
	s := p.shardOf(p.poolOf(i), i)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &p.entries[i]
	if e.gen != gen || e.flags&fData == 0 {
		return false
	}
	if billed || e.flags&fBillCP == 0 {
		e.clearing = micros
	}
	if billed {
		e.flags |= fBillCP
	}
	return true
}

// leaseExtra fills the details of a lease record (crid, cur, cc, rg, dt,
// cp).
func (p *Pools) leaseExtra(l *events.Lease, e *entry) {
	l.Creative, l.Currency = p.ids.name(e.creative), p.small.name(uint32(e.cur))
	// Views of the entry's bytes: l does not outlive the caller's shard lock.
	l.Country, l.Region = jsonw.UnsafeString(e.geo.country()), jsonw.UnsafeString(e.geo.region())
	l.DeviceType, l.ClearingMicros = e.devType, e.clearing
}

// holdExtra is leaseExtra for a hold batch item.
func (p *Pools) holdExtra(h *events.Hold, e *entry) {
	h.Creative, h.Currency = p.ids.name(e.creative), p.small.name(uint32(e.cur))
	h.Country, h.Region = jsonw.UnsafeString(e.geo.country()), jsonw.UnsafeString(e.geo.region())
	h.DeviceType, h.ClearingMicros = e.devType, e.clearing
}

// replayClaimExtra reads the details back from a lease record.
func (p *Pools) replayClaimExtra(e *entry, v *events.Lease) {
	e.creative = p.ids.id(v.Creative)
	e.cur = uint16(p.small.id(v.Currency))
	putGeo(&e.geo, v.Country, v.Region)
	e.devType = v.DeviceType
	e.clearing = max(v.ClearingMicros, 0)
}
