package numbers

import (
	"strings"
	"testing"
)

func TestTwilioConfigValidate(t *testing.T) {
	cfg := onePool(1)
	cfg.Twilio = TwilioConfig{PublicURL: "bid.example.com/v1/calls", NextURL: "ftp://x"}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "twilio.public_url") || !strings.Contains(err.Error(), "twilio.next_url") {
		t.Fatalf("Validate = %v", err)
	}
}
