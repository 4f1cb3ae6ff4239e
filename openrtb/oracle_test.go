package openrtb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// The oracle: encoding/json into prebid's openrtb2.BidRequest. For every
// request both accept, the fields callbid reads must agree. The 2.5 ext
// locations are not compared (openrtb2 keeps ext raw); decode_test pins
// them.

// oracleView is what both decoders are reduced to for comparison.
type oracleView struct {
	ID                          string
	TMax, AT                    int64
	Test                        bool
	Cur, BCat, BAdv, BApp       []string
	WSeat, BSeat                []string
	Inventory                   Inventory
	InvID, Domain, Bundle, Page string
	PublisherID                 string
	Cats                        []string
	Device                      [10]string
	DevType                     int
	LMT                         bool
	UserID, BuyerUID            string
	Consent                     *string // only when the 2.6 field is present
	COPPA                       bool
	GDPR                        *int8 // only when the 2.6 field is present
	USPrivacy                   *string
	GPP, TID                    string
	GPPSID                      []int8
	SChain                      *[2]int
	Imps                        []oracleImp
}

type oracleImp struct {
	ID, TagID, BidFloorCur    string
	BidFloor                  float64
	Secure, Instl, Rewarded   bool
	Exp                       int
	Banner, Video, Audio, Nat bool
	Formats                   []Format
	PrivateAuction            bool
	Deals                     []Deal
}

