package openrtb

import (
	"fmt"
	"math"
	"sync"
	"unsafe"

	"github.com/valyala/fastjson"
)

// Sanity limits. A request beyond them is answered 400: no exchange sends
// such requests, and bounding them bounds the work one request can cause.
const (
	// MaxRequestSize is the largest body Decode accepts, in bytes. The HTTP
	// layer should refuse larger bodies first (413).
	MaxRequestSize = 1 << 20
	// MaxImps is the most impressions one request may carry.
	MaxImps = 256
	// pooledMax: a Decoder that parsed a larger body is not pooled, so one
	// outsized request does not pin its buffers in every pooled Decoder.
	pooledMax = 64 << 10
)

// Decoder parses bid requests without allocating in steady state. It reads
// only the fields callbid decides on (see Request) with a fastjson parser and
// validates them. Get one with AcquireDecoder and give it back with
// ReleaseDecoder; a Decoder belongs to one goroutine at a time.
type Decoder struct {
	p   fastjson.Parser // owns the copy of the body the Request's strings point into
	np  fastjson.Parser // parses imp.native.request strings
	req Request
	err error

	arena []byte // strings that outlive np's buffer and the joined keywords
	big   bool   // last body was over pooledMax

	// per-Decode scratch
	invMask    uint8 // bit per Inventory seen
	idSeen     bool
	impSeen    bool
	devGeoSeen bool
	userGeo    geo
	kwParts    [6]*fastjson.Value // keywords/kwarray values in join order
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
// A valid request has a non-empty id, at least one imp, every imp with a
// non-empty id unique within the request, and exactly one of site, app or
// dooh: a request with none of them is as invalid as one with two. Fields
// callbid reads must have their OpenRTB JSON types (a string id, an array
// imp, a number tmax, …); 0/1 flags may also be JSON booleans and null
// counts as absent. Unknown fields and unknown enum values are tolerated.
// The 2.5 ext locations (regs.ext.gdpr, regs.ext.us_privacy,
// user.ext.consent, source.ext.schain, imp.ext.prebid.is_rewarded_inventory)
// are read leniently, because ext content is exchange-defined: a value of
// the wrong type counts as absent. When both the 2.6 field and its 2.5 ext
// twin are present, the 2.6 field wins. An imp.native.request that cannot
// be parsed leaves the imp's native asset fields empty instead of failing
// the request (the bidder then has nothing to bid on there).
func (d *Decoder) Decode(body []byte) (*Request, error) {
	d.reset()
	d.big = len(body) > pooledMax
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: request: empty body", ErrMalformed)
	}
	if len(body) > MaxRequestSize {
		return nil, fmt.Errorf("%w: request: %d bytes exceed the limit of %d", ErrMalformed, len(body), MaxRequestSize)
	}
	v, err := d.p.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("%w: request: not valid JSON (%v)", ErrMalformed, err)
	}
	o, err := v.Object()
	if err != nil {
		return nil, fmt.Errorf("%w: request: want a JSON object, got %s", ErrMalformed, v.Type())
	}
	d.decodeRequest(o)
	if d.err == nil {
		d.finish()
	}
	if d.err != nil {
		return nil, d.err
	}
	return &d.req, nil
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
	}
	r.Regs.GDPR = -1
	r.Source.SChainComplete = -1
	d.err = nil
	d.arena = d.arena[:0]
	d.invMask = 0
	d.idSeen, d.impSeen, d.devGeoSeen = false, false, false
	d.userGeo = geo{}
	d.kwParts = [6]*fastjson.Value{}
}

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
	for _, v := range d.kwParts {
		if v == nil {
			continue
		}
		if v.Type() == fastjson.TypeArray {
			a, _ := v.Array()
			for _, e := range a {
				s, _ := str(e)
				d.appendKeyword(start, s)
			}
			continue
		}
		s, _ := str(v)
		d.appendKeyword(start, s)
	}
	d.req.Keywords = b2s(d.arena[start:])
}

func (d *Decoder) appendKeyword(start int, s string) {
	if s == "" {
		return
	}
	if len(d.arena) > start {
		d.arena = append(d.arena, ',')
	}
	d.arena = append(d.arena, s...)
}

// keep copies s into d's arena so it outlives the native parser's buffer.
func (d *Decoder) keep(s string) string {
	start := len(d.arena)
	d.arena = append(d.arena, s...)
	return b2s(d.arena[start:])
}

