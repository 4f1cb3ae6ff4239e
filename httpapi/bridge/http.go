package bridge

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Webhook routes (POST):
//
//	/v1/twilio/events      Twilio Event Streams webhook sink (a JSON array of CloudEvents), X-Twilio-Signature
//	/v1/twilio/taskrouter  TaskRouter workspace EventCallbackUrl (form post), X-Twilio-Signature
//	/v1/eventbridge        EventBridge API destination (Connect contact events, Genesys integration), API key header
//	/v1/genesys            Genesys notifications relayed as JSON, API key header
//
// GET /healthz answers 200. Answers: 204 mapped (or skipped as not for
// callbid), 400 malformed or unrecognised, 401 missing or wrong
// credentials, 405 wrong method, 413 body too large.
const (
	PathTwilioEvents     = "/v1/twilio/events"
	PathTwilioTaskRouter = "/v1/twilio/taskrouter"
	PathEventBridge      = "/v1/eventbridge"
	PathGenesys          = "/v1/genesys"
)

// Server builds the fasthttp server of the webhook listener.
func (b *Bridge) Server() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:            b.ServeHTTP,
		Name:               "ccbridge",
		MaxRequestBodySize: b.cfg.Webhook.MaxBodyBytes,
		ReadTimeout:        10 * time.Second,
		WriteTimeout:       10 * time.Second,
		IdleTimeout:        120 * time.Second,
		// fasthttp answers a body past MaxRequestBodySize with 400; say 413.
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				b.stats.bad.Add(1)
				ctx.SetStatusCode(fasthttp.StatusRequestEntityTooLarge)
				return
			}
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
		},
	}
}

// ServeHTTP is the webhook handler.
func (b *Bridge) ServeHTTP(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if path == "/healthz" {
		ctx.SetStatusCode(fasthttp.StatusOK)
		return
	}
	if !ctx.IsPost() {
		switch path {
		case PathTwilioEvents, PathTwilioTaskRouter, PathEventBridge, PathGenesys:
			ctx.Response.Header.Set("Allow", "POST")
			ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		default:
			ctx.SetStatusCode(fasthttp.StatusNotFound)
		}
		return
	}
	if len(ctx.PostBody()) > b.cfg.Webhook.MaxBodyBytes {
		ctx.SetStatusCode(fasthttp.StatusRequestEntityTooLarge)
		return
	}
	var err error
	switch path {
	case PathTwilioEvents:
		if !b.twilioSigned(ctx, false) {
			b.refuse(ctx, path)
			return
		}
		err = b.HandleJSON(ctx.PostBody())
	case PathTwilioTaskRouter:
		if !b.twilioSigned(ctx, true) {
			b.refuse(ctx, path)
			return
		}
		args := ctx.PostArgs()
		err = b.TwilioForm(func(k string) string { return string(args.Peek(k)) })
	case PathEventBridge, PathGenesys:
		if !b.apiKeyOK(ctx) {
			b.refuse(ctx, path)
			return
		}
		err = b.HandleJSON(ctx.PostBody())
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString(err.Error() + "\n")
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

func (b *Bridge) refuse(ctx *fasthttp.RequestCtx, path string) {
	b.stats.bad.Add(1)
	if n, ok := b.warn.allow(b.now()); ok {
		b.log.Warn().Str("path", path).Str("remote", ctx.RemoteIP().String()).Int("suppressed", n).
			Msg("refused a webhook without valid credentials")
	}
	ctx.SetStatusCode(fasthttp.StatusUnauthorized)
}

func (b *Bridge) apiKeyOK(ctx *fasthttp.RequestCtx) bool {
	if b.cfg.Webhook.APIKey == "" {
		return b.cfg.Webhook.AllowUnauthenticated
	}
	got := ctx.Request.Header.Peek(b.cfg.Webhook.APIKeyHeader)
	return subtle.ConstantTimeCompare(got, []byte(b.cfg.Webhook.APIKey)) == 1
}

// twilioSigned checks X-Twilio-Signature: base64(HMAC-SHA1(auth token,
// URL + the form parameters sorted by name, each name then value)). A JSON
// body is not in the signed string; Twilio puts its SHA-256 in the
// bodySHA256 query parameter, which the URL (and so the signature) covers.
func (b *Bridge) twilioSigned(ctx *fasthttp.RequestCtx, form bool) bool {
	token := b.cfg.Twilio.AuthToken
	if token == "" {
		return b.cfg.Webhook.AllowUnauthenticated
	}
	sig, err := base64.StdEncoding.DecodeString(string(ctx.Request.Header.Peek("X-Twilio-Signature")))
	if err != nil || len(sig) == 0 {
		return false
	}
	url := strings.TrimSuffix(b.cfg.Twilio.PublicURL, "/") + string(ctx.RequestURI())
	var sb strings.Builder
	sb.WriteString(url)
	if form {
		args := ctx.PostArgs()
		keys := make([]string, 0, args.Len())
		for k := range args.All() {
			keys = append(keys, string(k))
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 && keys[i-1] == k {
				continue
			}
			for _, v := range args.PeekMulti(k) {
				sb.WriteString(k)
				sb.Write(v)
			}
		}
	} else {
		sum := sha256.Sum256(ctx.PostBody())
		want := ctx.QueryArgs().Peek("bodySHA256")
		if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(string(want)))) != 1 {
			return false
		}
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(sb.String()))
	return hmac.Equal(mac.Sum(nil), sig)
}

// TwilioSignature computes X-Twilio-Signature for url and sorted form
// params (tests and tools that replay captured callbacks).
func TwilioSignature(authToken, url string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	sb.WriteString(url)
	for _, k := range keys {
		sb.WriteString(k)
		sb.WriteString(params[k])
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(sb.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
