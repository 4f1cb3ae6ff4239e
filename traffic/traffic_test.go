package traffic

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

var zeroLog = zerolog.Nop()

func newFilter(t *testing.T, cfg Config) *Filter {
	t.Helper()
	f, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

func TestTrafficCapsAndSpam(t *testing.T) {
	f := newFilter(t, Config{IPCap: 3, IFACap: 5,
		BlockedRanges: []string{"192.0.2.0/24", "198.51.100.0/25", "198.51.100.128/25", "2001:db8::/32"}})
	now := time.Now() // the TTLs run on the wall clock
	if !f.Allowed(1, 2) {
		t.Fatal("a new device is blocked")
	}
	for range 3 {
		f.Won(1, 2, now)
		f.counts.Wait() // the first win's Set lands before the next win (bump's doc)
	}
	if f.Allowed(1, 0) {
		t.Fatal("an ip over its cap is allowed")
	}
	if !f.Allowed(9, 2) {
		t.Fatal("a device id under its cap (3 of 5) is blocked")
	}
	// A SPAM outcome puts the call's device ip and id on the invalid list.
	f.Spam(50, 60)
	if f.Allowed(50, 0) || f.Allowed(0, 60) || !f.Allowed(51, 61) {
		t.Fatal("SPAM device not blocked, or an innocent one blocked")
	}
	for ip, want := range map[string]bool{"192.0.2.7": false, "192.0.3.1": true, "198.51.100.200": false, "198.51.101.0": true,
		"2001:db8::1": false, "2001:db9::1": true, "::ffff:192.0.2.9": false, "": true, "garbage": true} {
		if got := f.AllowedIP(ip); got != want {
			t.Errorf("AllowedIP(%q) = %v, want %v", ip, got, want)
		}
	}
	st := f.Blocked()
	if st["ip_cap"] != 1 || st["ip_invalid"] != 1 || st["ifa_invalid"] != 1 || st["ip_range"] != 4 {
		t.Fatalf("blocked counts %v", st)
	}
	if len(f.v4) != 2 {
		t.Fatalf("adjacent ranges not merged: %v", f.v4)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	_, err := New(Config{IPCap: -1, BlockedRanges: []string{"10.0.0.0/8", "10.0.0.0/99"}}, zerolog.Nop())
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"ip_cap:", "blocked_ranges[1]:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