func nz(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func viewOracle(o *openrtb2.BidRequest) oracleView {
	v := oracleView{ID: o.ID, TMax: o.TMax, AT: o.AT, Test: o.Test != 0,
		Cur: nz(o.Cur), BCat: nz(o.BCat), BAdv: nz(o.BAdv), BApp: nz(o.BApp), WSeat: nz(o.WSeat), BSeat: nz(o.BSeat)}
	var cats []string
	switch {
	case o.Site != nil:
		s := o.Site
		v.Inventory, v.InvID, v.Domain, v.Page = InventorySite, s.ID, s.Domain, s.Page
		cats = append(append(append(cats, s.Cat...), s.SectionCat...), s.PageCat...)
		if s.Publisher != nil {
			v.PublisherID = s.Publisher.ID
		}
	case o.App != nil:
		a := o.App
		v.Inventory, v.InvID, v.Domain, v.Bundle = InventoryApp, a.ID, a.Domain, a.Bundle
		cats = append(append(append(cats, a.Cat...), a.SectionCat...), a.PageCat...)
		if a.Publisher != nil {
			v.PublisherID = a.Publisher.ID
		}
	case o.DOOH != nil:
		v.Inventory, v.InvID = InventoryDOOH, o.DOOH.ID
		if o.DOOH.Publisher != nil {
			v.PublisherID = o.DOOH.Publisher.ID
		}
	}
	v.Cats = nz(cats)
	var g *openrtb2.Geo
	if d := o.Device; d != nil {
		v.Device[0], v.Device[1], v.Device[2], v.Device[3] = d.IP, d.IPv6, d.IFA, d.UA
		v.DevType = int(d.DeviceType)
		v.LMT = d.Lmt != nil && *d.Lmt != 0
		g = d.Geo
	}
	if u := o.User; u != nil {
		v.UserID, v.BuyerUID = u.ID, u.BuyerUID
		if u.Consent != "" {
			c := u.Consent
			v.Consent = &c
		}
		if g == nil {
			g = u.Geo
		}
	}
	if g != nil {
		v.Device[4], v.Device[5], v.Device[6], v.Device[7], v.Device[8] = g.Country, g.Region, g.Metro, g.City, g.ZIP
	}
	if r := o.Regs; r != nil {
		v.COPPA, v.GPP = r.COPPA != 0, r.GPP
		if len(r.GPPSID) > 0 {
			v.GPPSID = r.GPPSID
		}
		if r.GDPR != nil {
			x := gdprValue(int64(*r.GDPR))
			v.GDPR = &x
		}
		if r.USPrivacy != "" {
			u := r.USPrivacy
			v.USPrivacy = &u
		}
	}
	if s := o.Source; s != nil {
		v.TID = s.TID
		if s.SChain != nil {
			v.SChain = &[2]int{int(min(max(s.SChain.Complete, 0), 1)), len(s.SChain.Nodes)}
		}
	}
	for _, oi := range o.Imp {
		i := oracleImp{ID: oi.ID, TagID: oi.TagID, BidFloorCur: oi.BidFloorCur, BidFloor: oi.BidFloor,
			Secure: oi.Secure != nil && *oi.Secure != 0, Instl: oi.Instl != 0, Rewarded: oi.Rwdd != 0, Exp: int(oi.Exp),
			Banner: oi.Banner != nil, Video: oi.Video != nil, Audio: oi.Audio != nil, Nat: oi.Native != nil}
		if b := oi.Banner; b != nil {
			var tmp Imp
			var w, h int64
			if b.W != nil {
				w = *b.W
			}
			if b.H != nil {
				h = *b.H
			}
			tmp.addFormat(w, h)
			for _, f := range b.Format {
				tmp.addFormat(f.W, f.H)
			}
			i.Formats = tmp.Formats
		}
		if p := oi.PMP; p != nil {
			i.PrivateAuction = p.PrivateAuction != 0
			for _, d := range p.Deals {
				i.Deals = append(i.Deals, Deal{ID: d.ID, BidFloor: d.BidFloor, BidFloorCur: d.BidFloorCur, AT: int(d.AT), WSeat: nz(d.WSeat), WADomain: nz(d.WADomain)})
			}
		}
		v.Imps = append(v.Imps, i)
	}
	return v
}

// viewOurs reduces our Request; raw says which 2.6 fields were present
// (our Request merges them with their ext twins).
func viewOurs(r *Request, o *openrtb2.BidRequest) oracleView {
	v := oracleView{ID: r.ID, TMax: r.TMax, AT: int64(r.AT), Test: r.Test,
		Cur: nz(r.Cur), BCat: nz(r.BCat), BAdv: nz(r.BAdv), BApp: nz(r.BApp), WSeat: nz(r.WSeat), BSeat: nz(r.BSeat),
		Inventory: r.Inventory, InvID: r.SiteOrAppID, Domain: r.Domain, Bundle: r.Bundle, Page: r.Page,
		PublisherID: r.PublisherID, Cats: nz(r.Cats), DevType: int(r.Device.Type), LMT: r.Device.LMT,
		UserID: r.User.ID, BuyerUID: r.User.BuyerUID, COPPA: r.Regs.COPPA, GPP: r.Regs.GPP, TID: r.Source.TID}
	d := r.Device
	v.Device = [10]string{d.IP, d.IPv6, d.IFA, d.UA, d.Country, d.Region, d.Metro, d.City, d.Zip}
	if v.Inventory == InventoryDOOH {
		// openrtb2.DOOH carries neither domain nor categories; the view
		// compares them for site and app only.
		v.Domain, v.Cats = "", nil
	}
	if o.User != nil && o.User.Consent != "" {
		c := r.User.Consent
		v.Consent = &c
	}
	if o.Regs != nil && o.Regs.GDPR != nil {
		x := r.Regs.GDPR
		v.GDPR = &x
	}
	if len(r.Regs.GPPSID) > 0 {
		v.GPPSID = append([]int8(nil), r.Regs.GPPSID...)
	}
	if o.Regs != nil && o.Regs.USPrivacy != "" {
		u := r.Regs.USPrivacy
		v.USPrivacy = &u
	}
	if o.Source != nil && o.Source.SChain != nil {
		v.SChain = &[2]int{int(r.Source.SChainComplete), r.Source.SChainNodes}
	}
	for _, ri := range r.Imps {
		i := oracleImp{ID: ri.ID, TagID: ri.TagID, BidFloorCur: ri.BidFloorCur, BidFloor: ri.BidFloor,
			Secure: ri.Secure, Instl: ri.Instl, Rewarded: ri.Rewarded, Exp: ri.Exp,
			Banner: ri.Banner, Video: ri.Video, Audio: ri.Audio, Nat: ri.Native, PrivateAuction: ri.PrivateAuction}
		if len(ri.Formats) > 0 {
			i.Formats = append([]Format(nil), ri.Formats...)
		}
		for _, dl := range ri.Deals {
			dl.WSeat, dl.WADomain = nz(dl.WSeat), nz(dl.WADomain)
			i.Deals = append(i.Deals, dl)
		}
		v.Imps = append(v.Imps, i)
	}
	return v
}

// checkOracle decodes body both ways; when both accept, the views must
// agree. It reports whether both accepted.
func checkOracle(t *testing.T, body []byte) bool {
	t.Helper()
	var o openrtb2.BidRequest
	oerr := json.Unmarshal(body, &o)
	d := AcquireDecoder()
	defer ReleaseDecoder(d)
	r, err := d.Decode(body)
	if err == nil && !json.Valid(body) && !hasNaNInf(body) {
		t.Fatalf("accepted a body encoding/json calls invalid JSON: %q", body)
	}
	if err != nil && strings.Contains(err.Error(), "not valid JSON") && json.Valid(body) &&
		!strings.Contains(err.Error(), "nesting too deep") {
		t.Fatalf("rejected valid JSON as invalid (%v): %q", err, body)
	}
	if err != nil || oerr != nil {
		t.Logf("ours: %v; encoding/json: %v", err, oerr)
		return false
	}
	if keyWithUpper(body) {
		// encoding/json matches keys case-insensitively ("privaTe_auction"
		// fills PrivateAuction); OpenRTB keys are case-sensitive and all
		// lower case, so such a body has no oracle.
		return true
	}
	want, got := viewOracle(&o), viewOurs(r, &o)
	// Cats keeps key order (cat, sectioncat, pagecat as they come); the
	// bidder uses it as a set.
	slices.Sort(want.Cats)
	slices.Sort(got.Cats)
	// Compared as JSON: encoding/json turns each invalid UTF-8 byte into
	// U+FFFD on decode, ours passes bytes through (as fastjson did), and
	// json.Marshal makes the same replacement on both sides.
	// (Marshal writes the first as an escape, the second raw: unify.)
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	g = bytes.ReplaceAll(g, []byte(`\ufffd`), []byte("\uFFFD"))
	if !bytes.Equal(g, w) {
		t.Fatalf("decoders disagree on %q\nours:   %s\noracle: %s", body, g, w)
	}
	return true
}

func keyWithUpper(body []byte) bool {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if strings.ToLower(k) != k || walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

func hasNaNInf(b []byte) bool {
	l := bytes.ToLower(b)
	return bytes.Contains(l, []byte("nan")) || bytes.Contains(l, []byte("inf"))
}

func TestDecodeOracleFixtures(t *testing.T) {
	for name, body := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			if !checkOracle(t, body) {
				t.Logf("not compared: one of the decoders refused %s", name)
			}
		})
	}
}

