package openrtb

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"unsafe"

	"github.com/prebid/openrtb/v20/adcom1"
)

// Sanity limits. A request beyond them is answered 400: no exchange sends
// such requests, and bounding them bounds the work one request can cause.
const (
	// MaxRequestSize is the largest body Decode accepts, in bytes. The HTTP
	// layer should refuse larger bodies first (413).
	MaxRequestSize = 1 << 20
	// MaxImps is the most impressions one request may carry.
	MaxImps = 256
	// pooledMax: a Decoder that decoded a larger body is not pooled, so one
	// outsized request does not pin its buffer in every pooled Decoder.
	pooledMax = 64 << 10
)

// Decoder decodes bid requests without allocating in steady state. It
// scans the body once, reads only the fields callbid decides on (see
// Request) and validates them, and skips everything else without building
// values (see scanner for how strictly skipped parts are checked). Get one
// with AcquireDecoder and give it back with ReleaseDecoder; a Decoder
// belongs to one goroutine at a time.
type Decoder struct {
	s   scanner
	buf []byte // the copy of the body the Request's strings point into
	req Request
	err error

	arena []byte // the joined keywords
	big   bool   // last body was over pooledMax

	// per-Decode scratch
	invMask    uint8 // bit per Inventory seen
	idSeen     bool
	impSeen    bool
	devGeoSeen bool
	userGeo    geo
	kw         [6][]string // keywords/kwarray strings in join order
	formats    []Format    // banner.format[] until banner.w/h are known
}

type geo struct{ country, region, metro, city, zip string }

var decoderPool sync.Pool

// AcquireDecoder takes a Decoder from the pool.
func AcquireDecoder() *Decoder {
	if d, ok := decoderPool.Get().(*Decoder); ok {
		return d
	}
	return &Decoder{}
}

// ReleaseDecoder returns d to the pool; the Request it returned is invalid
// after, and so is every string in it.
func ReleaseDecoder(d *Decoder) {
	if d == nil || d.big {
		return
	}
	d.err = nil
	decoderPool.Put(d)
}

// Decode parses and validates body. A returned error wraps ErrMalformed and
// reads as a sentence naming the field ("imp[1].id: missing"); the exchange
// gets 400 with an empty body.
//
// The Request and all its strings are views into memory d owns: they stay
// valid until ReleaseDecoder(d) or the next Decode on d, and anything kept
// longer must be copied. body itself is not retained.
//
// A valid request is valid JSON (the parts callbid does not read included)
// with a non-empty id, at least one imp, every imp with a
// non-empty id unique within the request, and exactly one of site, app or
// dooh: a request with none of them is as invalid as one with two. Fields
// callbid reads must have their OpenRTB JSON types (a string id, an array
// imp, a number tmax, …); 0/1 flags may also be JSON booleans and null
// counts as absent. Unknown fields and unknown enum values are tolerated.
// The 2.5 ext locations (regs.ext.gdpr, regs.ext.us_privacy,
// user.ext.consent, source.ext.schain, imp.ext.prebid.is_rewarded_inventory)
// are read leniently, because ext content is exchange-defined: a value of
// the wrong type counts as absent. When both the 2.6 field and its 2.5 ext
// twin are present, the 2.6 field wins. A repeated key: the last one wins.
// An imp.native.request string that cannot be parsed leaves the imp's
// native asset fields empty instead of failing the request (the bidder then
// has nothing to bid on there).
//
// When a body has both a wrong-typed field and a syntax error later on, the
// error names the field: the scan stops at the first problem.
func (d *Decoder) Decode(body []byte) (*Request, error) {
	d.reset()
	d.big = len(body) > pooledMax
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: request: empty body", ErrMalformed)
	}
	if len(body) > MaxRequestSize {
		return nil, fmt.Errorf("%w: request: %d bytes exceed the limit of %d", ErrMalformed, len(body), MaxRequestSize)
	}
	d.buf = append(d.buf[:0], body...)
	s := &d.s
	s.reset(d.buf)
	if c := s.peek(); c != '{' {
		// Validate first, so "[[[…" reads as bad JSON, not as a wrong type.
		s.skip()
		if s.ok() {
			s.ws()
			if s.i < len(s.b) {
				s.syntax("unexpected data after the top-level value")
			}
		}
		if s.ok() {
			return nil, fmt.Errorf("%w: request: want a JSON object, got %s", ErrMalformed, typeName(c))
		}
		return nil, d.syntaxErr()
	}
	d.decodeRequest()
	if d.err == nil && s.ok() {
		s.ws()
		if s.i < len(s.b) {
			s.syntax("unexpected data after the top-level value")
		}
	}
	if !s.ok() {
		return nil, d.syntaxErr()
	}
	if d.err == nil {
		d.finish()
	}
	if d.err != nil {
		return nil, d.err
	}
	return &d.req, nil
}

