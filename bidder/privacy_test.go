package bidder

import (
	"strings"
	"testing"

	"github.com/callbid/callbid/openrtb"
	"github.com/callbid/callbid/privacy"
)

// Consent strings shaped as CMPs write them, built with the test encoder
// in privacy/encode_test.go (TCF v2 core segments, GPP headers and US
// sections) and pinned here; TestConsentFixtures checks what they say.
const (
	// vendors 5 and 755, purposes 1, 2, 7; vendor consents as a bitfield.
	tcVendor755Bitfield = "CO5rKAAO5rKAAAHABBENCWEAAMIAAAAAAAYgF5ggAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAA"
	// vendors 5 and 755, purposes 1, 2, 3, 4, 7; range encoding.
	tcVendor755Range = "CO5rKAAO5rKAAAHABBENCWEAAPIAAAAAAAYgF5wAgACgLzAAAAA"
	// vendor 5 only, purposes 1, 2, 7; range encoding.
	tcVendor5Range = "CO5rKAAO5rKAAAHABBENCWEAAMIAAAAAAAYgACwAQACgAAAA"
	// vendor 755, purpose 1 only.
	tcVendor755Purpose1 = "CO5rKAAO5rKAAAHABBENCWEAAIAAAAAAAAYgF5gAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAA"
	gppHeader2and7      = "DBACMM" // sections 2 (TCF EU) and 7 (usnat)
	gppHeader8          = "DBABBg" // section 8 (usca)
	usnatNoOptOut       = "BVVq"   // notices given; sale, sharing, targeted ads: did not opt out
	usnatSaleOptOut     = "BVVa"   // opted out of sale
	uscaSharingOptOut   = "BVk"    // opted out of sharing
)

func TestConsentFixtures(t *testing.T) {
	for _, c := range []struct {
		tc     string
		vendor int
		want   bool
	}{
		{tcVendor755Bitfield, 755, true}, {tcVendor755Range, 755, true}, {tcVendor5Range, 755, false},
		{tcVendor755Purpose1, 755, true},
	} {
		if ok, err := privacy.TCFConsent(c.tc, c.vendor, 1); ok != c.want || err != nil {
			t.Errorf("%s: %v %v", c.tc, ok, err)
		}
	}
	var g privacy.GPP
	if g.Parse(gppHeader2and7+"~"+tcVendor755Range+"~"+usnatNoOptOut) != nil || g.Len() != 2 {
		t.Fatal("gpp header 2, 7")
	}
	if out, err := privacy.USOptOut(7, usnatSaleOptOut); !out || err != nil {
		t.Fatal("usnat sale opt-out")
	}
}

