package bidder

import (
	"crypto/subtle"
	"fmt"
	"sort"
	"strconv"

	"github.com/callbid/callbid/jsonw"
	"github.com/callbid/callbid/openrtb"
	"github.com/callbid/callbid/privacy"
)

// Exchange-facing policies: privacy signals, test=1 requests, and the
// per-request debug answer.

// PrivacyConfig says what callbid does with the request's privacy signals.
//
// The actions, for a signal that applies: "consent_required" — no bid
// without consent; "anonymous" — without consent, bid without personal
// data (the device ip and ifa hashes are left out of the reservation and
// the notice token); "no_bid" — never bid; "ignore".
type PrivacyConfig struct {
	// GDPR, where regs.gdpr=1: consent_required (default), anonymous,
	// no_bid or ignore. Consent is the user.consent TC string's (see TCF).
	GDPR string `yaml:"gdpr"`
	// USPrivacyOptOut, when the US Privacy string says the user opted out
	// of sale ("1YYN"): no_bid (default), anonymous or ignore.
	USPrivacyOptOut string `yaml:"us_privacy_opt_out"`
	// TCF says what consent in a TC string is.
	TCF TCFConfig `yaml:"tcf"`
	// GPPSections maps a GPP section id that applies (listed in
	// regs.gpp_sid) to an action. Unlisted: section 2 (TCF EU) follows gdpr;
	// the US sections 6–12 (uspv1, usnat, usca, usva, usco, usut, usct)
	// follow us_privacy_opt_out, with consent meaning "did not opt out of
	// sale, sharing or targeted advertising"; other sections are ignored.
	// A section that applies but is missing or unreadable counts as no
	// consent.
	GPPSections map[int]string `yaml:"gpp_sections"`
}

// TCFConfig is what consent means in a TCF v2 TC string.
type TCFConfig struct {
	// VendorID is callbid's IAB Global Vendor List id. 0 (default): any
	// non-empty consent string counts as consent (it is not decoded).
	// Otherwise the string's core segment must give this vendor consent.
	VendorID int `yaml:"vendor_id"`
	// Purposes that must have consent too, by TCF purpose id (1–24), for
	// example [1, 2, 7]: store information on a device, basic ads, measure
	// ad performance. Only with vendor_id.
	Purposes []int `yaml:"purposes"`
}

// TestRequestsConfig says how test=1 requests are answered. Either way
// they never reserve a pool number, charge a budget, count in hit rates,
// participation or reports, and their notices change nothing.
type TestRequestsConfig struct {
	// Mode: "no_bid" (default; reason "test") or "bid" (a real price, with
	// Number in the markup instead of a tracking number).
	Mode string `yaml:"mode"`
	// Number is the E.164 number test bids show (required with mode bid);
	// callbid attributes no call to it.
	Number string `yaml:"number"`
}

// DebugHeader asks for the per-campaign explanation in the bid response
// ext; its value must equal server.admin_token (unset token: never).
const DebugHeader = "X-Callbid-Debug"

// testBidPrefix starts the bid id of a test bid. Real bid ids start with
// eight base-32 digits and a dash, so they never do; the bid id is signed
// into the notice token, so nobody can turn a real bid into a test one.
const testBidPrefix = "test-"