func (d *Decoder) syntaxErr() error {
	return fmt.Errorf("%w: request: not valid JSON (%s at offset %d)", ErrMalformed, d.s.msg, d.s.off)
}

func (d *Decoder) reset() {
	r := &d.req
	*r = Request{
		Imps:  r.Imps[:0],
		Cur:   r.Cur[:0],
		BCat:  r.BCat[:0],
		BAdv:  r.BAdv[:0],
		BApp:  r.BApp[:0],
		WSeat: r.WSeat[:0],
		BSeat: r.BSeat[:0],
		Cats:  r.Cats[:0],
		Regs:  Regs{GPPSID: r.Regs.GPPSID[:0]},
	}
	r.Regs.GDPR = -1
	r.Source.SChainComplete = -1
	d.err = nil
	d.arena = d.arena[:0]
	d.invMask = 0
	d.idSeen, d.impSeen, d.devGeoSeen = false, false, false
	d.userGeo = geo{}
	for i := range d.kw {
		d.kw[i] = d.kw[i][:0]
	}
}

// ok reports whether decoding should go on: no semantic and no syntax
// error so far.
func (d *Decoder) ok() bool { return d.err == nil && !d.s.bad }

// finish applies the checks that need the whole request.
func (d *Decoder) finish() {
	r := &d.req
	switch {
	case !d.idSeen:
		d.fail("id: missing")
		return
	case r.ID == "":
		d.fail("id: empty")
		return
	case !d.impSeen:
		d.fail("imp: missing")
		return
	case len(r.Imps) == 0:
		d.fail("imp: empty; at least one impression is required")
		return
	}
	for i := 1; i < len(r.Imps); i++ {
		for j := 0; j < i; j++ {
			if r.Imps[i].ID == r.Imps[j].ID {
				d.fail("imp[%d].id: %q repeats imp[%d].id", i, r.Imps[i].ID, j)
				return
			}
		}
	}
	switch d.invMask {
	case 0:
		d.fail("request: none of site, app or dooh; exactly one is required")
		return
	case 1 << InventorySite, 1 << InventoryApp, 1 << InventoryDOOH:
	default:
		d.fail("request: %s; exactly one of site, app or dooh is allowed", inventoryList(d.invMask))
		return
	}
	if !d.devGeoSeen {
		g := d.userGeo
		dv := &r.Device
		dv.Country, dv.Region, dv.Metro, dv.City, dv.Zip = g.country, g.region, g.metro, g.city, g.zip
	}
	d.joinKeywords()
}

func inventoryList(mask uint8) string {
	switch mask {
	case 1<<InventorySite | 1<<InventoryApp:
		return "site and app are both present"
	case 1<<InventorySite | 1<<InventoryDOOH:
		return "site and dooh are both present"
	case 1<<InventoryApp | 1<<InventoryDOOH:
		return "app and dooh are both present"
	}
	return "site, app and dooh are all present"
}

func (d *Decoder) joinKeywords() {
	start := len(d.arena)
	for _, part := range d.kw {
		for _, s := range part {
			if s == "" {
				continue
			}
			if len(d.arena) > start {
				d.arena = append(d.arena, ',')
			}
			d.arena = append(d.arena, s...)
		}
	}
	d.req.Keywords = b2s(d.arena[start:])
}

