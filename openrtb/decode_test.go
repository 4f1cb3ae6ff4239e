package openrtb

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the decoder's output")

// fixtures returns every request fixture: the public OpenRTB examples in
// testdata/shared, and callbid's own
// realistic requests in testdata/requests. Keys name the golden file.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, pattern := range []string{"testdata/shared/bid-request/*/*.json", "testdata/requests/*.json"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rel := strings.TrimPrefix(f, "testdata/")
			rel = strings.TrimPrefix(rel, "shared/bid-request/")
			out[strings.ReplaceAll(rel, "/", "_")] = b
		}
	}
	if len(out) < 14 {
		t.Fatalf("found %d request fixtures, want at least 14 (11 shared + 3 own)", len(out))
	}
	return out
}

func TestDecodeGolden(t *testing.T) {
	for name, body := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			d := AcquireDecoder()
			defer ReleaseDecoder(d)
			req, err := d.Decode(body)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got, err := json.MarshalIndent(normalize(req), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata/golden", name)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestDecodeGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decoded request differs from %s:\n%s", path, got)
			}
		})
	}
}

// TestDecodeFields pins the fields the goldens carry for the three own
// fixtures, so a careless -update cannot bless a regression unnoticed.
func TestDecodeFields(t *testing.T) {
	all := fixtures(t)
	d := AcquireDecoder()
	defer ReleaseDecoder(d)

	r, err := d.Decode(all["requests_site-banner.json"])
	if err != nil {
		t.Fatal(err)
	}
	checkEq(t, "site.ID", r.ID, "5f1d3c2a-8b7e-4c11-9a0e-2d6f4b8c9e01")
	checkEq(t, "site.Inventory", r.Inventory, InventorySite)
	checkEq(t, "site.TMax", r.TMax, int64(250))
	checkEq(t, "site.Cats", strings.Join(r.Cats, " "), "IAB13 IAB13-5 IAB13-5 IAB13-7")
	checkEq(t, "site.Keywords", r.Keywords, "mortgage,refinance,rates,home loans,homeowner")
	checkEq(t, "site.PublisherID", r.PublisherID, "pub-5521")
	checkEq(t, "site.Device", [3]string{r.Device.Country, r.Device.Region, r.Device.Zip}, [3]string{"USA", "CA", "94103"})
	checkEq(t, "site.Device.Type", r.Device.Type, 2)
	checkEq(t, "site.Regs", r.Regs, Regs{GDPR: 0, USPrivacy: "1YNN", GPP: "DBABLA~BVQqAAAAAgA.QA", GPPSID: []int8{7}})
	checkEq(t, "site.Source", [2]int{int(r.Source.SChainComplete), r.Source.SChainNodes}, [2]int{1, 2})
	checkEq(t, "site.imp.Formats", r.Imps[0].Formats, []Format{{300, 250}, {320, 50}})
	checkEq(t, "site.imp.Secure", r.Imps[0].Secure, true)
	checkEq(t, "site.imp.BidFloor", r.Imps[0].BidFloor, 1.25)

	r, err = d.Decode(all["requests_app-native.json"])
	if err != nil {
		t.Fatal(err)
	}
	imp := r.Imps[0]
	checkEq(t, "app.Inventory", r.Inventory, InventoryApp)
	checkEq(t, "app.Bundle", r.Bundle, "com.quickquote.auto")
	checkEq(t, "app.native", [6]int{b2i(imp.NativeHasPhone), imp.NativePhoneAssetID, imp.NativePhoneLen, b2i(imp.NativeHasTitle), imp.NativeTitleAssetID, imp.NativeTitleLen}, [6]int{1, 3, 30, 1, 1, 40})
	checkEq(t, "app.NativeVer", imp.NativeVer, "1.2")
	checkEq(t, "app.NativeWrapped", imp.NativeWrapped, false)
	checkEq(t, "app.Regs (2.5 ext)", r.Regs, Regs{GDPR: 1, USPrivacy: "1---", GPPSID: r.Regs.GPPSID[:0:0]})
	checkEq(t, "app.Consent (2.5 ext)", strings.HasPrefix(r.User.Consent, "CPxyz"), true)
	checkEq(t, "app.Source (2.5 ext)", [2]int{int(r.Source.SChainComplete), r.Source.SChainNodes}, [2]int{0, 1})
	checkEq(t, "app.Cur", r.Cur, []string{"USD", "EUR"})

	r, err = d.Decode(all["requests_pmp-deal.json"])
	if err != nil {
		t.Fatal(err)
	}
	checkEq(t, "pmp.len(Imps)", len(r.Imps), 2)
	checkEq(t, "pmp.imp0.Deals", normalize(r).Imps[0].Deals, []Deal{
		{ID: "LEGAL-PI-Q4-001", BidFloor: 6.5, BidFloorCur: "USD", AT: 1, WSeat: []string{"callbid-1"}, WADomain: []string{"injurylawyers-example.com"}},
		{ID: "OPEN-FIN-0420", BidFloor: 4, AT: 3, WSeat: []string{"callbid-1", "agency-7"}},
	})
	checkEq(t, "pmp.imp0.Formats", r.Imps[0].Formats, []Format{{728, 90}, {970, 90}, {970, 250}})
	checkEq(t, "pmp.imp1.Formats", r.Imps[1].Formats, []Format{{300, 600}, {300, 250}, {160, 600}})
	checkEq(t, "pmp.imp1.PrivateAuction", r.Imps[1].PrivateAuction, false)
	checkEq(t, "pmp.Keywords", r.Keywords, "accident,injury,local news,car crash,personal injury")
	checkEq(t, "pmp.WSeat", r.WSeat, []string{"callbid-1", "agency-7"})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func checkEq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}

