package callbid

import "testing"

// CALLBID_TWILIO_AUTH_TOKEN fills numbers.twilio.auth_token, as the other
// secrets are filled.
func TestTwilioAuthTokenFromEnv(t *testing.T) {
	cfg, err := Load("configs/production.yaml", env(EnvNoticeSecret, "0123456789abcdef-secret", EnvCallsToken, "tok",
		EnvTwilioAuthToken, "twilio-token"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Numbers.Twilio.AuthToken != "twilio-token" {
		t.Fatalf("numbers.twilio.auth_token = %q", cfg.Numbers.Twilio.AuthToken)
	}
}