// fail records the first error; every later step checks d.ok() and stops.
func (d *Decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

// typeErr records that the value at the scanner has the wrong type. path
// is a format with args; the message is only built on failure, so the
// good path does not allocate. A byte that starts no JSON value is a
// syntax error instead.
func (d *Decoder) typeErr(want string, p path) {
	got := typeName(d.s.peek())
	if got == "" {
		d.s.syntax("unexpected character")
		return
	}
	d.fail("%s: want %s, got %s", p, want, got)
}

// path names a field for error messages: a format with up to two %d and
// two %s verbs, filled from i, j and s, t in order. It is passed by value
// and only rendered on failure, so naming fields costs nothing on the good
// path (a variadic ...any would allocate at every call).
type path struct {
	f    string
	i, j int
	s, t string
}

func (p path) String() string {
	var b []byte
	ints, strs := [2]int{p.i, p.j}, [2]string{p.s, p.t}
	ni, ns := 0, 0
	for k := 0; k < len(p.f); k++ {
		if p.f[k] == '%' && k+1 < len(p.f) {
			switch p.f[k+1] {
			case 'd':
				b = strconv.AppendInt(b, int64(ints[ni%2]), 10)
				ni++
				k++
				continue
			case 's':
				b = append(b, strs[ns%2]...)
				ns++
				k++
				continue
			}
		}
		b = append(b, p.f[k])
	}
	return string(b)
}

func p0(f string) path               { return path{f: f} }
func pi(f string, i int) path        { return path{f: f, i: i} }
func pij(f string, i, j int) path    { return path{f: f, i: i, j: j} }
func ps(f string, s string) path     { return path{f: f, s: s} }
func pss(f string, s, t string) path { return path{f: f, s: s, t: t} }

// open opens a container value of a field where null means absent: true
// when the value starts with c ('{' or '[', consumed), false for null
// (consumed) and for any other type (the error, "want <want>", recorded).
func (d *Decoder) open(c byte, want string, p path) bool {
	s := &d.s
	switch s.peek() {
	case c:
		s.enter()
		return true
	case 'n':
		s.lit("null")
		return false
	}
	d.typeErr(want, p)
	return false
}

// object opens an object value (see open).
func (d *Decoder) object(p path) bool { return d.open('{', "an object", p) }

// array opens an array value (see open).
func (d *Decoder) array(p path) bool { return d.open('[', "an array", p) }

// field reads the next key of the object being read into k: false at the
// object's end and after any error, so the loop
//
//	for n, k := 0, ""; d.field(&n, &k); { switch k { … } }
//
// visits every field and stops at the first problem.
func (d *Decoder) field(n *int, k *string) bool {
	if d.err != nil {
		return false
	}
	var ok bool
	*k, ok = d.s.nextKey(n)
	return ok
}

// str reads a string field (null is "").
func (d *Decoder) str(dst *string, p path) {
	v, ok := d.s.readStr()
	if !ok {
		d.typeErr("a string", p)
		return
	}
	*dst = v
}

// strs appends the strings of an array field to dst; null appends
// nothing, and so do null elements ("" elements are kept).
func (d *Decoder) strs(dst []string, p path) []string {
	s := &d.s
	at := s.i
	if !d.open('[', "an array of strings", p) {
		return dst
	}
	for n := 0; s.next(&n, ']'); {
		v, ok := s.readStr()
		if !ok {
			if typeName(s.peek()) == "" {
				s.syntax("unexpected character")
				return dst
			}
			s.i = at
			d.typeErr("an array of strings", p)
			return dst
		}
		dst = append(dst, v)
	}
	return dst
}

// int8s appends the integers of an array field to dst; null appends
// nothing, a null element reads as 0 (as encoding/json reads it), and an
// element outside int8 (no GPP section id is) is dropped.
func (d *Decoder) int8s(dst []int8, p path) []int8 {
	s := &d.s
	if !d.open('[', "an array of integers", p) {
		return dst
	}
	for n := 0; d.ok() && s.next(&n, ']'); {
		v, ok := s.readInt()
		if !ok {
			d.typeErr("an integer", pi(p.f+"[%d]", n-1))
			return dst
		}
		if v >= math.MinInt8 && v <= math.MaxInt8 {
			dst = append(dst, int8(v))
		}
	}
	return dst
}

func (d *Decoder) integer(p path) int64 {
	n, ok := d.s.readInt()
	if !ok {
		d.typeErr("an integer", p)
	}
	return n
}

func (d *Decoder) flag(p path) bool {
	v, ok := d.s.readFlag()
	if !ok {
		d.typeErr("0 or 1", p)
	}
	return v
}

// floor reads a non-negative finite number.
func (d *Decoder) floor(p path) float64 {
	f, ok := d.s.readFloat()
	switch {
	case !ok:
		d.typeErr("a finite number", p)
	case f < 0:
		d.fail("%s: %v is negative", p, f)
	}
	return f
}

func (d *Decoder) decodeRequest() {
	r := &d.req
	s := &d.s
	s.enter()
	for n, k := 0, ""; d.field(&n, &k); {
		switch k {
		case "id":
			d.idSeen = s.peek() != 'n'
			d.str(&r.ID, p0("id"))
		case "imp":
			d.decodeImps()
		case "tmax":
			r.TMax = d.integer(p0("tmax"))
			if d.ok() && r.TMax < 0 {
				d.fail("tmax: %d is negative", r.TMax)
			}
		case "at":
			r.AT = int(d.integer(p0("at")))
		case "test":
			r.Test = d.flag(p0("test"))
		case "cur":
			r.Cur = d.strs(r.Cur[:0], p0("cur"))
		case "bcat":
			r.BCat = d.strs(r.BCat[:0], p0("bcat"))
		case "badv":
			r.BAdv = d.strs(r.BAdv[:0], p0("badv"))
		case "bapp":
			r.BApp = d.strs(r.BApp[:0], p0("bapp"))
		case "wseat":
			r.WSeat = d.strs(r.WSeat[:0], p0("wseat"))
		case "bseat":
			r.BSeat = d.strs(r.BSeat[:0], p0("bseat"))
		case "site":
			d.decodeInventory(InventorySite, "site")
		case "app":
			d.decodeInventory(InventoryApp, "app")
		case "dooh":
			d.decodeInventory(InventoryDOOH, "dooh")
		case "device":
			d.decodeDevice()
		case "user":
			d.decodeUser()
		case "regs":
			d.decodeRegs()
		case "source":
			d.decodeSource()
		default:
			s.skip()
		}
	}
}

func (d *Decoder) decodeInventory(kind Inventory, name string) {
	if !d.object(p0(name)) {
		return
	}
	d.invMask |= 1 << kind
	r := &d.req
	r.Inventory = kind
	s := &d.s
	for n, k := 0, ""; d.field(&n, &k); {
		switch k {
		case "id":
			d.str(&r.SiteOrAppID, ps("%s.id", name))
		case "domain":
			d.str(&r.Domain, ps("%s.domain", name))
		case "bundle":
			if kind == InventoryApp {
				d.str(&r.Bundle, ps("%s.bundle", name))
			} else {
				s.skip()
			}
		case "page":
			if kind == InventorySite {
				d.str(&r.Page, ps("%s.page", name))
			} else {
				s.skip()
			}
		case "cat", "sectioncat", "pagecat":
			r.Cats = d.strs(r.Cats, pss("%s.%s", name, k))
		case "keywords":
			d.keywords(0, ps("%s.keywords", name))
		case "kwarray":
			d.kw[1] = d.strs(d.kw[1][:0], ps("%s.kwarray", name))
		case "publisher":
			if !d.object(ps("%s.publisher", name)) {
				break
			}
			for n, k := 0, ""; d.field(&n, &k); {
				if k == "id" {
					d.str(&r.PublisherID, ps("%s.publisher.id", name))
				} else {
					s.skip()
				}
			}
		case "content":
			if !d.object(ps("%s.content", name)) {
				break
			}
			for n, k := 0, ""; d.field(&n, &k); {
				switch k {
				case "keywords":
					d.keywords(2, ps("%s.content.keywords", name))
				case "kwarray":
					d.kw[3] = d.strs(d.kw[3][:0], ps("%s.content.kwarray", name))
				default:
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
}

// keywords reads a keywords string into slot.
func (d *Decoder) keywords(slot int, p path) {
	var v string
	d.str(&v, p)
	d.kw[slot] = append(d.kw[slot][:0], v)
}

func (d *Decoder) decodeDevice() {
	if !d.object(p0("device")) {
		return
	}
	dv := &d.req.Device
	s := &d.s
	for n, k := 0, ""; d.field(&n, &k); {
		switch k {
		case "devicetype":
			if t := d.integer(p0("device.devicetype")); t >= math.MinInt8 && t <= math.MaxInt8 {
				dv.Type = adcom1.DeviceType(t)
			}
		case "ip":
			d.str(&dv.IP, p0("device.ip"))
		case "ipv6":
			d.str(&dv.IPv6, p0("device.ipv6"))
		case "ifa":
			d.str(&dv.IFA, p0("device.ifa"))
		case "ua":
			d.str(&dv.UA, p0("device.ua"))
		case "lmt":
			dv.LMT = d.flag(p0("device.lmt"))
		case "geo":
			var g geo
			if d.decodeGeo("device.geo", &g) {
				d.devGeoSeen = true
				dv.Country, dv.Region, dv.Metro, dv.City, dv.Zip = g.country, g.region, g.metro, g.city, g.zip
			}
		default:
			s.skip()
		}
	}
}

// decodeGeo reports whether the value was a geo object.
func (d *Decoder) decodeGeo(name string, g *geo) bool {
	if !d.object(p0(name)) {
		return false
	}
	s := &d.s
	for n, k := 0, ""; d.field(&n, &k); {
		var dst *string
		switch k {
		case "country":
			dst = &g.country
		case "region":
			dst = &g.region
		case "metro":
			dst = &g.metro
		case "city":
			dst = &g.city
		case "zip":
			dst = &g.zip
		default:
			s.skip()
			continue
		}
		d.str(dst, pss("%s.%s", name, k))
	}
	return d.ok()
}

func (d *Decoder) decodeUser() {
	if !d.object(p0("user")) {
		return
	}
	u := &d.req.User
	consent26 := false
	var extConsent string
	s := &d.s
	for n, k := 0, ""; d.field(&n, &k); {
		switch k {
		case "id":
			d.str(&u.ID, p0("user.id"))
		case "buyeruid":
			d.str(&u.BuyerUID, p0("user.buyeruid"))
		case "consent":
			consent26 = s.peek() != 'n'
			d.str(&u.Consent, p0("user.consent"))
		case "keywords":
			d.keywords(4, p0("user.keywords"))
		case "kwarray":
			d.kw[5] = d.strs(d.kw[5][:0], p0("user.kwarray"))
		case "geo":
			d.userGeo = geo{}
			d.decodeGeo("user.geo", &d.userGeo)
		case "ext":
			if !s.openObject() {
				s.skip()
				break
			}
			for n, k := 0, ""; s.member(&n, &k); {
				if k == "consent" {
					extConsent = s.lenientStr()
				} else {
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
	if !consent26 {
		u.Consent = extConsent
	}
}

func (d *Decoder) decodeRegs() {
	if !d.object(p0("regs")) {
		return
	}
	rg := &d.req.Regs
	gdpr26, usp26 := false, false
	extGDPR := int8(-1)
	var extUSP string
	s := &d.s
	for n, k := 0, ""; d.field(&n, &k); {
		switch k {
		case "coppa":
			rg.COPPA = d.flag(p0("regs.coppa"))
		case "gdpr":
			if s.peek() == 'n' {
				s.lit("null")
				break
			}
			n, ok := s.readInt()
			if !ok {
				d.typeErr("0 or 1", p0("regs.gdpr"))
			}
			rg.GDPR, gdpr26 = gdprValue(n), true
		case "us_privacy":
			usp26 = s.peek() != 'n'
			d.str(&rg.USPrivacy, p0("regs.us_privacy"))
		case "gpp":
			d.str(&rg.GPP, p0("regs.gpp"))
		case "gpp_sid":
			rg.GPPSID = d.int8s(rg.GPPSID[:0], p0("regs.gpp_sid"))
		case "ext":
			if !s.openObject() {
				s.skip()
				break
			}
			for n, k := 0, ""; s.member(&n, &k); {
				switch k {
				case "gdpr":
					if n, ok := s.lenientInt(); ok {
						extGDPR = gdprValue(n)
					} else {
						extGDPR = -1
					}
				case "us_privacy":
					extUSP = s.lenientStr()
				default:
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
	if !gdpr26 {
		rg.GDPR = extGDPR
	}
	if !usp26 {
		rg.USPrivacy = extUSP
	}
}

// gdprValue maps regs.gdpr to -1 unknown, 0 or 1. Values other than 0 and 1
// are unknown enum values: tolerated, and treated as "unknown".
func gdprValue(n int64) int8 {
	if n == 0 || n == 1 {
		return int8(n)
	}
	return -1
}

func (d *Decoder) decodeSource() {
	if !d.object(p0("source")) {
		return
	}
	src := &d.req.Source
	schain26 := false
	extSChain := false
	extComplete, extNodes := int8(0), 0
	s := &d.s
	for n, k := 0, ""; d.field(&n, &k); {
		switch k {
		case "tid":
			d.str(&src.TID, p0("source.tid"))
		case "schain":
			if !d.object(p0("source.schain")) {
				break
			}
			schain26 = true
			src.SChainComplete, src.SChainNodes = 0, 0
			for n, k := 0, ""; d.field(&n, &k); {
				switch k {
				case "complete":
					c := d.integer(p0("source.schain.complete"))
					src.SChainComplete = int8(min(max(c, 0), 1))
				case "nodes":
					switch s.peek() {
					case '[':
						src.SChainNodes = s.arrayLen()
					case 'n':
						s.lit("null")
						src.SChainNodes = 0
					default:
						d.typeErr("an array", p0("source.schain.nodes"))
					}
				default:
					s.skip()
				}
			}
		case "ext":
			if !s.openObject() {
				s.skip()
				break
			}
			for n, k := 0, ""; s.member(&n, &k); {
				if k != "schain" || !s.openObject() {
					s.skip()
					continue
				}
				extSChain, extComplete, extNodes = true, 0, 0
				for n, k := 0, ""; s.member(&n, &k); {
					switch k {
					case "complete":
						if c, ok := s.lenientInt(); ok && c == 1 {
							extComplete = 1
						} else {
							extComplete = 0
						}
					case "nodes":
						extNodes = s.arrayLen()
					default:
						s.skip()
					}
				}
			}
		default:
			s.skip()
		}
	}
	if !schain26 && extSChain {
		src.SChainComplete, src.SChainNodes = extComplete, extNodes
	}
}

func (d *Decoder) decodeImps() {
	s := &d.s
	if !d.array(p0("imp")) {
		return
	}
	d.impSeen = true
	r := &d.req
	r.Imps = r.Imps[:0] // a repeated "imp" key replaces, as the last key wins elsewhere
	for i := 0; d.ok() && s.next(&i, ']'); {
		if i > MaxImps {
			// Count the rest for the message, validating as we go.
			s.skip()
			for s.next(&i, ']') {
				s.skip()
			}
			if s.ok() {
				d.fail("imp: %d impressions exceed the limit of %d", i, MaxImps)
			}
			return
		}
		n := len(r.Imps)
		if n < cap(r.Imps) {
			r.Imps = r.Imps[:n+1]
		} else {
			r.Imps = append(r.Imps, Imp{})
		}
		imp := &r.Imps[n]
		*imp = Imp{Formats: imp.Formats[:0], Deals: imp.Deals[:0]}
		if s.peek() != '{' { // null is no imp
			d.typeErr("an object", pi("imp[%d]", n))
			return
		}
		s.enter()
		d.decodeImp(n, imp)
	}
}

func (d *Decoder) decodeImp(i int, imp *Imp) {
	idSeen, rwddSeen := false, false
	extRwdd, extRwddOK := false, false
	s := &d.s
	for n, k := 0, ""; d.field(&n, &k); {
		switch k {
		case "id":
			idSeen = s.peek() != 'n'
			d.str(&imp.ID, pi("imp[%d].id", i))
		case "tagid":
			d.str(&imp.TagID, pi("imp[%d].tagid", i))
		case "bidfloor":
			imp.BidFloor = d.floor(pi("imp[%d].bidfloor", i))
		case "bidfloorcur":
			d.str(&imp.BidFloorCur, pi("imp[%d].bidfloorcur", i))
		case "secure":
			imp.Secure = d.flag(pi("imp[%d].secure", i))
		case "instl":
			imp.Instl = d.flag(pi("imp[%d].instl", i))
		case "rwdd":
			rwddSeen = s.peek() != 'n'
			imp.Rewarded = d.flag(pi("imp[%d].rwdd", i))
		case "exp":
			imp.Exp = int(d.integer(pi("imp[%d].exp", i)))
		case "banner":
			d.decodeBanner(i, imp)
		case "native":
			d.decodeNative(i, imp)
		case "video":
			imp.Video = d.media(i, "video")
		case "audio":
			imp.Audio = d.media(i, "audio")
		case "pmp":
			d.decodePMP(i, imp)
		case "ext":
			if !s.openObject() {
				s.skip()
				break
			}
			for n, k := 0, ""; s.member(&n, &k); {
				if k != "prebid" || !s.openObject() {
					s.skip()
					continue
				}
				for n, k := 0, ""; s.member(&n, &k); {
					if k != "is_rewarded_inventory" {
						s.skip()
						continue
					}
					v, ok := s.lenientInt()
					extRwdd, extRwddOK = v == 1, ok
				}
			}
		default:
			s.skip()
		}
	}
	if !d.ok() {
		return
	}
	if !rwddSeen && extRwddOK {
		imp.Rewarded = extRwdd
	}
	switch {
	case !idSeen:
		d.fail("imp[%d].id: missing", i)
	case imp.ID == "":
		d.fail("imp[%d].id: empty", i)
	}
}

// media reports whether imp.<name> is an object (skipping it); null is
// absence.
func (d *Decoder) media(i int, name string) bool {
	s := &d.s
	switch s.peek() {
	case '{':
		s.skip()
		return true
	case 'n':
		s.lit("null")
		return false
	}
	d.typeErr("an object", path{f: "imp[%d].%s", i: i, s: name})
	return false
}

func (d *Decoder) decodeBanner(i int, imp *Imp) {
	if !d.object(pi("imp[%d].banner", i)) {
		return
	}
	imp.Banner = true
	var w, h int64
	d.formats = d.formats[:0]
	s := &d.s
	for n, k := 0, ""; d.field(&n, &k); {
		switch k {
		case "w":
			w = d.integer(pi("imp[%d].banner.w", i))
		case "h":
			h = d.integer(pi("imp[%d].banner.h", i))
		case "format":
			d.formats = d.formats[:0]
			if !d.array(pi("imp[%d].banner.format", i)) {
				continue
			}
			for j := 0; d.ok() && s.next(&j, ']'); {
				if !d.object(pij("imp[%d].banner.format[%d]", i, j-1)) {
					if d.ok() {
						d.fail("imp[%d].banner.format[%d]: want an object, got null", i, j-1)
					}
					return
				}
				var fw, fh int64
				for m, k := 0, ""; d.field(&m, &k); {
					switch k {
					case "w":
						fw = d.integer(pij("imp[%d].banner.format[%d].w", i, j-1))
					case "h":
						fh = d.integer(pij("imp[%d].banner.format[%d].h", i, j-1))
					default:
						s.skip()
					}
				}
				d.formats = append(d.formats, Format{W: int(clampSide(fw)), H: int(clampSide(fh))})
			}
		default:
			s.skip()
		}
	}
	if !d.ok() {
		return
	}
	imp.addFormat(w, h)
	for _, f := range d.formats {
		imp.addFormat(int64(f.W), int64(f.H))
	}
}

// clampSide keeps a format side's sign and whether it fits an int32, so
// addFormat decides on it as on the original value.
func clampSide(v int64) int64 {
	if v > math.MaxInt32 {
		return math.MaxInt32 + 1
	}
	if v < 0 {
		return -1
	}
	return v
}

// addFormat keeps sizes with both sides positive and skips repeats, so the
// bidder sees each size once.
func (imp *Imp) addFormat(w, h int64) {
	if w <= 0 || h <= 0 || w > math.MaxInt32 || h > math.MaxInt32 {
		return
	}
	f := Format{W: int(w), H: int(h)}
	for _, g := range imp.Formats {
		if g == f {
			return
		}
	}
	imp.Formats = append(imp.Formats, f)
}

// nativeInfo is what callbid reads from a Native request document.
type nativeInfo struct {
	ver                string
	hasTitle, hasPhone bool
	titleID, titleLen  int
	phoneID, phoneLen  int
}

func (d *Decoder) decodeNative(i int, imp *Imp) {
	if !d.object(pi("imp[%d].native", i)) {
		return
	}
	imp.Native = true
	var outerVer string
	var info nativeInfo
	s := &d.s
	for n, k := 0, ""; d.field(&n, &k); {
		switch k {
		case "ver":
			d.str(&outerVer, pi("imp[%d].native.ver", i))
		case "request":
			info = nativeInfo{}
			imp.NativeWrapped = false
			switch s.peek() {
			case '"':
				// A document of its own: parsed with a scanner of its own
				// over the unescaped string (in d.buf), and tolerated when
				// it does not parse.
				doc := s.str()
				var ns scanner
				ns.reset(doc)
				var wrapped bool
				if ns.peek() == '{' {
					ns.enter()
					info, wrapped = readNative(&ns)
					if ns.ok() {
						ns.ws()
						if ns.i < len(ns.b) {
							ns.syntax("trailing data")
						}
					}
				} else {
					ns.skip()
				}
				if !ns.ok() {
					info, wrapped = nativeInfo{}, false
				}
				imp.NativeWrapped = wrapped
			case '{':
				s.enter()
				info, imp.NativeWrapped = readNative(s)
			case 'n':
				s.lit("null")
			default:
				d.typeErr("a string or an object", pi("imp[%d].native.request", i))
			}
		default:
			s.skip()
		}
	}
	if !d.ok() {
		return
	}
	imp.NativeVer = outerVer
	if imp.NativeVer == "" {
		imp.NativeVer = info.ver
	}
	imp.NativeHasTitle, imp.NativeTitleAssetID, imp.NativeTitleLen = info.hasTitle, info.titleID, info.titleLen
	imp.NativeHasPhone, imp.NativePhoneAssetID, imp.NativePhoneLen = info.hasPhone, info.phoneID, info.phoneLen
}

// readNative reads a native request object whose '{' s has consumed. When
// it holds a "native" object (the Native 1.0 wrapper), that object is the
// request and wrapped is true. Assets are read leniently: the native
// request is a document of its own, and a bad asset only means callbid
// cannot fill that asset.
func readNative(s *scanner) (info nativeInfo, wrapped bool) {
	var inner nativeInfo
	for n, k := 0, ""; s.member(&n, &k); {
		if k == "native" && s.openObject() {
			inner, wrapped = nativeInfo{}, true
			for m, k := 0, ""; s.member(&m, &k); {
				readNativeField(s, k, &inner)
			}
			continue
		}
		readNativeField(s, k, &info)
	}
	if wrapped {
		return inner, true
	}
	return info, false
}

func readNativeField(s *scanner, k string, info *nativeInfo) {
	switch k {
	case "ver":
		info.ver = s.lenientStr()
	case "assets":
		if s.peek() != '[' {
			s.skip()
			return
		}
		s.enter()
		for n := 0; s.next(&n, ']'); {
			readAsset(s, info)
		}
	default:
		s.skip()
	}
}

func readAsset(s *scanner, info *nativeInfo) {
	if !s.openObject() {
		s.skip()
		return
	}
	var id, titleLen, dataType, dataLen int64
	var idOK, title, data, titleLenOK, dataTypeOK, dataLenOK bool
	for n, k := 0, ""; s.member(&n, &k); {
		switch k {
		case "id":
			id, idOK = s.lenientInt()
		case "title":
			if title = s.openObject(); !title {
				s.skip()
				break
			}
			titleLenOK = false
			for m, k := 0, ""; s.member(&m, &k); {
				if k == "len" {
					titleLen, titleLenOK = s.lenientInt()
				} else {
					s.skip()
				}
			}
		case "data":
			if data = s.openObject(); !data {
				s.skip()
				break
			}
			dataTypeOK, dataLenOK = false, false
			for m, k := 0, ""; s.member(&m, &k); {
				switch k {
				case "type":
					dataType, dataTypeOK = s.lenientInt()
				case "len":
					dataLen, dataLenOK = s.lenientInt()
				default:
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
	if !idOK || id < 0 || id > math.MaxInt32 {
		return
	}
	if title && !info.hasTitle {
		info.hasTitle, info.titleID = true, int(id)
		if titleLenOK && titleLen > 0 && titleLen <= math.MaxInt32 {
			info.titleLen = int(titleLen)
		}
	}
	if data && !info.hasPhone && dataTypeOK && dataType == int64(adcom1.DataAssetPhone) {
		info.hasPhone, info.phoneID = true, int(id)
		if dataLenOK && dataLen > 0 && dataLen <= math.MaxInt32 {
			info.phoneLen = int(dataLen)
		}
	}
}

func (d *Decoder) decodePMP(i int, imp *Imp) {
	if !d.object(pi("imp[%d].pmp", i)) {
		return
	}
	s := &d.s
	for n, k := 0, ""; d.field(&n, &k); {
		switch k {
		case "private_auction":
			imp.PrivateAuction = d.flag(pi("imp[%d].pmp.private_auction", i))
		case "deals":
			imp.Deals = imp.Deals[:0]
			if !d.array(pi("imp[%d].pmp.deals", i)) {
				continue
			}
			for j := 0; d.ok() && s.next(&j, ']'); {
				d.decodeDeal(i, j-1, imp)
			}
		default:
			s.skip()
		}
	}
}

func (d *Decoder) decodeDeal(i, j int, imp *Imp) {
	n := len(imp.Deals)
	if n < cap(imp.Deals) {
		imp.Deals = imp.Deals[:n+1]
	} else {
		imp.Deals = append(imp.Deals, Deal{})
	}
	deal := &imp.Deals[n]
	*deal = Deal{WSeat: deal.WSeat[:0], WADomain: deal.WADomain[:0]}
	s := &d.s
	if s.peek() != '{' {
		d.typeErr("an object", pij("imp[%d].pmp.deals[%d]", i, j))
		return
	}
	s.enter()
	for n, k := 0, ""; d.field(&n, &k); {
		switch k {
		case "id":
			d.str(&deal.ID, pij("imp[%d].pmp.deals[%d].id", i, j))
		case "bidfloor":
			deal.BidFloor = d.floor(pij("imp[%d].pmp.deals[%d].bidfloor", i, j))
		case "bidfloorcur":
			d.str(&deal.BidFloorCur, pij("imp[%d].pmp.deals[%d].bidfloorcur", i, j))
		case "at":
			deal.AT = int(d.integer(pij("imp[%d].pmp.deals[%d].at", i, j)))
		case "wseat":
			deal.WSeat = d.strs(deal.WSeat, pij("imp[%d].pmp.deals[%d].wseat", i, j))
		case "wadomain":
			deal.WADomain = d.strs(deal.WADomain, pij("imp[%d].pmp.deals[%d].wadomain", i, j))
		default:
			s.skip()
		}
	}
	if d.ok() && deal.ID == "" {
		d.fail("imp[%d].pmp.deals[%d].id: missing", i, j)
	}
}

// b2s views b as a string without copying; b must not change while the
// string is in use (the Decoder guarantees that until ReleaseDecoder).
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