// TestPrivacySignals: TCF consent decoded for the configured vendor and
// purposes, and the GPP sections regs.gpp_sid lists, each with its action.
func TestPrivacySignals(t *testing.T) {
	tcf := TCFConfig{VendorID: 755, Purposes: []int{1, 2, 7}}
	gdpr := func(consent string) func(*openrtb.Request) {
		return func(r *openrtb.Request) { r.Regs.GDPR, r.User.Consent = 1, consent }
	}
	gpp := func(s string, sids ...int8) func(*openrtb.Request) {
		return func(r *openrtb.Request) { r.Regs.GPP, r.Regs.GPPSID = s, sids }
	}
	for _, tc := range []struct {
		name    string
		privacy PrivacyConfig
		mut     func(*openrtb.Request)
		want    Cause
		anon    bool
	}{
		{"tcf: vendor and purposes consented (bitfield)", PrivacyConfig{TCF: tcf}, gdpr(tcVendor755Bitfield), CauseNone, false},
		{"tcf: vendor and purposes consented (ranges)", PrivacyConfig{TCF: tcf}, gdpr(tcVendor755Range), CauseNone, false},
		{"tcf: vendor without consent", PrivacyConfig{TCF: tcf}, gdpr(tcVendor5Range), CausePrivacy, false},
		{"tcf: purpose 2 without consent", PrivacyConfig{TCF: tcf}, gdpr(tcVendor755Purpose1), CausePrivacy, false},
		{"tcf: unreadable string", PrivacyConfig{TCF: tcf}, gdpr("not a TC string"), CausePrivacy, false},
		{"tcf: without vendor id any string is consent", PrivacyConfig{}, gdpr(tcVendor5Range), CauseNone, false},
		{"tcf: anonymous without consent", PrivacyConfig{GDPR: "anonymous", TCF: tcf}, gdpr(tcVendor5Range), CauseNone, true},
		{"tcf: anonymous with consent", PrivacyConfig{GDPR: "anonymous", TCF: tcf}, gdpr(tcVendor755Range), CauseNone, false},
		{"us privacy: anonymous", PrivacyConfig{USPrivacyOptOut: "anonymous"},
			func(r *openrtb.Request) { r.Regs.USPrivacy = "1YYN" }, CauseNone, true},
		{"gpp: tcf section follows gdpr", PrivacyConfig{TCF: tcf},
			gpp(gppHeader2and7+"~"+tcVendor5Range+"~"+usnatNoOptOut, 2), CausePrivacy, false},
		{"gpp: tcf section with consent", PrivacyConfig{TCF: tcf},
			gpp(gppHeader2and7+"~"+tcVendor755Range+"~"+usnatNoOptOut, 2, 7), CauseNone, false},
		{"gpp: usnat opted out of sale", PrivacyConfig{},
			gpp(gppHeader2and7+"~"+tcVendor755Range+"~"+usnatSaleOptOut, 7), CausePrivacy, false},
		{"gpp: usnat section not applicable", PrivacyConfig{},
			gpp(gppHeader2and7+"~"+tcVendor755Range+"~"+usnatSaleOptOut, 2), CauseNone, false},
		{"gpp: usca opted out of sharing, anonymous", PrivacyConfig{GPPSections: map[int]string{8: "anonymous"}},
			gpp(gppHeader8+"~"+uscaSharingOptOut, 8), CauseNone, true},
		{"gpp: usca ignored", PrivacyConfig{USPrivacyOptOut: "ignore"},
			gpp(gppHeader8+"~"+uscaSharingOptOut, 8), CauseNone, false},
		{"gpp: section listed but missing", PrivacyConfig{}, gpp(gppHeader8+"~"+uscaSharingOptOut, 7), CausePrivacy, false},
		{"gpp: unreadable string", PrivacyConfig{}, gpp("~~~", 7), CausePrivacy, false},
		{"gpp: no_bid for a section", PrivacyConfig{GPPSections: map[int]string{13: "no_bid"}}, gpp("DBABBg~BVk", 13), CausePrivacy, false},
		{"gpp: unknown section ignored", PrivacyConfig{}, gpp("DBABBg~BVk", 13), CauseNone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.Privacy = tc.privacy
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, cfg, 0)
			e.res.keepLast = true
			req := banner300()
			req.Regs.GDPR = -1
			req.Device.IFA = "5a1c2e3f-7b8d-4e9f-a0b1-c2d3e4f5a6b7"
			tc.mut(req)
			r := e.b.Decide(req, "default", e.now)
			if r.Cause != tc.want {
				t.Fatalf("cause %s, want %s", r.Cause, tc.want)
			}
			if r.Cause != CauseNone {
				return
			}
			if anon := e.res.lastClm.IPHash == 0 && e.res.lastClm.IFAHash == 0; anon != tc.anon {
				t.Fatalf("claim hashes ip %x ifa %x, want anonymous %v", e.res.lastClm.IPHash, e.res.lastClm.IFAHash, tc.anon)
			}
		})
	}
}

func TestPrivacyConfigErrors(t *testing.T) {
	cfg := baseConfig()
	cfg.Privacy = PrivacyConfig{GDPR: "anonymous", USPrivacyOptOut: "consent_required",
		TCF:         TCFConfig{VendorID: 70000, Purposes: []int{1, 25}},
		GPPSections: map[int]string{0: "ignore", 7: "maybe", 13: "consent_required", 8: ""}}
	err := cfg.Validate()
	for _, want := range []string{
		`privacy.us_privacy_opt_out: "consent_required" must be no_bid, anonymous or ignore`,
		`privacy.tcf.vendor_id: 70000 must be a Global Vendor List id`,
		`privacy.tcf.purposes[1]: 25 must be a TCF purpose id, 1-24`,
		`privacy.gpp_sections.0: section id 0 must be 1-127`,
		`privacy.gpp_sections.7: "maybe" must be`,
		`privacy.gpp_sections.8: "" must be`,
		`privacy.gpp_sections.13: callbid cannot read consent in GPP section 13`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "privacy.gdpr") {
		t.Errorf("anonymous is a valid gdpr action: %v", err)
	}
	cfg.Privacy = PrivacyConfig{TCF: TCFConfig{Purposes: []int{1}}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "privacy.tcf.purposes: need privacy.tcf.vendor_id") {
		t.Errorf("purposes without vendor id: %v", err)
	}
}

func TestPrivacyAnonymousInDebugAnswer(t *testing.T) {
	cfg := baseConfig()
	cfg.Privacy = PrivacyConfig{USPrivacyOptOut: "anonymous"}
	e := newEnv(t, cfg, 0)
	s := e.b.snap.Load()
	req := banner300()
	req.Regs.USPrivacy = "1YYN"
	d := &decision{}
	e.b.decide(d, s, req, s.exchange([]byte("default")), e.now)
	if out := string(appendDebugExt([]byte(`{}`), d, s)); !strings.Contains(out, `"result":"bid","privacy":"anonymous"`) {
		t.Fatalf("debug answer %s", out)
	}
}