func (c *Config) validatePolicies(add func(path, format string, args ...any)) {
	pc := &c.Privacy
	if _, ok := parseAction(pc.GDPR); !ok {
		add("privacy.gdpr", "%q must be consent_required, anonymous, no_bid or ignore", pc.GDPR)
	}
	switch pc.USPrivacyOptOut {
	case "", "no_bid", "anonymous", "ignore":
	default:
		add("privacy.us_privacy_opt_out", "%q must be no_bid, anonymous or ignore", pc.USPrivacyOptOut)
	}
	if v := pc.TCF.VendorID; v < 0 || v > 65535 {
		add("privacy.tcf.vendor_id", "%d must be a Global Vendor List id, 1-65535 (0: do not decode)", v)
	}
	for i, p := range pc.TCF.Purposes {
		if p < 1 || p > privacy.MaxPurpose {
			add(fmt.Sprintf("privacy.tcf.purposes[%d]", i), "%d must be a TCF purpose id, 1-%d", p, privacy.MaxPurpose)
		}
	}
	if len(pc.TCF.Purposes) > 0 && pc.TCF.VendorID == 0 {
		add("privacy.tcf.purposes", "need privacy.tcf.vendor_id: purposes are read from the decoded TC string")
	}
	for _, id := range sortedIntKeys(pc.GPPSections) {
		path := fmt.Sprintf("privacy.gpp_sections.%d", id)
		if id < 1 || id >= maxGPPSID {
			add(path, "section id %d must be 1-%d", id, maxGPPSID-1)
		}
		if a, ok := parseAction(pc.GPPSections[id]); !ok || pc.GPPSections[id] == "" {
			add(path, "%q must be consent_required, anonymous, no_bid or ignore", pc.GPPSections[id])
		} else if a == actConsent && id != privacy.GPPSectionTCFEU && !privacy.IsUSSection(id) {
			add(path, "callbid cannot read consent in GPP section %d (it reads 2 and 6-12); use no_bid, anonymous or ignore", id)
		}
	}
	switch c.TestRequests.Mode {
	case "", "no_bid":
	case "bid":
		if !isE164(c.TestRequests.Number) {
			add("test_requests.number", "%q must be an E.164 number like +18005550100 with mode bid", c.TestRequests.Number)
		}
	default:
		add("test_requests.mode", "%q must be no_bid or bid", c.TestRequests.Mode)
	}
}

func isE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' {
		return false
	}
	_, err := strconv.ParseUint(s[1:], 10, 64)
	return err == nil
}

// maxGPPSID bounds the GPP section ids a policy can name (regs.gpp_sid
// holds int8s).
const maxGPPSID = 128

// action is what a privacy signal that applies does to the bid.
type action uint8

const (
	actIgnore    action = iota
	actConsent          // no bid without consent
	actAnonymous        // without consent, bid without personal data
	actNoBid            // never bid
)

// parseAction reads an action name; "" is consent_required.
func parseAction(s string) (action, bool) {
	switch s {
	case "", "consent_required":
		return actConsent, true
	case "anonymous":
		return actAnonymous, true
	case "no_bid":
		return actNoBid, true
	case "ignore":
		return actIgnore, true
	}
	return 0, false
}

// verdict is the privacy policy's answer for one request.
type verdict uint8

const (
	verdictBid       verdict = iota
	verdictAnonymous         // bid without personal data
	verdictBlock             // no bid (CausePrivacy)
)

// policy is the compiled form.
type policy struct {
	gdpr        action // regs.gdpr=1
	usp         action // US Privacy opt-out (actConsent: no bid when opted out)
	tcfVendor   int    // 0: a non-empty consent string is consent
	tcfPurposes uint32 // bit p-1 for purpose p
	gpp         [maxGPPSID]action
	testBid     bool
	testNumber  string
}

func compilePolicy(c *Config) policy {
	pc := &c.Privacy
	p := policy{testBid: c.TestRequests.Mode == "bid", testNumber: c.TestRequests.Number,
		tcfVendor: pc.TCF.VendorID}
	p.gdpr, _ = parseAction(pc.GDPR)
	switch pc.USPrivacyOptOut {
	case "", "no_bid":
		p.usp = actConsent
	case "anonymous":
		p.usp = actAnonymous
	}
	for _, n := range pc.TCF.Purposes {
		if n >= 1 && n <= privacy.MaxPurpose {
			p.tcfPurposes |= 1 << (n - 1)
		}
	}
	for id := range p.gpp {
		switch {
		case id == privacy.GPPSectionTCFEU:
			p.gpp[id] = p.gdpr
		case privacy.IsUSSection(id):
			p.gpp[id] = p.usp
		}
		if s, ok := pc.GPPSections[id]; ok {
			p.gpp[id], _ = parseAction(s)
		}
	}
	return p
}

// check applies the privacy policy to req. Consent strings are decoded
// only when a signal that applies needs them (regs.gdpr=1 with a vendor
// id, a GPP section listed in regs.gpp_sid), and without allocating.
func (p *policy) check(req *openrtb.Request) verdict {
	v := verdictBid
	if req.Regs.GDPR == 1 && p.gdpr != actIgnore {
		v = max(v, p.apply(p.gdpr, func() bool { return p.tcfConsent(req.User.Consent) }))
	}
	if p.usp != actIgnore {
		if out, err := privacy.USPrivacyOptOut(req.Regs.USPrivacy); err == nil {
			v = max(v, p.apply(p.usp, func() bool { return !out }))
		}
	}
	if len(req.Regs.GPPSID) > 0 && v != verdictBlock {
		v = max(v, p.checkGPP(req))
	}
	return v
}

