package feedback

import (
	"testing"
	"time"

	"github.com/callbid/callbid/events"
)

func TestTrafficCapsAndSpam(t *testing.T) {
	cfg := Config{}
	cfg.Traffic.IPCap, cfg.Traffic.IFACap = 3, 5
	cfg.Traffic.BlockedRanges = []string{"192.0.2.0/24", "198.51.100.0/25", "198.51.100.128/25", "2001:db8::/32"}
	f, _, now := newTest(t, cfg)
	*now = time.Now() // ristretto TTLs run on the wall clock
	if !f.Allowed(1, 2) {
		t.Fatal("a new device is blocked")
	}
	for i := range 3 {
		f.HandleImpression(msg(events.TopicImpressions, events.Impression{BidID: "b" + itoa(i), Kind: "win", CampaignID: "c1",
			PublisherID: "p1", At: *now, IPHash: 1, IFAHash: 2}))
		f.traffic.counts.Wait()
	}
	if f.Allowed(1, 0) {
		t.Fatal("an ip over its cap is allowed")
	}
	if !f.Allowed(9, 2) {
		t.Fatal("a device id under its cap (3 of 5) is blocked")
	}
	// A SPAM outcome puts the call's device ip and id on the invalid list.
	won := now.Add(-time.Minute)
	feedAttr(f, msg(events.TopicAttribution, events.Attribution{CallID: "k", StartedAt: *now, Match: "exact", Accepted: true,
		CampaignID: "c1", PublisherID: "p1", WonAt: won, IPHash: 50, IFAHash: 60}))
	feedOutcome(f, outcome("k", "SPAM", true, 0, *now))
	f.traffic.invalid.Wait()
	if f.Allowed(50, 0) || f.Allowed(0, 60) || !f.Allowed(51, 61) {
		t.Fatal("SPAM device not blocked, or an innocent one blocked")
	}
	for ip, want := range map[string]bool{"192.0.2.7": false, "192.0.3.1": true, "198.51.100.200": false, "198.51.101.0": true,
		"2001:db8::1": false, "2001:db9::1": true, "::ffff:192.0.2.9": false, "": true, "garbage": true} {
		if got := f.AllowedIP(ip); got != want {
			t.Errorf("AllowedIP(%q) = %v, want %v", ip, got, want)
		}
	}
	st := f.Stats().Blocked
	if st["ip_cap"] != 1 || st["ip_invalid"] != 1 || st["ifa_invalid"] != 1 || st["ip_range"] != 4 {
		t.Fatalf("blocked counts %v", st)
	}
	if len(f.traffic.v4) != 2 {
		t.Fatalf("adjacent ranges not merged: %v", f.traffic.v4)
	}
}
