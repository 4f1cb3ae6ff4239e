package bidder

import (
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
)

// TestCallCapsAsABuyerUsesThem: a campaign capped at 2 calls an hour, 3 a
// day and 1 at once, where a caller calling back within an hour counts
// once. Calls arrive as the consumers hand them over: the attribution
// (callbid.attribution.v1) and the center's ANSWERED / ENDED (cc.call.v1).
func TestCallCapsAsABuyerUsesThem(t *testing.T) {
	cfg := parseYAMLConfig(t, strings.Replace(managerYAML, "    status: active\n",
		"    status: active\n    call_caps: { per_hour: 2, per_day: 3, concurrent: 1, repeat_window: 1h }\n", 1))
	cfg.Campaigns[0].Start, cfg.Campaigns[0].End, cfg.Campaigns[0].TotalBudget = "", "", 0
	e := newEnv(t, cfg, 0)
	bids := func(why string) {
		t.Helper()
		if r := e.b.Decide(banner300(), "default", e.now); len(r.Bids) != 1 {
			t.Fatalf("%s: want a bid, got %s", why, r.Cause)
		}
	}
	capped := func(why string) {
		t.Helper()
		if r := e.b.Decide(banner300(), "default", e.now); r.Cause != CauseCallCap {
			t.Fatalf("%s: want call_cap, got %s (%d bids)", why, r.Cause, len(r.Bids))
		}
	}
	attr := func(id, ani string) {
		e.b.HandleAttribution(&events.Attribution{CallID: id, ANI: ani, Accepted: true, CampaignID: "mortgage",
			StartedAt: e.now, Match: "exact"})
	}
	call := func(id, typ string) {
		e.b.HandleCall(&events.Call{CallID: id, EventType: typ, OccurredAt: e.now})
	}
	bids("no calls yet")
	attr("c1", "+14155550101")
	bids("one call this hour")
	call("c1", events.CallAnswered)
	capped("one call in progress, concurrent cap 1")
	e.now = e.now.Add(3 * time.Minute)
	call("c1", events.CallEnded)
	bids("call ended")
	attr("c2", "+14155550101") // the same caller again within the hour
	if got := e.b.CallCounts("mortgage", e.now); got.Hour != 1 || got.Repeats != 1 {
		t.Fatalf("a repeat caller counts once: %+v", got)
	}
	bids("repeat caller not counted")
	e.b.HandleAttribution(&events.Attribution{CallID: "c-other", ANI: "+1", Accepted: true, CampaignID: "auto", StartedAt: e.now})
	e.b.HandleAttribution(&events.Attribution{CallID: "c-refused", ANI: "+2", Accepted: false, CampaignID: "mortgage", StartedAt: e.now})
	bids("other campaigns' and refused calls do not count")
	attr("c3", "+14155550102")
	capped("2 calls this hour")
	attr("c3", "+14155550102") // a duplicate record
	if got := e.b.CallCounts("mortgage", e.now); got.Hour != 2 || got.Day != 2 {
		t.Fatalf("duplicate attribution counted: %+v", got)
	}
	e.now = e.now.Add(time.Hour) // 10:33 New York: a new hour
	bids("new hour")
	// The center's ANSWERED can come before the attribution is consumed.
	call("c4", events.CallAnswered)
	attr("c4", "+14155550103")
	if got := e.b.CallCounts("mortgage", e.now); got.Day != 3 || got.Concurrent != 1 {
		t.Fatalf("answered before attributed: %+v", got)
	}
	call("c4", events.CallEnded)
	capped("3 calls today")
	// A record of yesterday (a replay) does not count today.
	e.b.HandleAttribution(&events.Attribution{CallID: "old", ANI: "+3", Accepted: true, CampaignID: "mortgage",
		StartedAt: e.now.Add(-24 * time.Hour)})
	if got := e.b.CallCounts("mortgage", e.now); got.Day != 3 {
		t.Fatalf("yesterday's call counted today: %+v", got)
	}
	e.now = e.now.Add(24 * time.Hour)
	bids("a new day")
	// Caps survive a reload, and a reload that raises them reopens bidding.
	e.now = e.now.Add(-24 * time.Hour)
	cfg.Campaigns[0].CallCaps.PerDay = 10
	cfg.Campaigns[0].CallCaps.PerHour = 10
	if err := e.b.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	bids("caps raised by reload")
	// A call whose ENDED is lost stops counting as in progress after maxCallAge.
	attr("c5", "+14155550105")
	call("c5", events.CallAnswered)
	capped("c5 in progress")
	e.now = e.now.Add(maxCallAge + time.Minute)
	e.b.HandleCall(&events.Call{CallID: "other", EventType: events.CallEnded, OccurredAt: e.now})
	bids("a lost ENDED expires")
}

func TestCallCapsValidate(t *testing.T) {
	cfg := baseConfig()
	cfg.Campaigns[1].CallCaps = CallCapsConfig{PerHour: 5, PerDay: 2, Concurrent: -1, RepeatWindow: -time.Second}
	err := cfg.Validate()
	for _, want := range []string{"campaigns[1].call_caps.per_hour: is above per_day (2)",
		"campaigns[1].call_caps.concurrent: must not be negative", "campaigns[1].call_caps.repeat_window: must not be negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}
