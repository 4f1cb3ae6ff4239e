package numbers

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/valyala/fasthttp"
)

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

const formContentType = "application/x-www-form-urlencoded"

// isForm reports whether a request is Twilio's form-encoded webhook. A JSON
// body is never one, whatever its Content-Type says: curl -d and many HTTP
// libraries label any body form-encoded, and the JSON form with its bearer
// token is the contract voice platforms already use.
func isForm(ctx *fasthttp.RequestCtx) bool {
	if b := bytes.TrimLeft(ctx.Request.Body(), " \t\r\n"); len(b) > 0 && b[0] == '{' {
		return false
	}
	ct := ctx.Request.Header.ContentType()
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return bytes.EqualFold(bytes.TrimSpace(ct), []byte(formContentType))
}

// twilioSignature is Twilio's request signature: base64 of HMAC-SHA1, keyed
// by the auth token, over the full URL followed by every POST parameter's
// name and value, sorted by name (a repeated name's values sorted too).
func twilioSignature(token, fullURL string, params url.Values) string {
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(fullURL))
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			m.Write([]byte(k))
			m.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// twilioURL is the URL Twilio signed for this request.
func (c *callState) twilioURL(ctx *fasthttp.RequestCtx) string {
	q := ctx.URI().QueryString()
	if c.twilio.PublicURL != "" {
		if len(q) > 0 && !strings.Contains(c.twilio.PublicURL, "?") {
			return c.twilio.PublicURL + "?" + string(q)
		}
		return c.twilio.PublicURL
	}
	scheme := "http"
	if ctx.IsTLS() {
		scheme = "https"
	}
	return scheme + "://" + string(ctx.Host()) + string(ctx.RequestURI())
}

// handleTwilio serves Twilio's voice webhook on /v1/calls: the signature
// replaces the bearer token; CallSid, To and From are call_id, dnis and
// ani; Digits (the DTMF a <Gather> collected) is the extension. The answer
// is TwiML (JSON when the client asks for it with Accept).
func (p *Pools) handleTwilio(ctx *fasthttp.RequestCtx) {
	c := &p.calls
	form, err := url.ParseQuery(string(ctx.PostBody()))
	if err != nil {
		p.calls.badBodies.Add(1)
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString(`{"error":"body is not a valid form"}`)
		return
	}
	sig := ctx.Request.Header.Peek("X-Twilio-Signature")
	if c.twilio.AuthToken == "" || len(sig) == 0 ||
		subtle.ConstantTimeCompare(sig, []byte(twilioSignature(c.twilio.AuthToken, c.twilioURL(ctx), form))) != 1 {
		c.badSignatures.Add(1)
		ctx.SetStatusCode(fasthttp.StatusForbidden)
		ctx.SetBodyString(`{"error":"a valid X-Twilio-Signature is required"}`)
		return
	}
	req := callReq{
		callID: []byte(form.Get("CallSid")),
		dnis:   []byte(form.Get("To")),
		ani:    []byte(form.Get("From")),
		ext:    []byte(form.Get("Digits")),
	}
	if err := checkCallReq(&req, "CallSid", "To", "Digits", "From"); err != nil {
		p.calls.badBodies.Add(1)
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		b := appendJSONString([]byte(`{"error":`), err.Error())
		ctx.SetBody(append(b, '}'))
		return
	}
	wantJSON := bytes.Contains(ctx.Request.Header.Peek("Accept"), []byte("application/json"))
	if len(req.ext) == 0 && p.hasExtensions(req.dnis) && !wantJSON {
		// The number's pool uses extensions: collect them first. A <Gather>
		// without action posts the digits back to this same URL.
		// A caller who enters nothing goes on to next_url unattributed.
		ctx.SetContentType("text/xml")
		ctx.SetBody(c.twimlAnswer(`<Gather input="dtmf" finishOnKey="#" timeout="5"/>`, true, MatchNone, "", ""))
		return
	}
	now := p.clockNow().UnixNano()
	bp := answerBufs.Get().(*[]byte)
	defer answerBufs.Put(bp)
	*bp = p.attribute((*bp)[:0], req.callID, req.dnis, req.ext, req.ani, now, now)
	if wantJSON {
		ctx.SetBody(*bp)
		return
	}
	ctx.SetContentType("text/xml")
	ctx.SetBody(c.twiml(req.callID, req.dnis, req.ext))
}

// twiml answers an attributed Twilio call: <Reject/> for a blocklisted
// caller, else a <Redirect> to twilio.next_url carrying the attribution in
// its query (or an empty <Response/> when no next_url is set).
func (c *callState) twiml(callID, dnis, ext []byte) []byte {
	c.mu.Lock()
	rec := c.calls[string(callID)]
	accepted, match := true, MatchNone
	var campaign, publisher string
	if rec != nil {
		accepted, match = rec.job.accepted, matchNames[rec.job.match]
		if a := rec.job.a; a != nil {
			campaign, publisher = a.campaign, a.publisher
		}
	}
	c.mu.Unlock()
	return c.twimlAnswer("", accepted, match, campaign, publisher)
}

// twimlAnswer is a TwiML document: first, then <Reject/> when not accepted
// or the <Redirect> to next_url.
func (c *callState) twimlAnswer(first string, accepted bool, match, campaign, publisher string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Response>`)
	b.WriteString(first)
	switch {
	case !accepted:
		b.WriteString(`<Reject reason="rejected"/>`)
	case c.twilio.NextURL != "":
		q := url.Values{}
		q.Set("callbid_accept", "true")
		q.Set("callbid_match", match)
		q.Set("callbid_campaign", campaign)
		q.Set("callbid_publisher", publisher)
		sep := "?"
		if strings.Contains(c.twilio.NextURL, "?") {
			sep = "&"
		}
		b.WriteString(`<Redirect method="POST">`)
		xmlEscape(&b, c.twilio.NextURL+sep+q.Encode())
		b.WriteString(`</Redirect>`)
	}
	b.WriteString(`</Response>`)
	return []byte(b.String())
}

func xmlEscape(b *strings.Builder, s string) {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	b.WriteString(r.Replace(s))
}

// hasExtensions reports whether dnis is a pool number with extension ranges.
func (p *Pools) hasExtensions(dnis []byte) bool {
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

// checkCallReq applies the JSON form's limits to a call from another
// format; the names are that format's field names.
func checkCallReq(r *callReq, idName, dnisName, extName, aniName string) error {
	switch {
	case len(r.callID) == 0:
		return fmt.Errorf("%s is required", idName)
	case len(r.callID) > 256:
		return fmt.Errorf("%s is longer than 256 bytes", idName)
	case !ValidE164(string(r.dnis)):
		return fmt.Errorf("%s %q is not an E.164 number", dnisName, r.dnis)
	case len(r.ext) > 9:
		return fmt.Errorf("%s is longer than 9 digits", extName)
	case len(r.ani) > 64:
		return fmt.Errorf("%s is longer than 64 bytes", aniName)
	}
	for _, d := range r.ext {
		if d < '0' || d > '9' {
			return fmt.Errorf("%s %q must be digits only", extName, r.ext)
		}
	}
	return nil
}