// fail records the first error; every later step checks d.err and stops.
func (d *Decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *Decoder) wrongType(path, want string, v *fastjson.Value) {
	d.fail("%s: want %s, got %s", path, want, v.Type())
}

// wrongTypeIn is wrongType for prefix.field; the path is only built on
// failure, so the good path does not allocate.
func (d *Decoder) wrongTypeIn(prefix, field, want string, v *fastjson.Value) {
	d.fail("%s.%s: want %s, got %s", prefix, field, want, v.Type())
}

func (d *Decoder) decodeRequest(o *fastjson.Object) {
	r := &d.req
	o.Visit(func(k []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		var ok bool
		switch string(k) {
		case "id":
			if r.ID, ok = str(v); !ok {
				d.wrongType("id", "a string", v)
			}
			d.idSeen = v.Type() != fastjson.TypeNull
		case "imp":
			d.decodeImps(v)
		case "tmax":
			n, ok := integer(v)
			switch {
			case !ok:
				d.wrongType("tmax", "an integer", v)
			case n < 0:
				d.fail("tmax: %d is negative", n)
			}
			r.TMax = n
		case "at":
			n, ok := integer(v)
			if !ok {
				d.wrongType("at", "an integer", v)
			}
			r.AT = int(n)
		case "test":
			if r.Test, ok = flag01(v); !ok {
				d.wrongType("test", "0 or 1", v)
			}
		case "cur":
			r.Cur = d.strs(r.Cur, "cur", v)
		case "bcat":
			r.BCat = d.strs(r.BCat, "bcat", v)
		case "badv":
			r.BAdv = d.strs(r.BAdv, "badv", v)
		case "bapp":
			r.BApp = d.strs(r.BApp, "bapp", v)
		case "wseat":
			r.WSeat = d.strs(r.WSeat, "wseat", v)
		case "bseat":
			r.BSeat = d.strs(r.BSeat, "bseat", v)
		case "site":
			d.decodeInventory(InventorySite, "site", v)
		case "app":
			d.decodeInventory(InventoryApp, "app", v)
		case "dooh":
			d.decodeInventory(InventoryDOOH, "dooh", v)
		case "device":
			d.decodeDevice(v)
		case "user":
			d.decodeUser(v)
		case "regs":
			d.decodeRegs(v)
		case "source":
			d.decodeSource(v)
		}
	})
}

// object returns v's object; nil (and no error) for null; nil with an
// error recorded for any other type.
func (d *Decoder) object(path string, v *fastjson.Value) *fastjson.Object {
	return d.objectIn("", path, v)
}

// objectIn is object for prefix.field (prefix may be empty).
func (d *Decoder) objectIn(prefix, field string, v *fastjson.Value) *fastjson.Object {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		return o
	case fastjson.TypeNull:
		return nil
	}
	if prefix == "" {
		d.wrongType(field, "an object", v)
	} else {
		d.wrongTypeIn(prefix, field, "an object", v)
	}
	return nil
}

func (d *Decoder) decodeInventory(kind Inventory, name string, v *fastjson.Value) {
	o := d.object(name, v)
	if o == nil {
		return
	}
	d.invMask |= 1 << kind
	r := &d.req
	r.Inventory = kind
	o.Visit(func(k []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		var ok bool
		switch string(k) {
		case "id":
			if r.SiteOrAppID, ok = str(v); !ok {
				d.wrongTypeIn(name, "id", "a string", v)
			}
		case "domain":
			if r.Domain, ok = str(v); !ok {
				d.wrongTypeIn(name, "domain", "a string", v)
			}
		case "bundle":
			if kind == InventoryApp {
				if r.Bundle, ok = str(v); !ok {
					d.wrongTypeIn(name, "bundle", "a string", v)
				}
			}
		case "page":
			if kind == InventorySite {
				if r.Page, ok = str(v); !ok {
					d.wrongTypeIn(name, "page", "a string", v)
				}
			}
		case "cat", "sectioncat", "pagecat":
			r.Cats = d.appendStrsIn(r.Cats, name, k, v)
		case "keywords":
			d.keywords(0, name, "keywords", v)
		case "kwarray":
			d.kwarray(1, name, "kwarray", v)
		case "publisher":
			po := d.objectIn(name, "publisher", v)
			if po == nil {
				return
			}
			if pv := po.Get("id"); pv != nil {
				if r.PublisherID, ok = str(pv); !ok {
					d.wrongTypeIn(name, "publisher.id", "a string", pv)
				}
			}
		case "content":
			co := d.objectIn(name, "content", v)
			if co == nil {
				return
			}
			if kv := co.Get("keywords"); kv != nil {
				d.keywords(2, name, "content.keywords", kv)
			}
			if kv := co.Get("kwarray"); kv != nil {
				d.kwarray(3, name, "content.kwarray", kv)
			}
		}
	})
}

