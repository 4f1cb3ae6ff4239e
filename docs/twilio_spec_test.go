package docs

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/httpapi"
	"github.com/callbid/callbid/numbers"
	"github.com/rs/zerolog"
)

// twilioSign is Twilio's documented algorithm, written out again here so the
// test does not trust the code it checks.
func twilioSign(token, u string, form url.Values) string {
	var keys []string
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := u
	for _, k := range keys {
		s += k + form.Get(k)
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Twilio's form post and its answers (TwiML, JSON, 403) match openapi.yaml.
// libopenapi-validator checks the post's path, method and media type and the
// answers; it does not check form fields against TwilioVoiceWebhook (tried:
// a required field the post lacks passes), so numbers' tests check those.
func TestTwilioWebhookMatchesSpec(t *testing.T) {
	_, v := loadSpec(t)
	const tok = "spec-test-twilio-token"
	pools, err := numbers.New(numbers.Config{CallsToken: "spec-calls-token", Pools: []numbers.PoolConfig{{
		ID: "p", Numbers: []string{"+18005550110"}}},
		Twilio: numbers.TwilioConfig{AuthToken: tok, PublicURL: "https://bid.example.com/v1/calls",
			NextURL: "https://cc.example.com/flow"}}, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"CallSid": {"CA0123456789abcdef0123456789abcdef"}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"},
		"From": {"+14155550188"}, "To": {"+18005550110"}, "CallStatus": {"ringing"}, "Direction": {"inbound"}}
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded",
		"X-Twilio-Signature": twilioSign(tok, "https://bid.example.com/v1/calls", form)}
	public, _ := httpapi.NewServer(mustBidder(t, pools), httpapi.Options{Pools: pools}, zerolog.Nop()).Handlers()
	req, r := serve(t, public, "POST", "/v1/calls", hdr, []byte(form.Encode()))
	body := check(t, v, "Twilio form post", req, r, 200)
	if !strings.Contains(string(body), `<Redirect method="POST">https://cc.example.com/flow?callbid_accept=true`) {
		t.Errorf("TwiML: %s", body)
	}
	hdr["Accept"] = "application/json"
	req, r = serve(t, public, "POST", "/v1/calls", hdr, []byte(form.Encode()))
	check(t, v, "Twilio form post, JSON answer", req, r, 200)
	hdr["X-Twilio-Signature"] = twilioSign("another-token", "https://bid.example.com/v1/calls", form)
	req, r = serve(t, public, "POST", "/v1/calls", hdr, []byte(form.Encode()))
	check(t, v, "Twilio form post, bad signature", req, r, 403)
	if n := pools.Stats().BadTwilioSignatures; n != 1 {
		t.Errorf("bad signatures counted %d, want 1", n)
	}
}

// mustBidder is a bidder without campaigns over pools, for tests of the
// routes beside the bid.
func mustBidder(t *testing.T, pools *numbers.Pools) *bidder.Bidder {
	t.Helper()
	b, err := bidder.New(bidder.Config{Server: bidder.ServerConfig{NoticeBaseURL: "https://bid.example.com", NoticeSecret: "spec-test-notice-secret-0123456"}},
		bidder.Deps{Reserver: pools}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return b
}