// TestDecodeOracleGenerated runs the generator over a fixed range of seeds
// in the plain test pass; FuzzDecodeOracle explores further.
func TestDecodeOracleGenerated(t *testing.T) {
	for seed := range uint64(300) {
		body := genRequest(seed)
		if !checkOracle(t, body) {
			t.Fatalf("seed %d: a generated valid request was refused: %s", seed, body)
		}
	}
}

// FuzzDecodeOracle: for a random valid request (built from seed) both
// decoders accept and agree; for arbitrary bytes, ours calls them invalid
// JSON exactly when encoding/json does (NaN/Inf tokens aside) and agrees
// whenever both accept.
func FuzzDecodeOracle(f *testing.F) {
	for name, body := range fixtures(f) {
		f.Add(uint64(len(name)), body)
	}
	f.Add(uint64(1), []byte(`{"id":"r","imp":[{"id":"1"}],"site":{"x":[1,{"y":"\u00e9\ud83d\ude00"}]}}`))
	f.Fuzz(func(t *testing.T, seed uint64, raw []byte) {
		body := genRequest(seed)
		if !checkOracle(t, body) {
			t.Fatalf("seed %d: a generated valid request was refused: %s", seed, body)
		}
		checkOracle(t, raw)
	})
}

// genRequest builds a random valid bid request: random subsets of the
// fields callbid reads, unknown fields with nested values to skip, strings
// with quotes, backslashes, control characters and non-ASCII text, some of
// it re-escaped as \uXXXX, and random whitespace between tokens.
func genRequest(seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(p float64) bool { return rng.Float64() < p }
	strs := []string{"", "a", "USD", "IAB1-2", `q"uote`, `back\slash`, "tab\tnl\n", "é ü", "日本", "😀", "</script>&", "ctl\u0001", "x/y"}
	s := func() string { return strs[rng.IntN(len(strs))] + fmt.Sprint(rng.IntN(3)) }
	sarr := func() []any {
		n := rng.IntN(4)
		a := make([]any, n)
		for i := range a {
			a[i] = s()
		}
		return a
	}
	var junk func(depth int) any
	junk = func(depth int) any {
		switch rng.IntN(8) {
		case 0:
			return nil
		case 1:
			return pick(0.5)
		case 2:
			return rng.NormFloat64() * 1e6
		case 3:
			return rng.IntN(1000) - 500
		case 4:
			return s()
		case 5:
			if depth > 3 {
				return 1
			}
			a := []any{}
			for range rng.IntN(4) {
				a = append(a, junk(depth+1))
			}
			return a
		default:
			if depth > 3 {
				return "x"
			}
			m := map[string]any{}
			for range rng.IntN(4) {
				m[s()] = junk(depth + 1)
			}
			return m
		}
	}
	flag := func() any { return rng.IntN(2) }
	req := map[string]any{"id": "req-" + s()}
	maybe := func(m map[string]any, k string, p float64, v func() any) {
		if pick(p) {
			m[k] = v()
		}
	}
	maybe(req, "tmax", 0.5, func() any { return rng.IntN(1000) })
	maybe(req, "at", 0.5, func() any { return 1 + rng.IntN(2) })
	maybe(req, "test", 0.3, flag)
	for _, k := range []string{"cur", "bcat", "badv", "bapp", "wseat", "bseat"} {
		maybe(req, k, 0.3, func() any { return sarr() })
	}
	maybe(req, "zz_unknown", 0.5, func() any { return junk(0) })
	imps := []any{}
	for i := range 1 + rng.IntN(3) {
		imp := map[string]any{"id": fmt.Sprint("imp-", i, s())}
		maybe(imp, "tagid", 0.5, func() any { return s() })
		maybe(imp, "bidfloor", 0.5, func() any { return float64(rng.IntN(10000)) / 100 })
		maybe(imp, "bidfloorcur", 0.3, func() any { return s() })
		maybe(imp, "secure", 0.5, flag)
		maybe(imp, "instl", 0.3, flag)
		maybe(imp, "rwdd", 0.3, flag)
		maybe(imp, "exp", 0.3, func() any { return rng.IntN(3600) })
		maybe(imp, "banner", 0.6, func() any {
			b := map[string]any{"btype": []any{1, 2}}
			maybe(b, "w", 0.6, func() any { return rng.IntN(1000) - 10 })
			maybe(b, "h", 0.6, func() any { return rng.IntN(1000) - 10 })
			maybe(b, "format", 0.6, func() any {
				fs := []any{}
				for range rng.IntN(4) {
					fs = append(fs, map[string]any{"w": rng.IntN(4) * 100, "h": rng.IntN(4) * 50, "wratio": 1})
				}
				return fs
			})
			return b
		})
		maybe(imp, "video", 0.3, func() any { return map[string]any{"mimes": []any{"video/mp4"}, "w": 640} })
		maybe(imp, "audio", 0.1, func() any { return map[string]any{"mimes": []any{"audio/mp4"}} })
		maybe(imp, "native", 0.3, func() any { return map[string]any{"ver": "1.2", "request": `{"assets":[{"id":1,"data":{"type":8}}]}`} })
		maybe(imp, "pmp", 0.3, func() any {
			deals := []any{}
			for j := range rng.IntN(3) {
				dl := map[string]any{"id": fmt.Sprint("deal", j, s())}
				maybe(dl, "bidfloor", 0.5, func() any { return float64(rng.IntN(1000)) / 10 })
				maybe(dl, "bidfloorcur", 0.3, func() any { return "EUR" })
				maybe(dl, "at", 0.3, func() any { return 1 + rng.IntN(3) })
				maybe(dl, "wseat", 0.3, func() any { return sarr() })
				maybe(dl, "wadomain", 0.3, func() any { return sarr() })
				deals = append(deals, dl)
			}
			return map[string]any{"private_auction": rng.IntN(2), "deals": deals}
		})
		maybe(imp, "ext", 0.3, func() any { return map[string]any{"prebid": junk(1), "x": junk(1)} })
		imps = append(imps, imp)
	}
	req["imp"] = imps
	inv := map[string]any{"id": s(), "zz_name": junk(1)}
	maybe(inv, "domain", 0.5, func() any { return s() })
	maybe(inv, "cat", 0.5, func() any { return sarr() })
	maybe(inv, "sectioncat", 0.3, func() any { return sarr() })
	maybe(inv, "publisher", 0.5, func() any { return map[string]any{"id": s(), "name": s()} })
	maybe(inv, "content", 0.3, func() any { return map[string]any{"keywords": s(), "title": s()} })
	switch rng.IntN(3) {
	case 0:
		maybe(inv, "page", 0.5, func() any { return "https://ex.com/" + s() })
		maybe(inv, "pagecat", 0.3, func() any { return sarr() })
		req["site"] = inv
	case 1:
		maybe(inv, "bundle", 0.5, func() any { return "com." + s() })
		req["app"] = inv
	default:
		req["dooh"] = inv
	}
	geo := func() any {
		g := map[string]any{"lat": 1.5}
		for _, k := range []string{"country", "region", "metro", "city", "zip"} {
			maybe(g, k, 0.5, func() any { return s() })
		}
		return g
	}
	maybe(req, "device", 0.7, func() any {
		d := map[string]any{"js": 1}
		for _, k := range []string{"ip", "ipv6", "ifa", "ua"} {
			maybe(d, k, 0.5, func() any { return s() })
		}
		maybe(d, "devicetype", 0.5, func() any { return 1 + rng.IntN(7) })
		maybe(d, "lmt", 0.3, flag)
		maybe(d, "geo", 0.5, geo)
		return d
	})
	maybe(req, "user", 0.5, func() any {
		u := map[string]any{"yob": 1980}
		for _, k := range []string{"id", "buyeruid", "consent"} {
			maybe(u, k, 0.5, func() any { return s() })
		}
		maybe(u, "geo", 0.3, geo)
		return u
	})
	maybe(req, "regs", 0.5, func() any {
		r := map[string]any{}
		maybe(r, "coppa", 0.5, flag)
		maybe(r, "gdpr", 0.5, flag)
		maybe(r, "us_privacy", 0.5, func() any { return "1YNN" })
		maybe(r, "gpp", 0.3, func() any { return s() })
		maybe(r, "ext", 0.3, func() any { return map[string]any{"gdpr": 1} })
		return r
	})
	maybe(req, "source", 0.5, func() any {
		src := map[string]any{}
		maybe(src, "tid", 0.5, func() any { return s() })
		maybe(src, "schain", 0.5, func() any {
			nodes := []any{}
			for range rng.IntN(3) {
				nodes = append(nodes, map[string]any{"asi": s(), "sid": s(), "hp": 1})
			}
			return map[string]any{"complete": rng.IntN(2), "ver": "1.0", "nodes": nodes}
		})
		return src
	})
	b, err := json.Marshal(req)
	if err != nil {
		panic(err)
	}
	return reformat(rng, b)
}