func (d *Decoder) keywords(slot int, prefix, field string, v *fastjson.Value) {
	if _, ok := str(v); !ok {
		d.wrongTypeIn(prefix, field, "a string", v)
		return
	}
	d.kwParts[slot] = v
}

func (d *Decoder) kwarray(slot int, prefix, field string, v *fastjson.Value) {
	if !strArray(v) {
		d.wrongTypeIn(prefix, field, "an array of strings", v)
		return
	}
	d.kwParts[slot] = v
}

func (d *Decoder) decodeDevice(v *fastjson.Value) {
	o := d.object("device", v)
	if o == nil {
		return
	}
	dv := &d.req.Device
	o.Visit(func(k []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		var ok bool
		switch string(k) {
		case "devicetype":
			n, ok := integer(v)
			if !ok {
				d.wrongType("device.devicetype", "an integer", v)
			}
			dv.Type = int(n)
		case "ip":
			if dv.IP, ok = str(v); !ok {
				d.wrongType("device.ip", "a string", v)
			}
		case "ipv6":
			if dv.IPv6, ok = str(v); !ok {
				d.wrongType("device.ipv6", "a string", v)
			}
		case "ifa":
			if dv.IFA, ok = str(v); !ok {
				d.wrongType("device.ifa", "a string", v)
			}
		case "ua":
			if dv.UA, ok = str(v); !ok {
				d.wrongType("device.ua", "a string", v)
			}
		case "lmt":
			if dv.LMT, ok = flag01(v); !ok {
				d.wrongType("device.lmt", "0 or 1", v)
			}
		case "geo":
			var g geo
			if d.decodeGeo("device.geo", v, &g) {
				d.devGeoSeen = true
				dv.Country, dv.Region, dv.Metro, dv.City, dv.Zip = g.country, g.region, g.metro, g.city, g.zip
			}
		}
	})
}

// decodeGeo reports whether v was a geo object.
func (d *Decoder) decodeGeo(path string, v *fastjson.Value, g *geo) bool {
	o := d.object(path, v)
	if o == nil {
		return false
	}
	o.Visit(func(k []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		var dst *string
		switch string(k) {
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
			return
		}
		s, ok := str(v)
		if !ok {
			d.fail("%s.%s: want a string, got %s", path, k, v.Type())
			return
		}
		*dst = s
	})
	return true
}

func (d *Decoder) decodeUser(v *fastjson.Value) {
	o := d.object("user", v)
	if o == nil {
		return
	}
	u := &d.req.User
	consent26 := false
	var extConsent string
	o.Visit(func(k []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		var ok bool
		switch string(k) {
		case "id":
			if u.ID, ok = str(v); !ok {
				d.wrongType("user.id", "a string", v)
			}
		case "buyeruid":
			if u.BuyerUID, ok = str(v); !ok {
				d.wrongType("user.buyeruid", "a string", v)
			}
		case "consent":
			if u.Consent, ok = str(v); !ok {
				d.wrongType("user.consent", "a string", v)
			}
			consent26 = v.Type() != fastjson.TypeNull
		case "keywords":
			d.keywords(4, "user", "keywords", v)
		case "kwarray":
			d.kwarray(5, "user", "kwarray", v)
		case "geo":
			d.decodeGeo("user.geo", v, &d.userGeo)
		case "ext":
			if v.Type() == fastjson.TypeObject {
				extConsent, _ = str(v.Get("consent"))
			}
		}
	})
	if !consent26 {
		u.Consent = extConsent
	}
}

