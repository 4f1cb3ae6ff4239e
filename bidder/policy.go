package bidder

import (
	"crypto/subtle"
	"strconv"

	"github.com/callbid/callbid/jsonw"
	"github.com/callbid/callbid/openrtb"
	"github.com/valyala/fasthttp"
)

// Exchange-facing policies: privacy signals, test=1 requests, and the
// per-request debug answer.

// PrivacyConfig says what callbid does with the request's privacy signals.
type PrivacyConfig struct {
	// GDPR, where regs.gdpr=1: "consent_required" (default: no bid without
	// a user.consent string), "no_bid" (never bid), or "ignore".
	GDPR string `yaml:"gdpr"`
	// USPrivacyOptOut, when the US Privacy string says the user opted out
	// of sale ("1YYN"): "no_bid" (default) or "ignore".
	USPrivacyOptOut string `yaml:"us_privacy_opt_out"`
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
	switch c.Privacy.GDPR {
	case "", "consent_required", "no_bid", "ignore":
	default:
		add("privacy.gdpr", "%q must be consent_required, no_bid or ignore", c.Privacy.GDPR)
	}
	switch c.Privacy.USPrivacyOptOut {
	case "", "no_bid", "ignore":
	default:
		add("privacy.us_privacy_opt_out", "%q must be no_bid or ignore", c.Privacy.USPrivacyOptOut)
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

// policy is the compiled form.
type policy struct {
	gdprConsent bool // regs.gdpr=1 needs a consent string
	gdprNoBid   bool // regs.gdpr=1: no bid
	usOptOut    bool // US Privacy opt-out of sale: no bid
	testBid     bool
	testNumber  string
}

func compilePolicy(c *Config) policy {
	return policy{gdprConsent: c.Privacy.GDPR == "" || c.Privacy.GDPR == "consent_required",
		gdprNoBid: c.Privacy.GDPR == "no_bid", usOptOut: c.Privacy.USPrivacyOptOut != "ignore",
		testBid: c.TestRequests.Mode == "bid", testNumber: c.TestRequests.Number}
}

// privacyBlocks applies the privacy policy to req. Consent strings are
// not parsed (TCF vendor consent is not checked): present is enough.
func (p *policy) privacyBlocks(req *openrtb.Request) bool {
	if req.Regs.GDPR == 1 && (p.gdprNoBid || (p.gdprConsent && req.User.Consent == "")) {
		return true
	}
	// US Privacy string: version, notice, opt-out of sale, LSPA ("1YYN").
	us := req.Regs.USPrivacy
	return p.usOptOut && len(us) == 4 && (us[2] == 'Y' || us[2] == 'y')
}

// debugAllowed reports whether the request carries the admin token in
// DebugHeader. Constant-time, so the token cannot be guessed byte by byte.
func debugAllowed(ctx *fasthttp.RequestCtx, srv *ServerConfig) bool {
	v := ctx.Request.Header.Peek(DebugHeader)
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