// reformat re-escapes some characters of b's strings (\uXXXX, surrogate
// pairs, \/) and adds whitespace between tokens; b is valid compact JSON.
func reformat(rng *rand.Rand, b []byte) []byte {
	out := make([]byte, 0, len(b)*2)
	ws := []string{" ", "\n", "\t", "\r\n  "}
	in := false
	for i := 0; i < len(b); {
		c := b[i]
		if in {
			switch {
			case c == '\\':
				n := 2
				if b[i+1] == 'u' {
					n = 6
				}
				out = append(out, b[i:i+n]...)
				i += n
				continue
			case c == '"':
				in = false
				out = append(out, c)
				i++
				continue
			}
			r, n := utf8.DecodeRune(b[i:])
			if rng.IntN(6) != 0 {
				out = append(out, b[i:i+n]...)
			} else if r >= 0x10000 {
				r -= 0x10000
				out = fmt.Appendf(out, `\u%04x\u%04X`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			} else if r == '/' {
				out = append(out, `\/`...)
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
			i += n
			continue
		}
		if c == '"' {
			in = true
		}
		out = append(out, c)
		i++
		if (c == ',' || c == ':' || c == '{' || c == '[') && rng.IntN(4) == 0 {
			out = append(out, ws[rng.IntN(len(ws))]...)
		}
	}
	return out
}