func (d *Decoder) decodeRegs(v *fastjson.Value) {
	o := d.object("regs", v)
	if o == nil {
		return
	}
	rg := &d.req.Regs
	gdpr26, usp26 := false, false
	extGDPR := int8(-1)
	var extUSP string
	o.Visit(func(k []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		var ok bool
		switch string(k) {
		case "coppa":
			if rg.COPPA, ok = flag01(v); !ok {
				d.wrongType("regs.coppa", "0 or 1", v)
			}
		case "gdpr":
			if v.Type() == fastjson.TypeNull {
				return
			}
			n, ok := integer(v)
			if !ok {
				d.wrongType("regs.gdpr", "0 or 1", v)
				return
			}
			rg.GDPR, gdpr26 = gdprValue(n), true
		case "us_privacy":
			if rg.USPrivacy, ok = str(v); !ok {
				d.wrongType("regs.us_privacy", "a string", v)
			}
			usp26 = v.Type() != fastjson.TypeNull
		case "gpp":
			if rg.GPP, ok = str(v); !ok {
				d.wrongType("regs.gpp", "a string", v)
			}
		case "ext":
			if v.Type() != fastjson.TypeObject {
				return
			}
			if n, ok := lenientInt(v.Get("gdpr")); ok {
				extGDPR = gdprValue(n)
			}
			extUSP, _ = str(v.Get("us_privacy"))
		}
	})
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

func (d *Decoder) decodeSource(v *fastjson.Value) {
	o := d.object("source", v)
	if o == nil {
		return
	}
	s := &d.req.Source
	schain26 := false
	var extSChain *fastjson.Value
	o.Visit(func(k []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		var ok bool
		switch string(k) {
		case "tid":
			if s.TID, ok = str(v); !ok {
				d.wrongType("source.tid", "a string", v)
			}
		case "schain":
			so := d.object("source.schain", v)
			if so == nil {
				return
			}
			schain26 = true
			s.SChainComplete, s.SChainNodes = -1, 0
			if cv := so.Get("complete"); cv != nil {
				n, ok := integer(cv)
				if !ok {
					d.wrongType("source.schain.complete", "0 or 1", cv)
					return
				}
				s.SChainComplete = int8(min(max(n, 0), 1))
			} else {
				s.SChainComplete = 0
			}
			if nv := so.Get("nodes"); nv != nil {
				if nv.Type() != fastjson.TypeArray && nv.Type() != fastjson.TypeNull {
					d.wrongType("source.schain.nodes", "an array", nv)
					return
				}
				s.SChainNodes = len(nv.GetArray())
			}
		case "ext":
			if v.Type() == fastjson.TypeObject {
				extSChain = v.Get("schain")
			}
		}
	})
	if !schain26 && extSChain != nil && extSChain.Type() == fastjson.TypeObject {
		s.SChainComplete = 0
		if n, ok := lenientInt(extSChain.Get("complete")); ok && n == 1 {
			s.SChainComplete = 1
		}
		s.SChainNodes = len(extSChain.GetArray("nodes"))
	}
}

func (d *Decoder) decodeImps(v *fastjson.Value) {
	if v.Type() == fastjson.TypeNull {
		return
	}
	arr, err := v.Array()
	if err != nil {
		d.wrongType("imp", "an array", v)
		return
	}
	d.impSeen = true
	r := &d.req
	r.Imps = r.Imps[:0] // a repeated "imp" key replaces, as the last key wins elsewhere
	if len(arr) > MaxImps {
		d.fail("imp: %d impressions exceed the limit of %d", len(arr), MaxImps)
		return
	}
	for i, iv := range arr {
		n := len(r.Imps)
		if n < cap(r.Imps) {
			r.Imps = r.Imps[:n+1]
		} else {
			r.Imps = append(r.Imps, Imp{})
		}
		imp := &r.Imps[n]
		*imp = Imp{Formats: imp.Formats[:0], Deals: imp.Deals[:0]}
		if iv.Type() != fastjson.TypeObject {
			d.fail("imp[%d]: want an object, got %s", i, iv.Type())
			return
		}
		o, _ := iv.Object()
		d.decodeImp(i, imp, o)
		if d.err != nil {
			return
		}
	}
}

func (d *Decoder) decodeImp(i int, imp *Imp, o *fastjson.Object) {
	idSeen, rwddSeen := false, false
	o.Visit(func(k []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		var ok bool
		switch string(k) {
		case "id":
			if imp.ID, ok = str(v); !ok {
				d.fail("imp[%d].id: want a string, got %s", i, v.Type())
			}
			idSeen = v.Type() != fastjson.TypeNull
		case "tagid":
			if imp.TagID, ok = str(v); !ok {
				d.fail("imp[%d].tagid: want a string, got %s", i, v.Type())
			}
		case "bidfloor":
			f, ok := number(v)
			switch {
			case !ok:
				d.fail("imp[%d].bidfloor: want a finite number, got %s", i, v.Type())
			case f < 0:
				d.fail("imp[%d].bidfloor: %v is negative", i, f)
			}
			imp.BidFloor = f
		case "bidfloorcur":
			if imp.BidFloorCur, ok = str(v); !ok {
				d.fail("imp[%d].bidfloorcur: want a string, got %s", i, v.Type())
			}
		case "secure":
			if imp.Secure, ok = flag01(v); !ok {
				d.fail("imp[%d].secure: want 0 or 1, got %s", i, v.Type())
			}
		case "instl":
			if imp.Instl, ok = flag01(v); !ok {
				d.fail("imp[%d].instl: want 0 or 1, got %s", i, v.Type())
			}
		case "rwdd":
			if imp.Rewarded, ok = flag01(v); !ok {
				d.fail("imp[%d].rwdd: want 0 or 1, got %s", i, v.Type())
			}
			rwddSeen = v.Type() != fastjson.TypeNull
		case "exp":
			n, ok := integer(v)
			if !ok {
				d.fail("imp[%d].exp: want an integer, got %s", i, v.Type())
			}
			imp.Exp = int(n)
		case "banner":
			d.decodeBanner(i, imp, v)
		case "native":
			d.decodeNative(i, imp, v)
		case "video":
			imp.Video = d.media(i, "video", v)
		case "audio":
			imp.Audio = d.media(i, "audio", v)
		case "pmp":
			d.decodePMP(i, imp, v)
		case "ext":
			if !rwddSeen && v.Type() == fastjson.TypeObject {
				if n, ok := lenientInt(v.Get("prebid", "is_rewarded_inventory")); ok {
					imp.Rewarded = n == 1
				}
			}
		}
	})
	if d.err != nil {
		return
	}
	switch {
	case !idSeen:
		d.fail("imp[%d].id: missing", i)
	case imp.ID == "":
		d.fail("imp[%d].id: empty", i)
	}
}

// media reports whether imp.<name> is an object; null is absence.
func (d *Decoder) media(i int, name string, v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeObject:
		return true
	case fastjson.TypeNull:
		return false
	}
	d.fail("imp[%d].%s: want an object, got %s", i, name, v.Type())
	return false
}