func TestDecodeVersions(t *testing.T) {
	cases := []struct {
		name, body string
		check      func(r *Request) bool
	}{
		{"2.6 regs win over ext", `{"id":"r","imp":[{"id":"1"}],"site":{},"regs":{"gdpr":1,"us_privacy":"1YYN","ext":{"gdpr":0,"us_privacy":"1NNN"}}}`,
			func(r *Request) bool { return r.Regs.GDPR == 1 && r.Regs.USPrivacy == "1YYN" }},
		{"2.5 ext gdpr as string", `{"id":"r","imp":[{"id":"1"}],"site":{},"regs":{"ext":{"gdpr":"1"}}}`,
			func(r *Request) bool { return r.Regs.GDPR == 1 }},
		{"2.5 ext garbage is absent", `{"id":"r","imp":[{"id":"1"}],"site":{},"regs":{"ext":{"gdpr":{"x":1}}}}`,
			func(r *Request) bool { return r.Regs.GDPR == -1 }},
		{"no regs: gdpr unknown", `{"id":"r","imp":[{"id":"1"}],"site":{}}`,
			func(r *Request) bool { return r.Regs.GDPR == -1 && r.Source.SChainComplete == -1 }},
		{"2.6 consent", `{"id":"r","imp":[{"id":"1"}],"site":{},"user":{"consent":"A","ext":{"consent":"B"}}}`,
			func(r *Request) bool { return r.User.Consent == "A" }},
		{"2.5 consent", `{"id":"r","imp":[{"id":"1"}],"site":{},"user":{"ext":{"consent":"B"}}}`,
			func(r *Request) bool { return r.User.Consent == "B" }},
		{"2.6 rwdd", `{"id":"r","imp":[{"id":"1","rwdd":1,"ext":{"prebid":{"is_rewarded_inventory":0}}}],"app":{}}`,
			func(r *Request) bool { return r.Imps[0].Rewarded }},
		{"2.5 rewarded", `{"id":"r","imp":[{"id":"1","ext":{"prebid":{"is_rewarded_inventory":1}}}],"app":{}}`,
			func(r *Request) bool { return r.Imps[0].Rewarded }},
		{"2.6 schain wins", `{"id":"r","imp":[{"id":"1"}],"site":{},"source":{"schain":{"complete":1,"nodes":[{},{},{}]},"ext":{"schain":{"complete":0,"nodes":[]}}}}`,
			func(r *Request) bool { return r.Source.SChainComplete == 1 && r.Source.SChainNodes == 3 }},
		{"dooh", `{"id":"r","imp":[{"id":"1","banner":{"w":1920,"h":1080}}],"dooh":{"id":"venue-9","publisher":{"id":"p"}}}`,
			func(r *Request) bool {
				return r.Inventory == InventoryDOOH && r.SiteOrAppID == "venue-9" && r.PublisherID == "p"
			}},
		{"user geo fallback", `{"id":"r","imp":[{"id":"1"}],"site":{},"user":{"geo":{"country":"CAN","region":"ON"}}}`,
			func(r *Request) bool { return r.Device.Country == "CAN" && r.Device.Region == "ON" }},
		{"device geo wins", `{"id":"r","imp":[{"id":"1"}],"site":{},"user":{"geo":{"country":"CAN"}},"device":{"geo":{"country":"USA"}}}`,
			func(r *Request) bool { return r.Device.Country == "USA" }},
		{"native object, wrapped", `{"id":"r","imp":[{"id":"1","native":{"request":{"native":{"ver":"1.0","assets":[{"id":0,"data":{"type":8}}]}}}}],"app":{}}`,
			func(r *Request) bool {
				i := r.Imps[0]
				return i.NativeHasPhone && i.NativePhoneAssetID == 0 && i.NativeWrapped && i.NativeVer == "1.0"
			}},
		{"native string, wrapped, escaped", `{"id":"r","imp":[{"id":"1","native":{"request":"{\"native\":{\"assets\":[{\"id\":7,\"title\":{\"len\":25}},{\"id\":9,\"data\":{\"type\":8}}]}}"}}],"app":{}}`,
			func(r *Request) bool {
				i := r.Imps[0]
				return i.NativeHasPhone && i.NativePhoneAssetID == 9 && i.NativeTitleAssetID == 7 && i.NativeTitleLen == 25 && i.NativeWrapped
			}},
		{"native without phone", `{"id":"r","imp":[{"id":"1","native":{"request":"{\"assets\":[{\"id\":1,\"data\":{\"type\":2}}]}"}}],"app":{}}`,
			func(r *Request) bool { return r.Imps[0].Native && !r.Imps[0].NativeHasPhone }},
		{"unparseable native request tolerated", `{"id":"r","imp":[{"id":"1","native":{"request":"{[ ... ]"}}],"app":{}}`,
			func(r *Request) bool { return r.Imps[0].Native && !r.Imps[0].NativeHasPhone }},
		{"unknown fields and enums", `{"id":"r","zzz":[1,{"a":null}],"at":777,"imp":[{"id":"1","banner":{"w":300,"h":250,"btype":[99]},"qty":{"multiplier":2}}],"site":{"x":1},"regs":{"gdpr":7}}`,
			func(r *Request) bool { return r.AT == 777 && r.Regs.GDPR == -1 && len(r.Imps[0].Formats) == 1 }},
		{"flags as booleans, integral floats", `{"id":"r","test":true,"imp":[{"id":"1","secure":true,"banner":{"w":300.0,"h":2.5e2}}],"site":{}}`,
			func(r *Request) bool { return r.Test && r.Imps[0].Secure && r.Imps[0].Formats[0] == Format{300, 250} }},
		{"nulls are absent", `{"id":"r","tmax":null,"cur":null,"imp":[{"id":"1","banner":null,"bidfloor":null}],"site":{},"app":null,"device":null}`,
			func(r *Request) bool { return r.TMax == 0 && !r.Imps[0].Banner && r.Inventory == InventorySite }},
		{"video only", `{"id":"r","imp":[{"id":"1","video":{"mimes":["video/mp4"]}}],"site":{}}`,
			func(r *Request) bool { return r.Imps[0].Video && !r.Imps[0].Banner }},
		{"escaped strings", `{"id":"a\"b\u00e9","imp":[{"id":"1"}],"site":{"domain":"x\/y"}}`,
			func(r *Request) bool { return r.ID == "a\"bé" && r.Domain == "x/y" }},
	}
	d := AcquireDecoder()
	defer ReleaseDecoder(d)
	for _, c := range cases {
		r, err := d.Decode([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !c.check(r) {
			j, _ := json.Marshal(r)
			t.Errorf("%s: check failed on %s", c.name, j)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	cases := []struct{ body, want string }{
		{``, "request: empty body"},
		{`not json`, "request: not valid JSON"},
		{`{"id":"r"`, "request: not valid JSON"},
		{`{"id":"r"} x`, "request: not valid JSON"},
		{`[1,2]`, "request: want a JSON object, got array"},
		{`"str"`, "request: want a JSON object, got string"},
		{`null`, "request: want a JSON object, got null"},
		{`{"imp":[{"id":"1"}],"site":{}}`, "id: missing"},
		{`{"id":"","imp":[{"id":"1"}],"site":{}}`, "id: empty"},
		{`{"id":7,"imp":[{"id":"1"}],"site":{}}`, "id: want a string, got number"},
		{`{"id":"r","site":{}}`, "imp: missing"},
		{`{"id":"r","imp":[],"site":{}}`, "imp: empty"},
		{`{"id":"r","imp":{"id":"1"},"site":{}}`, "imp: want an array, got object"},
		{`{"id":"r","imp":["1"],"site":{}}`, "imp[0]: want an object, got string"},
		{`{"id":"r","imp":[{"id":"1"},{"tagid":"x"}],"site":{}}`, "imp[1].id: missing"},
		{`{"id":"r","imp":[{"id":""}],"site":{}}`, "imp[0].id: empty"},
		{`{"id":"r","imp":[{"id":1}],"site":{}}`, "imp[0].id: want a string, got number"},
		{`{"id":"r","imp":[{"id":"1"},{"id":"2"},{"id":"1"}],"site":{}}`, `imp[2].id: "1" repeats imp[0].id`},
		{`{"id":"r","imp":[{"id":"1"}]}`, "request: none of site, app or dooh; exactly one is required"},
		{`{"id":"r","imp":[{"id":"1"}],"site":{},"app":{}}`, "request: site and app are both present"},
		{`{"id":"r","imp":[{"id":"1"}],"app":{},"dooh":{}}`, "request: app and dooh are both present"},
		{`{"id":"r","imp":[{"id":"1"}],"site":"x"}`, "site: want an object, got string"},
		{`{"id":"r","tmax":"100","imp":[{"id":"1"}],"site":{}}`, "tmax: want an integer, got string"},
		{`{"id":"r","tmax":-5,"imp":[{"id":"1"}],"site":{}}`, "tmax: -5 is negative"},
		{`{"id":"r","tmax":1.5,"imp":[{"id":"1"}],"site":{}}`, "tmax: want an integer, got number"},
		{`{"id":"r","cur":"USD","imp":[{"id":"1"}],"site":{}}`, "cur: want an array of strings, got string"},
		{`{"id":"r","bcat":[1],"imp":[{"id":"1"}],"site":{}}`, "bcat: want an array of strings, got array"},
		{`{"id":"r","imp":[{"id":"1","bidfloor":"1.0"}],"site":{}}`, "imp[0].bidfloor: want a finite number, got string"},
		{`{"id":"r","imp":[{"id":"1","bidfloor":-1}],"site":{}}`, "imp[0].bidfloor: -1 is negative"},
		{`{"id":"r","imp":[{"id":"1","bidfloor":NaN}],"site":{}}`, "imp[0].bidfloor: want a finite number"},
		{`{"id":"r","imp":[{"id":"1","banner":[]}],"site":{}}`, "imp[0].banner: want an object, got array"},
		{`{"id":"r","imp":[{"id":"1","banner":{"w":"300"}}],"site":{}}`, "imp[0].banner.w: want an integer, got string"},
		{`{"id":"r","imp":[{"id":"1","banner":{"format":[{"w":300,"h":"x"}]}}],"site":{}}`, "imp[0].banner.format[0].h: want an integer, got string"},
		{`{"id":"r","imp":[{"id":"1","native":{"request":5}}],"app":{}}`, "imp[0].native.request: want a string or an object, got number"},
		{`{"id":"r","imp":[{"id":"1","pmp":{"deals":[{"bidfloor":1}]}}],"site":{}}`, "imp[0].pmp.deals[0].id: missing"},
		{`{"id":"r","imp":[{"id":"1","pmp":{"deals":{}}}],"site":{}}`, "imp[0].pmp.deals: want an array, got object"},
		{`{"id":"r","imp":[{"id":"1","secure":"1"}],"site":{}}`, "imp[0].secure: want 0 or 1, got string"},
		{`{"id":"r","imp":[{"id":"1"}],"site":{"publisher":{"id":5}}}`, "site.publisher.id: want a string, got number"},
		{`{"id":"r","imp":[{"id":"1"}],"site":{"cat":"IAB1"}}`, "site.cat: want an array of strings, got string"},
		{`{"id":"r","imp":[{"id":"1"}],"site":{},"device":{"geo":{"country":840}}}`, "device.geo.country: want a string, got number"},
		{`{"id":"r","imp":[{"id":"1"}],"site":{},"regs":{"gdpr":"1"}}`, "regs.gdpr: want 0 or 1, got string"},
		{`{"id":"r","imp":[{"id":"1"}],"site":{},"source":{"schain":[]}}`, "source.schain: want an object, got array"},
		{`{"id":"r","imp":[{"id":"1"}],"site":{},"user":{"keywords":["a"]}}`, "user.keywords: want a string, got array"},
		{strings.Repeat("[", 400) + strings.Repeat("]", 400), "request: not valid JSON"},
		{`{"id":"r","imp":[` + strings.TrimSuffix(strings.Repeat(`{"id":"x"},`, MaxImps+1), ",") + `],"site":{}}`, "imp: 257 impressions exceed the limit of 256"},
	}
	d := AcquireDecoder()
	defer ReleaseDecoder(d)
	for _, c := range cases {
		r, err := d.Decode([]byte(c.body))
		if err == nil {
			t.Errorf("%.60q: no error, want %q", c.body, c.want)
			continue
		}
		if r != nil {
			t.Errorf("%.60q: got a Request along with the error", c.body)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%.60q: error %q does not wrap ErrMalformed", c.body, err)
		}
		if msg := strings.TrimPrefix(err.Error(), ErrMalformed.Error()+": "); !strings.HasPrefix(msg, c.want) {
			t.Errorf("%.60q: error %q, want it to start with %q", c.body, msg, c.want)
		}
	}
	big := make([]byte, MaxRequestSize+1)
	if _, err := d.Decode(big); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "exceed the limit") {
		t.Errorf("oversized body: %v", err)
	}
}

// TestDecodeReuse checks that a Decoder carries nothing from one request to
// the next, the failure mode of pooled state.
func TestDecodeReuse(t *testing.T) {
	all := fixtures(t)
	fresh := map[string][]byte{}
	for name, body := range all {
		d := &Decoder{}
		r, err := d.Decode(body)
		if err != nil {
			t.Fatal(name, err)
		}
		fresh[name], _ = json.Marshal(normalize(r))
	}
	d := AcquireDecoder()
	defer ReleaseDecoder(d)
	for range 2 {
		for name, body := range all {
			r, err := d.Decode(body)
			if err != nil {
				t.Fatal(name, err)
			}
			got, _ := json.Marshal(normalize(r))
			if !bytes.Equal(got, fresh[name]) {
				t.Errorf("%s decoded by a reused Decoder differs:\n%s\nfresh:\n%s", name, got, fresh[name])
			}
			// A failed decode in between must not leak into the next one.
			if _, err := d.Decode([]byte(`{"id":"x","imp":[{"id":"1"},{"id":"1"}],"site":{}}`)); err == nil {
				t.Fatal("duplicate imp ids accepted")
			}
		}
	}
}

// normalize copies r with empty slices as nil: a reused Decoder keeps
// emptied slices ([:0]) where a fresh one has nil, and both mean "none".
func normalize(r *Request) Request {
	c := *r
	ns := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	c.Cur, c.BCat, c.BAdv, c.BApp, c.WSeat, c.BSeat, c.Cats = ns(c.Cur), ns(c.BCat), ns(c.BAdv), ns(c.BApp), ns(c.WSeat), ns(c.BSeat), ns(c.Cats)
	if len(c.Regs.GPPSID) == 0 {
		c.Regs.GPPSID = nil
	}
	c.Imps = nil
	for _, imp := range r.Imps {
		if len(imp.Formats) == 0 {
			imp.Formats = nil
		}
		deals := imp.Deals
		imp.Deals = nil
		for _, d := range deals {
			d.WSeat, d.WADomain = ns(d.WSeat), ns(d.WADomain)
			imp.Deals = append(imp.Deals, d)
		}
		c.Imps = append(c.Imps, imp)
	}
	return c
}
