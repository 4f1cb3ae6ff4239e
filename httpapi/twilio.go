package httpapi

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

	"github.com/callbid/callbid/jsonw"
	"github.com/callbid/callbid/numbers"
	"github.com/valyala/fasthttp"
)

// Twilio's voice webhook on POST /v1/calls: a form post signed with
// X-Twilio-Signature (numbers.twilio), answered in TwiML.

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
func twilioURL(ctx *fasthttp.RequestCtx, cfg *numbers.TwilioConfig) string {
	q := ctx.URI().QueryString()
	if cfg.PublicURL != "" {
		if len(q) > 0 && !strings.Contains(cfg.PublicURL, "?") {
			return cfg.PublicURL + "?" + string(q)
		}
		return cfg.PublicURL
	}
	scheme := "http"
	if ctx.IsTLS() {
		scheme = "https"
	}
	return scheme + "://" + string(ctx.Host()) + string(ctx.RequestURI())
}

// serveTwilio serves Twilio's voice webhook on /v1/calls: the signature
// replaces the bearer token; CallSid, To and From are call_id, dnis and
// ani; Digits (the DTMF a <Gather> collected) is the extension. The answer
// is TwiML (JSON when the client asks for it with Accept).
func serveTwilio(ctx *fasthttp.RequestCtx, p *numbers.Pools) {
	tw := p.Twilio()
	form, err := url.ParseQuery(string(ctx.PostBody()))
	if err != nil {
		p.CountRefused(numbers.RefusedBody)
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString(`{"error":"body is not a valid form"}`)
		return
	}
	sig := ctx.Request.Header.Peek("X-Twilio-Signature")
	if tw.AuthToken == "" || len(sig) == 0 ||
		subtle.ConstantTimeCompare(sig, []byte(twilioSignature(tw.AuthToken, twilioURL(ctx, &tw), form))) != 1 {
		p.CountRefused(numbers.RefusedSignature)
		ctx.SetStatusCode(fasthttp.StatusForbidden)
		ctx.SetBodyString(`{"error":"a valid X-Twilio-Signature is required"}`)
		return
	}
	req := numbers.CallRequest{
		CallID: []byte(form.Get("CallSid")),
		DNIS:   []byte(form.Get("To")),
		ANI:    []byte(form.Get("From")),
		Ext:    []byte(form.Get("Digits")),
	}
	if err := checkCallReq(&req, "CallSid", "To", "Digits", "From"); err != nil {
		p.CountRefused(numbers.RefusedBody)
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		b := jsonw.AppendString([]byte(`{"error":`), err.Error())
		ctx.SetBody(append(b, '}'))
		return
	}
	wantJSON := bytes.Contains(ctx.Request.Header.Peek("Accept"), []byte("application/json"))
	if len(req.Ext) == 0 && p.HasExtensions(req.DNIS) && !wantJSON {
		// The number's pool uses extensions: collect them first. A <Gather>
		// without action posts the digits back to this same URL.
		// A caller who enters nothing goes on to next_url unattributed.
		ctx.SetContentType("text/xml")
		ctx.SetBody(twimlAnswer(&tw, `<Gather input="dtmf" finishOnKey="#" timeout="5"/>`, true, numbers.MatchNone, "", ""))
		return
	}
	bp := answerBufs.Get().(*[]byte)
	defer answerBufs.Put(bp)
	ans := p.Attribute(&req, (*bp)[:0]) // started now
	*bp = ans.JSON
	if wantJSON {
		ctx.SetBody(*bp)
		return
	}
	// <Reject/> for a blocklisted caller, else a <Redirect> to
	// twilio.next_url carrying the attribution in its query (or an empty
	// <Response/> when no next_url is set).
	ctx.SetContentType("text/xml")
	ctx.SetBody(twimlAnswer(&tw, "", ans.Accepted, ans.Match, ans.CampaignID, ans.PublisherID))
}

// twimlAnswer is a TwiML document: first, then <Reject/> when not accepted
// or the <Redirect> to next_url.
func twimlAnswer(c *numbers.TwilioConfig, first string, accepted bool, match, campaign, publisher string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Response>`)
	b.WriteString(first)
	switch {
	case !accepted:
		b.WriteString(`<Reject reason="rejected"/>`)
	case c.NextURL != "":
		q := url.Values{}
		q.Set("callbid_accept", "true")
		q.Set("callbid_match", match)
		q.Set("callbid_campaign", campaign)
		q.Set("callbid_publisher", publisher)
		sep := "?"
		if strings.Contains(c.NextURL, "?") {
			sep = "&"
		}
		b.WriteString(`<Redirect method="POST">`)
		xmlEscape(&b, c.NextURL+sep+q.Encode())
		b.WriteString(`</Redirect>`)
	}
	b.WriteString(`</Response>`)
	return []byte(b.String())
}

func xmlEscape(b *strings.Builder, s string) {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	b.WriteString(r.Replace(s))
}

// checkCallReq applies the JSON form's limits to a call from another
// format; the names are that format's field names.
func checkCallReq(r *numbers.CallRequest, idName, dnisName, extName, aniName string) error {
	switch {
	case len(r.CallID) == 0:
		return fmt.Errorf("%s is required", idName)
	case len(r.CallID) > 256:
		return fmt.Errorf("%s is longer than 256 bytes", idName)
	case !numbers.ValidE164(string(r.DNIS)):
		return fmt.Errorf("%s %q is not an E.164 number", dnisName, r.DNIS)
	case len(r.Ext) > 9:
		return fmt.Errorf("%s is longer than 9 digits", extName)
	case len(r.ANI) > 64:
		return fmt.Errorf("%s is longer than 64 bytes", aniName)
	}
	for _, d := range r.Ext {
		if d < '0' || d > '9' {
			return fmt.Errorf("%s %q must be digits only", extName, r.Ext)
		}
	}
	return nil
}