func (d *Decoder) decodeBanner(i int, imp *Imp, v *fastjson.Value) {
	if !d.media(i, "banner", v) {
		return
	}
	o, _ := v.Object()
	imp.Banner = true
	var w, h int64
	var formats []*fastjson.Value
	o.Visit(func(k []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		var ok bool
		switch string(k) {
		case "w":
			if w, ok = integer(v); !ok {
				d.fail("imp[%d].banner.w: want an integer, got %s", i, v.Type())
			}
		case "h":
			if h, ok = integer(v); !ok {
				d.fail("imp[%d].banner.h: want an integer, got %s", i, v.Type())
			}
		case "format":
			switch v.Type() {
			case fastjson.TypeArray:
				formats, _ = v.Array()
			case fastjson.TypeNull:
			default:
				d.fail("imp[%d].banner.format: want an array, got %s", i, v.Type())
			}
		}
	})
	if d.err != nil {
		return
	}
	imp.addFormat(w, h)
	for j, fv := range formats {
		if fv.Type() != fastjson.TypeObject {
			d.fail("imp[%d].banner.format[%d]: want an object, got %s", i, j, fv.Type())
			return
		}
		fw, ok := integer(fv.Get("w"))
		if !ok {
			d.fail("imp[%d].banner.format[%d].w: want an integer, got %s", i, j, fv.Get("w").Type())
			return
		}
		fh, ok := integer(fv.Get("h"))
		if !ok {
			d.fail("imp[%d].banner.format[%d].h: want an integer, got %s", i, j, fv.Get("h").Type())
			return
		}
		imp.addFormat(fw, fh)
	}
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

func (d *Decoder) decodeNative(i int, imp *Imp, v *fastjson.Value) {
	if !d.media(i, "native", v) {
		return
	}
	imp.Native = true
	var nreq *fastjson.Value
	if vv := v.Get("ver"); vv != nil {
		var ok bool
		if imp.NativeVer, ok = str(vv); !ok {
			d.fail("imp[%d].native.ver: want a string, got %s", i, vv.Type())
			return
		}
	}
	rv := v.Get("request")
	if rv == nil {
		return
	}
	switch rv.Type() {
	case fastjson.TypeString:
		s, _ := str(rv)
		var err error
		if nreq, err = d.np.Parse(s); err != nil {
			return // tolerated: see Decode
		}
	case fastjson.TypeObject:
		nreq = rv
	case fastjson.TypeNull:
		return
	default:
		d.fail("imp[%d].native.request: want a string or an object, got %s", i, rv.Type())
		return
	}
	if nv := nreq.Get("native"); nv != nil && nv.Type() == fastjson.TypeObject {
		nreq, imp.NativeWrapped = nv, true
	}
	if imp.NativeVer == "" {
		if s, _ := str(nreq.Get("ver")); s != "" {
			imp.NativeVer = d.keep(s)
		}
	}
	// Assets are read leniently: the native request is a document of its
	// own, and a bad asset only means callbid cannot fill that asset.
	for _, a := range nreq.GetArray("assets") {
		id, ok := lenientInt(a.Get("id"))
		if !ok || id < 0 || id > math.MaxInt32 {
			continue
		}
		if t := a.Get("title"); t != nil && t.Type() == fastjson.TypeObject && !imp.NativeHasTitle {
			imp.NativeHasTitle, imp.NativeTitleAssetID = true, int(id)
			if n, ok := lenientInt(t.Get("len")); ok && n > 0 && n <= math.MaxInt32 {
				imp.NativeTitleLen = int(n)
			}
		}
		if dt := a.Get("data"); dt != nil && dt.Type() == fastjson.TypeObject && !imp.NativeHasPhone {
			if n, ok := lenientInt(dt.Get("type")); ok && n == nativeDataPhone {
				imp.NativeHasPhone, imp.NativePhoneAssetID = true, int(id)
				if n, ok := lenientInt(dt.Get("len")); ok && n > 0 && n <= math.MaxInt32 {
					imp.NativePhoneLen = int(n)
				}
			}
		}
	}
}

// nativeDataPhone is the Native 1.2 data asset type "phone" (Data Asset
// Types, 7.4): "Phone number".
const nativeDataPhone = 8

func (d *Decoder) decodePMP(i int, imp *Imp, v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeNull:
		return
	case fastjson.TypeObject:
	default:
		d.fail("imp[%d].pmp: want an object, got %s", i, v.Type())
		return
	}
	if pv := v.Get("private_auction"); pv != nil {
		var ok bool
		if imp.PrivateAuction, ok = flag01(pv); !ok {
			d.fail("imp[%d].pmp.private_auction: want 0 or 1, got %s", i, pv.Type())
			return
		}
	}
	dv := v.Get("deals")
	if dv == nil || dv.Type() == fastjson.TypeNull {
		return
	}
	deals, err := dv.Array()
	if err != nil {
		d.fail("imp[%d].pmp.deals: want an array, got %s", i, dv.Type())
		return
	}
	for j, e := range deals {
		n := len(imp.Deals)
		if n < cap(imp.Deals) {
			imp.Deals = imp.Deals[:n+1]
		} else {
			imp.Deals = append(imp.Deals, Deal{})
		}
		deal := &imp.Deals[n]
		*deal = Deal{WSeat: deal.WSeat[:0], WADomain: deal.WADomain[:0]}
		if e.Type() != fastjson.TypeObject {
			d.fail("imp[%d].pmp.deals[%d]: want an object, got %s", i, j, e.Type())
			return
		}
		o, _ := e.Object()
		idSeen := false
		o.Visit(func(k []byte, v *fastjson.Value) {
			if d.err != nil {
				return
			}
			var ok bool
			switch string(k) {
			case "id":
				if deal.ID, ok = str(v); !ok {
					d.fail("imp[%d].pmp.deals[%d].id: want a string, got %s", i, j, v.Type())
				}
				idSeen = deal.ID != ""
			case "bidfloor":
				f, ok := number(v)
				switch {
				case !ok:
					d.fail("imp[%d].pmp.deals[%d].bidfloor: want a finite number, got %s", i, j, v.Type())
				case f < 0:
					d.fail("imp[%d].pmp.deals[%d].bidfloor: %v is negative", i, j, f)
				}
				deal.BidFloor = f
			case "bidfloorcur":
				if deal.BidFloorCur, ok = str(v); !ok {
					d.fail("imp[%d].pmp.deals[%d].bidfloorcur: want a string, got %s", i, j, v.Type())
				}
			case "at":
				n, ok := integer(v)
				if !ok {
					d.fail("imp[%d].pmp.deals[%d].at: want an integer, got %s", i, j, v.Type())
				}
				deal.AT = int(n)
			case "wseat":
				if deal.WSeat, ok = appendStrs(deal.WSeat, v); !ok {
					d.fail("imp[%d].pmp.deals[%d].wseat: want an array of strings, got %s", i, j, v.Type())
				}
			case "wadomain":
				if deal.WADomain, ok = appendStrs(deal.WADomain, v); !ok {
					d.fail("imp[%d].pmp.deals[%d].wadomain: want an array of strings, got %s", i, j, v.Type())
				}
			}
		})
		if d.err != nil {
			return
		}
		if !idSeen {
			d.fail("imp[%d].pmp.deals[%d].id: missing", i, j)
			return
		}
	}
}

