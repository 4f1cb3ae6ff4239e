package openrtb

import (
	"errors"
	"testing"
)

// FuzzDecode: Decode never panics; an error always wraps ErrMalformed; a
// success always satisfies the invariants the bidder relies on.
func FuzzDecode(f *testing.F) {
	for _, body := range fixtures(f) {
		f.Add(body)
	}
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `{"id":"r"}`, `{"id":"r","imp":[]}`, `{"id":"r","imp":[{"id":"1"}]}`,
		`{"id":"r","imp":[{"id":"1"}],"site":{},"app":{}}`, `{"id":"r","imp":[{"id":"1"},{"id":"1"}],"site":{}}`,
		`{"id":"r","imp":[{"id":"1","native":{"request":"{\"native\":{\"assets\":[{\"id\":1,\"data\":{\"type\":8}}]}}"}}],"app":{}}`,
		`{"id":"r","imp":[{"id":"1","banner":{"format":[{"w":1e400,"h":-0}]}}],"site":{}}`,
		`{"id":"\ud800","imp":[{"id":"\u0000"}],"dooh":{}}`,
		`{"id":"r","imp":[{"id":"1"}],"site":{},"regs":{"gpp":"DBABMA~CP","gpp_sid":[2,null,300,-1]}}`, `{"id":"r","tmax":1e30,"imp":[{"id":"1","bidfloor":nan}],"site":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d := AcquireDecoder()
		defer ReleaseDecoder(d)
		r, err := d.Decode(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %q does not wrap ErrMalformed", err)
			}
			if r != nil {
				t.Fatal("Request returned with an error")
			}
			return
		}
		if r.ID == "" {
			t.Fatal("accepted an empty id")
		}
		if len(r.Imps) == 0 || len(r.Imps) > MaxImps {
			t.Fatalf("accepted %d imps", len(r.Imps))
		}
		seen := map[string]bool{}
		for i, imp := range r.Imps {
			if imp.ID == "" || seen[imp.ID] {
				t.Fatalf("imp[%d].id %q empty or repeated", i, imp.ID)
			}
			seen[imp.ID] = true
			if imp.BidFloor < 0 || imp.BidFloor != imp.BidFloor {
				t.Fatalf("imp[%d].bidfloor %v", i, imp.BidFloor)
			}
			for _, f := range imp.Formats {
				if f.W <= 0 || f.H <= 0 {
					t.Fatalf("imp[%d] format %v", i, f)
				}
			}
		}
		if r.Inventory < InventorySite || r.Inventory > InventoryDOOH {
			t.Fatalf("inventory %d", r.Inventory)
		}
		if r.TMax < 0 {
			t.Fatalf("tmax %d", r.TMax)
		}
		// The decoder must be reusable after any input.
		if _, err := d.Decode([]byte(`{"id":"x","imp":[{"id":"1"}],"app":{}}`)); err != nil {
			t.Fatalf("decoder unusable after fuzz input: %v", err)
		}
	})
}

// FuzzTemplate: ParseTemplate never panics, and a parsed template renders.
func FuzzTemplate(f *testing.F) {
	f.Add(DefaultBannerSource(300, 250, "Call now"))
	f.Add("{{number}} {{ext}} {{")
	f.Add("{{tel_uri}}{{}}")
	f.Fuzz(func(t *testing.T, src string) {
		tm, err := ParseTemplate(src)
		if err != nil {
			return
		}
		out := tm.Append(nil, &TemplateVars{E164: "+18005550123", Ext: "9"})
		if len(out) == 0 {
			t.Fatal("a template with a number placeholder rendered nothing")
		}
	})
}
