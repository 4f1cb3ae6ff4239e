package httpapi

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/jsonw"
	"github.com/callbid/callbid/numbers"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// POST /v1/calls (docs/openapi.yaml): the JSON form with its bearer token,
// or Twilio's signed form post (twilio.go). numbers.Pools.Attribute
// answers; this file reads the request and writes the answer.

var parsers fastjson.ParserPool

var answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// parseCallBody parses and checks a /v1/calls body into r, whose slices
// then point into the parser. It never panics; the error says what is wrong
// in a sentence fit for the caller.
func parseCallBody(ps *fastjson.Parser, body []byte, r *numbers.CallRequest) error {
	v, err := ps.ParseBytes(body)
	if err != nil {
		return fmt.Errorf("body is not valid JSON: %w", err)
	}
	if v.Type() != fastjson.TypeObject {
		return errors.New("body must be a JSON object")
	}
	str := func(name string, required bool, maxLen int) ([]byte, error) {
		f := v.Get(name)
		if f == nil || f.Type() == fastjson.TypeNull {
			if required {
				return nil, fmt.Errorf("%s is required", name)
			}
			return nil, nil
		}
		b, err := f.StringBytes()
		if err != nil {
			return nil, fmt.Errorf("%s must be a string", name)
		}
		if len(b) > maxLen {
			return nil, fmt.Errorf("%s is longer than %d bytes", name, maxLen)
		}
		if required && len(b) == 0 {
			return nil, fmt.Errorf("%s is required", name)
		}
		return b, nil
	}
	var errs []error
	if r.CallID, err = str("call_id", true, 256); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, parseTarget(str, r)...)
	if r.Ext, err = str("ext", false, 9); err != nil {
		errs = append(errs, err)
	} else {
		for _, c := range r.Ext {
			if c < '0' || c > '9' {
				errs = append(errs, fmt.Errorf("ext %q must be digits only", r.Ext))
				break
			}
		}
	}
	if r.ANI, err = str("ani", false, 64); err != nil {
		errs = append(errs, err)
	}
	ts, err := str("started_at", false, 64)
	if err != nil {
		errs = append(errs, err)
	} else if len(ts) > 0 {
		t, perr := time.Parse(time.RFC3339Nano, string(ts))
		if perr != nil {
			errs = append(errs, fmt.Errorf("started_at %q is not an RFC 3339 time", ts))
		} else {
			r.StartedAt = t.UnixNano()
		}
	}
	return errors.Join(errs...)
}

// parseTarget reads what the contact was addressed to into r.DNIS: the
// number dialled (dnis, E.164), or the tracking key of a chat, sms or
// callback pool (key, or dnis with channel chat, sms or callback). A key
// is attributed exactly like a number: numbers looks it up among the
// pools' entries. A non-E.164 dnis without a channel stays an error, so a
// voice platform's badly formatted number is not taken for a key.
func parseTarget(str func(string, bool, int) ([]byte, error), r *numbers.CallRequest) []error {
	var errs []error
	ch := channel.Voice
	name, err := str("channel", false, 16)
	if err != nil {
		errs = append(errs, err)
	} else if len(name) > 0 {
		var ok bool
		if ch, ok = channel.Parse(string(name)); !ok {
			errs = append(errs, fmt.Errorf("channel %q is not %s", name, channel.Names))
		}
	}
	key, err := str("key", false, 32)
	if err != nil {
		return append(errs, err)
	}
	if r.DNIS, err = str("dnis", len(key) == 0, 32); err != nil {
		return append(errs, fmt.Errorf("%w (or key, the tracking key of a chat, sms or callback)", err))
	}
	switch {
	case len(key) > 0 && len(r.DNIS) > 0:
		errs = append(errs, errors.New("give dnis or key, not both"))
	case len(key) > 0:
		r.DNIS = key
		if !numbers.ValidKey(string(key)) {
			errs = append(errs, fmt.Errorf("key %q is not a tracking key (1-32 letters, digits, '-' or '_')", key))
		} else if ch == channel.Voice && len(name) > 0 {
			errs = append(errs, errors.New("a tracking key is for channel chat, sms or callback, not voice"))
		}
	case numbers.ValidE164(string(r.DNIS)):
		if ch != channel.Voice {
			errs = append(errs, fmt.Errorf("channel %s needs a tracking key, not the number %q", ch, r.DNIS))
		}
	case ch != channel.Voice && numbers.ValidKey(string(r.DNIS)):
	default:
		errs = append(errs, fmt.Errorf("dnis %q is not an E.164 number (a tracking key needs channel chat, sms or callback, or the key field)", r.DNIS))
	}
	return errs
}

// serveCalls serves POST /v1/calls.
func serveCalls(ctx *fasthttp.RequestCtx, p *numbers.Pools) {
	ctx.SetContentType("application/json")
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.SetBodyString(`{"error":"use POST"}`)
		return
	}
	if isForm(ctx) {
		serveTwilio(ctx, p)
		return
	}
	if !bearerOK(ctx.Request.Header.Peek("Authorization"), p.CallsToken()) {
		p.CountRefused(numbers.RefusedToken)
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		ctx.SetBodyString(`{"error":"a valid bearer token is required"}`)
		return
	}
	ps := parsers.Get()
	defer parsers.Put(ps)
	var req numbers.CallRequest
	if err := parseCallBody(ps, ctx.PostBody(), &req); err != nil {
		p.CountRefused(numbers.RefusedBody)
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		b := jsonw.AppendString([]byte(`{"error":`), err.Error())
		ctx.SetBody(append(b, '}'))
		return
	}
	bp := answerBufs.Get().(*[]byte)
	*bp = p.Attribute(&req, (*bp)[:0]).JSON
	ctx.SetBody(*bp)
	answerBufs.Put(bp)
}

// bearerOK reports whether the Authorization header h carries tok as a
// bearer token; an empty tok accepts nothing.
func bearerOK(h, tok []byte) bool {
	const prefix = "Bearer "
	// the scheme is case-insensitive (RFC 9110 §11.1)
	if len(tok) == 0 || len(h) <= len(prefix) || !bytes.EqualFold(h[:len(prefix)], []byte(prefix)) {
		return false
	}
	return subtle.ConstantTimeCompare(h[len(prefix):], tok) == 1
}