// strs replaces dst's content with the strings of the array v.
func (d *Decoder) strs(dst []string, path string, v *fastjson.Value) []string {
	return d.appendStrs(dst[:0], path, v)
}

// appendStrsIn is appendStrs for prefix.field, with field a key slice that
// is only turned into a string on failure.
func (d *Decoder) appendStrsIn(dst []string, prefix string, field []byte, v *fastjson.Value) []string {
	out, ok := appendStrs(dst, v)
	if !ok {
		d.wrongTypeIn(prefix, string(field), "an array of strings", v)
	}
	return out
}

func (d *Decoder) appendStrs(dst []string, path string, v *fastjson.Value) []string {
	out, ok := appendStrs(dst, v)
	if !ok {
		d.wrongType(path, "an array of strings", v)
	}
	return out
}

// appendStrs appends the strings of the array v to dst; null appends
// nothing. ok is false when v is not an array of strings.
func appendStrs(dst []string, v *fastjson.Value) ([]string, bool) {
	switch v.Type() {
	case fastjson.TypeNull:
		return dst, true
	case fastjson.TypeArray:
	default:
		return dst, false
	}
	a, _ := v.Array()
	for _, e := range a {
		s, ok := str(e)
		if !ok {
			return dst, false
		}
		dst = append(dst, s)
	}
	return dst, true
}