// apply maps an action and the consent it needs to a verdict; consent is
// only asked for when the action depends on it.
func (p *policy) apply(a action, consent func() bool) verdict {
	switch a {
	case actNoBid:
		return verdictBlock
	case actConsent:
		if !consent() {
			return verdictBlock
		}
	case actAnonymous:
		if !consent() {
			return verdictAnonymous
		}
	}
	return verdictBid
}

// tcfConsent: tc gives callbid consent (see TCFConfig).
func (p *policy) tcfConsent(tc string) bool {
	if p.tcfVendor == 0 {
		return tc != ""
	}
	ok, err := privacy.TCFConsent(tc, p.tcfVendor, p.tcfPurposes)
	return ok && err == nil
}

// checkGPP applies the policy of each GPP section regs.gpp_sid lists. The
// string is parsed at most once, when a section's action needs it.
func (p *policy) checkGPP(req *openrtb.Request) verdict {
	var g privacy.GPP
	parsed, bad := false, false
	v := verdictBid
	for _, sid := range req.Regs.GPPSID {
		if sid < 0 {
			continue
		}
		id := int(sid)
		v = max(v, p.apply(p.gpp[id], func() bool {
			if !parsed {
				parsed, bad = true, g.Parse(req.Regs.GPP) != nil
			}
			sec, ok := g.Section(id)
			if bad || !ok {
				return false
			}
			if id == privacy.GPPSectionTCFEU {
				return p.tcfConsent(sec)
			}
			out, err := privacy.USOptOut(id, sec)
			return err == nil && !out
		}))
	}
	return v
}

// debugAllowed reports whether v, the request's DebugHeader, is the admin
// token. Constant-time, so the token cannot be guessed byte by byte.
func debugAllowed(v []byte, srv *ServerConfig) bool {
	if len(v) == 0 || len(srv.AdminToken) < 16 {
		return false
	}
	return subtle.ConstantTimeCompare(v, []byte(srv.AdminToken)) == 1
}

// appendDebugExt closes the response object in d.out with
// "ext":{"callbid_debug":{…}}: the request's result and, per campaign,
// whether it bid, why not, and its price before floors. Debug answers are
// rare (an operator with the admin token), so this path may allocate.
func appendDebugExt(dst []byte, d *decision, s *snapshot) []byte {
	if n := len(dst); n > 0 && dst[n-1] == '}' {
		dst = dst[:n-1]
	}
	dst = append(dst, `,"ext":{"callbid_debug":{"result":`...)
	if len(d.Bids) > 0 {
		dst = jsonw.AppendString(dst, "bid")
	} else {
		dst = jsonw.AppendString(dst, d.Cause.String())
	}
	if d.anonymous {
		dst = append(dst, `,"privacy":"anonymous"`...)
	}
	dst = append(dst, `,"campaigns":[`...)
	for i, c := range s.campaigns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = jsonw.AppendString(dst, c.id)
		dst = append(dst, `,"result":`...)
		var why string
		switch {
		case !d.evaluated:
			why = "not_evaluated: " + d.Cause.String()
		case i < len(d.cands) && d.cands[i].bid:
			why = "bid"
		case i < len(d.cands) && d.cands[i].cause != CauseNone:
			why = d.cands[i].cause.String()
		case i < len(d.cands) && d.cands[i].imp != CauseNone:
			why = d.cands[i].imp.String()
		default:
			why = "outbid" // eligible, another campaign's price was higher
		}
		dst = jsonw.AppendString(dst, why)
		if d.evaluated && i < len(d.cands) && d.cands[i].price > 0 {
			dst = append(dst, `,"price":`...)
			dst = openrtb.AppendPrice(dst, d.cands[i].price/1e6)
		}
		if d.evaluated && i < len(d.cands) && d.cands[i].exLearned {
			dst = append(dst, `,"exchange_factor":`...)
			dst = strconv.AppendFloat(dst, d.cands[i].exFactor, 'g', 6, 64)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}}}"...)
}

func sortedIntKeys[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
