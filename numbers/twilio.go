package numbers

import (
	"fmt"
	"net/url"
)

// Twilio's voice webhook on /v1/calls (served by httpapi): the signature
// replaces the bearer token; CallSid, To and From are call_id, dnis and ani;
// Digits is the extension.

// TwilioConfig lets POST /v1/calls take Twilio's voice webhook (a form post
// signed with X-Twilio-Signature) as well as the JSON form.
type TwilioConfig struct {
	// AuthToken is the Twilio account's auth token, the HMAC-SHA1 key of
	// X-Twilio-Signature. The root config fills it from
	// CALLBID_TWILIO_AUTH_TOKEN (or _FILE); empty refuses every form post.
	AuthToken string `yaml:"auth_token"`
	// PublicURL is the webhook URL exactly as configured in Twilio (scheme,
	// host, port, path; a query string of the request is appended when this
	// has none): Twilio signs the URL it called, which differs from what
	// callbid sees behind a TLS-terminating proxy. Empty: the request's own
	// URL (https when callbid terminates TLS, else http).
	PublicURL string `yaml:"public_url"`
	// NextURL is where the call goes after attribution: callbid answers
	// TwiML <Redirect> to it (Twilio POSTs the call's parameters there, plus
	// callbid_campaign, callbid_match, callbid_accept, callbid_publisher in
	// the query). Empty: callbid answers TwiML <Response/> with nothing in
	// it, which ends the call; set it in production.
	NextURL string `yaml:"next_url"`
}

func (c *TwilioConfig) validate() []error {
	var errs []error
	for _, f := range []struct{ name, v string }{{"public_url", c.PublicURL}, {"next_url", c.NextURL}} {
		if f.v == "" {
			continue
		}
		u, err := url.Parse(f.v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("twilio.%s: %q is not an absolute http(s) URL", f.name, f.v))
		}
	}
	return errs
}

// HasExtensions reports whether dnis is a pool number with extension ranges.
func (p *Pools) HasExtensions(dnis []byte) bool {
	ni, ok := p.byNumber[string(dnis)]
	if !ok || ni.fallback >= 0 {
		return false
	}
	for _, ri := range ni.ranges {
		if p.ranges[ri].from >= 0 {
			return true
		}
	}
	return false
}