func strArray(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeNull:
		return true
	case fastjson.TypeArray:
	default:
		return false
	}
	a, _ := v.Array()
	for _, e := range a {
		if t := e.Type(); t != fastjson.TypeString && t != fastjson.TypeNull {
			return false
		}
	}
	return true
}

// str returns a string value ("" for null or nil); ok is false for any
// other type. The string points into the parser's buffer.
func str(v *fastjson.Value) (string, bool) {
	if v == nil {
		return "", true
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return b2s(b), true
	case fastjson.TypeNull:
		return "", true
	}
	return "", false
}

// integer accepts JSON numbers with an integral value (300 and 300.0);
// null is 0.
func integer(v *fastjson.Value) (int64, bool) {
	if v == nil {
		return 0, true
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		if n, err := v.Int64(); err == nil {
			return n, true
		}
		f, err := v.Float64()
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, false
		}
		return int64(f), true
	case fastjson.TypeNull:
		return 0, true
	}
	return 0, false
}

// number accepts finite JSON numbers; null is 0.
func number(v *fastjson.Value) (float64, bool) {
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	case fastjson.TypeNull:
		return 0, true
	}
	return 0, false
}

// flag reads an OpenRTB 0/1 flag; JSON booleans are tolerated, and so is
// any non-zero number as "1".
func flag01(v *fastjson.Value) (bool, bool) {
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		return err == nil && f != 0, err == nil
	case fastjson.TypeTrue:
		return true, true
	case fastjson.TypeFalse, fastjson.TypeNull:
		return false, true
	}
	return false, false
}

// lenientInt reads an ext integer that exchanges send as a number, a
// numeric string or a boolean; ok is false when v is absent or unusable.
func lenientInt(v *fastjson.Value) (int64, bool) {
	if v == nil {
		return 0, false
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		n, ok := integer(v)
		return n, ok
	case fastjson.TypeString:
		s, _ := str(v)
		if len(s) == 0 || len(s) > 18 {
			return 0, false
		}
		var n int64
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int64(c-'0')
		}
		return n, true
	case fastjson.TypeTrue:
		return 1, true
	case fastjson.TypeFalse:
		return 0, true
	}
	return 0, false
}

// b2s views b as a string without copying; b must not change while the
// string is in use (the Decoder guarantees that until ReleaseDecoder).
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
