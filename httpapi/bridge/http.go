package bridge

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/callbid/callbid/ccbridge"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
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

// Server is one of ccbridge's listeners.
type Server struct {
	srv *fasthttp.Server
	// mu guards ln and shut: fasthttp's Shutdown does nothing to a listener
	// whose Serve has not started yet, so Shutdown closes it itself.
	mu   sync.Mutex
	ln   net.Listener
	shut bool
}

// Serve serves on ln until Shutdown (also one that came first).
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		return ln.Close()
	}
	s.ln = ln
	s.mu.Unlock()
	return s.srv.Serve(ln)
}

// Shutdown stops accepting and waits for requests in flight.
func (s *Server) Shutdown() error {
	s.mu.Lock()
	s.shut = true
	ln := s.ln
	s.mu.Unlock()
	err := s.srv.Shutdown()
	if ln != nil {
		if cerr := ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// Webhook builds the webhook listener of br.
func Webhook(br *ccbridge.Bridge) *Server {
	h := &webhook{br: br, auth: br.WebhookAuth()}
	return &Server{srv: &fasthttp.Server{
		Handler:            h.serve,
		Name:               "ccbridge",
		MaxRequestBodySize: h.auth.Webhook.MaxBodyBytes,
		ReadTimeout:        10 * time.Second,
		WriteTimeout:       10 * time.Second,
		IdleTimeout:        120 * time.Second,
		// fasthttp answers a body past MaxRequestBodySize with 400; say 413.
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				br.Oversized()
				ctx.SetStatusCode(fasthttp.StatusRequestEntityTooLarge)
				return
			}
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
		},
	}}
}

// Admin builds the admin listener: /healthz and /metrics (from g).
func Admin(g prometheus.Gatherer) *Server {
	return &Server{srv: &fasthttp.Server{Handler: adminHandler(g), Name: "ccbridge-admin", ReadTimeout: 10 * time.Second}}
}

// adminHandler serves /healthz and /metrics (from g) for the admin listener.
func adminHandler(g prometheus.Gatherer) fasthttp.RequestHandler {
	metrics := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	return func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/healthz":
			ctx.SetStatusCode(fasthttp.StatusOK)
		case "/metrics":
			metrics(ctx)
		default:
			ctx.SetStatusCode(fasthttp.StatusNotFound)
		}
	}
}

type webhook struct {
	br   *ccbridge.Bridge
	auth ccbridge.WebhookAuth
}

// serve is the webhook handler.
func (b *webhook) serve(ctx *fasthttp.RequestCtx) {
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
	if len(ctx.PostBody()) > b.auth.Webhook.MaxBodyBytes {
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
		err = b.br.HandleJSON(ctx.PostBody())
	case PathTwilioTaskRouter:
		if !b.twilioSigned(ctx, true) {
			b.refuse(ctx, path)
			return
		}
		args := ctx.PostArgs()
		err = b.br.TwilioForm(func(k string) string { return string(args.Peek(k)) })
	case PathEventBridge, PathGenesys:
		if !b.apiKeyOK(ctx) {
			b.refuse(ctx, path)
			return
		}
		err = b.br.HandleJSON(ctx.PostBody())
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

func (b *webhook) refuse(ctx *fasthttp.RequestCtx, path string) {
	b.br.Refused(path, ctx.RemoteIP().String())
	ctx.SetStatusCode(fasthttp.StatusUnauthorized)
}

func (b *webhook) apiKeyOK(ctx *fasthttp.RequestCtx) bool {
	w := &b.auth.Webhook
	if w.APIKey == "" {
		return w.AllowUnauthenticated
	}
	got := ctx.Request.Header.Peek(w.APIKeyHeader)
	return subtle.ConstantTimeCompare(got, []byte(w.APIKey)) == 1
}

// twilioSigned checks X-Twilio-Signature: base64(HMAC-SHA1(auth token,
// URL + the form parameters sorted by name, each name then value)). A JSON
// body is not in the signed string; Twilio puts its SHA-256 in the
// bodySHA256 query parameter, which the URL (and so the signature) covers.
func (b *webhook) twilioSigned(ctx *fasthttp.RequestCtx, form bool) bool {
	token := b.auth.TwilioAuthToken
	if token == "" {
		return b.auth.Webhook.AllowUnauthenticated
	}
	sig, err := base64.StdEncoding.DecodeString(string(ctx.Request.Header.Peek("X-Twilio-Signature")))
	if err != nil || len(sig) == 0 {
		return false
	}
	url := strings.TrimSuffix(b.auth.TwilioPublicURL, "/") + string(ctx.RequestURI())
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
