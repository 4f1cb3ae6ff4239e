//go:build !race

package openrtb

import "testing"

// The hot path must not allocate in steady state: one Decode per request,
// one response encode per bid answer.

func TestDecodeAllocs(t *testing.T) {
	d := AcquireDecoder()
	defer ReleaseDecoder(d)
	all := fixtures(t)
	// Warm up on every fixture first: the Decoder's buffers grow to the
	// largest request once, after which no request needs more.
	for _, body := range all {
		if _, err := d.Decode(body); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range all {
		n := testing.AllocsPerRun(50, func() {
			if _, err := d.Decode(body); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("Decode(%s): %v allocs per run, want 0", name, n)
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	bids := benchBids()
	buf := make([]byte, 0, 4096)
	tm := DefaultBannerTemplate(300, 250, "Talk to an agent")
	v := &TemplateVars{E164: "+18005550123", Ext: "42", CampaignID: "mortgage"}
	imp := &Imp{Native: true, NativeHasPhone: true, NativePhoneAssetID: 3, NativeHasTitle: true, NativeTitleAssetID: 1, NativeTitleLen: 20}
	for name, f := range map[string]func(){
		"AppendResponse": func() {
			buf = AppendResponse(buf[:0], "req-1", "bid-1", "USD", "callbid", bids)
		},
		"AppendNoBidResponse": func() { buf = AppendNoBidResponse(buf[:0], "req-1", NBRNoHeadroom) },
		"Template.Append":     func() { buf = tm.Append(buf[:0], v) },
		"Template.AppendJSON": func() { buf = tm.AppendJSON(buf[:0], v) },
		"AppendNativeMarkup":  func() { buf = AppendNativeMarkup(buf[:0], imp, "Compare quotes now", v) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
}
