package callbid

import (
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/pacing"
)

// TestFeedbackKeysKeepTheirPaths: the feedback section is composed of the
// configs of the packages it feeds (hit rates, pacing, traffic, reports),
// and keeps the keys and field paths users already have.
func TestFeedbackKeysKeepTheirPaths(t *testing.T) {
	cfg, err := Parse([]byte(`
feedback:
  prior_strength: 50
  time_to_call: {default_mean: 1m}
  pacing: {target: 0.8}
  participation: {notice_window: 2s, cautious_call_rate: 0.03}
  traffic: {ip_cap: 5}
  demand_interval: 5m
  report_retention: 48h
  min_talk_time: 10s
`))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Feedback
	if f.HitRate.PriorStrength != 50 || f.HitRate.TimeToCall.DefaultMean != time.Minute || f.Pacing.Pacing.Target != 0.8 ||
		f.Pacing.Participation.NoticeWindow != 2*time.Second || f.Traffic.IPCap != 5 || f.Reports.DemandInterval != 5*time.Minute ||
		f.Reports.ReportRetention != 48*time.Hour || f.MinTalkTime != 10*time.Second {
		t.Fatalf("keys not read into their packages' configs: %+v", f)
	}
	f.SetDefaults()
	if f.HitRate.CautiousCallRate != 0.03 {
		t.Errorf("participation.cautious_call_rate reaches hit rates as %v, want 0.03", f.HitRate.CautiousCallRate)
	}

	bad, err := Parse([]byte(`
feedback:
  prior_strength: -1
  pacing: {target: 2}
  participation: {slow_start: 3}
  traffic: {blocked_ranges: ["10.0.0.0/99"]}
  demand_interval: -1s
  max_calls: -5
`))
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Validate()
	for _, want := range []string{"feedback.prior_strength:", "feedback.pacing.target:", "feedback.participation.slow_start:",
		"feedback.traffic.blocked_ranges[0]:", "feedback.demand_interval:", "feedback.max_calls:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	if _, err := Parse([]byte("feedback:\n  pacing: {targett: 0.8}\n")); err == nil || !strings.Contains(err.Error(), "targett") {
		t.Errorf("a misspelt feedback key is not an error: %v", err)
	}
}

// TestPacingWindowIsCapacitys: pacing adds its bought calls back to
// capacity's net headroom over capacity's λ_now window, so there is one
// setting, capacity.arrival_window; the old pacing key still loads (with a
// warning) and a conflicting pair is an error naming the path.
func TestPacingWindowIsCapacitys(t *testing.T) {
	for _, tc := range []struct {
		yaml       string
		want       time.Duration // both windows after Parse
		warn, fail bool
	}{
		{yaml: "capacity: {arrival_window: 3m}\n", want: 3 * time.Minute},
		{yaml: "feedback:\n  pacing: {arrival_window: 90s}\n", want: 90 * time.Second, warn: true},
		{yaml: "capacity: {arrival_window: 90s}\nfeedback:\n  pacing: {arrival_window: 90s}\n", want: 90 * time.Second, warn: true},
		{yaml: "capacity: {arrival_window: 3m}\nfeedback:\n  pacing: {arrival_window: 90s}\n", warn: true, fail: true},
		{yaml: "{}\n"},
	} {
		cfg, err := Parse([]byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(strings.Join(cfg.Warnings, "\n"), "feedback.pacing.arrival_window")
		if warned != tc.warn {
			t.Errorf("%q: warning %v, want %v (%q)", tc.yaml, warned, tc.warn, cfg.Warnings)
		}
		conflict := false
		for _, e := range cfg.crossCheck() {
			conflict = conflict || strings.HasPrefix(e.Error(), "feedback.pacing.arrival_window: ")
		}
		if conflict != tc.fail {
			t.Errorf("%q: conflict error %v, want %v", tc.yaml, conflict, tc.fail)
		}
		if tc.fail {
			continue
		}
		if p, c := cfg.Feedback.Pacing.Pacing.ArrivalWindow, cfg.Capacity.ArrivalWindow; p != tc.want || c != tc.want {
			t.Errorf("%q: pacing window %v, capacity window %v, want both %v", tc.yaml, p, c, tc.want)
		}
	}
	// headroom_gross chose between capacity's net and gross headroom; pacing
	// now combines capacity's facts itself, so it is ignored, with a warning.
	cfg, err := Parse([]byte("feedback:\n  pacing: {headroom_gross: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(cfg.Warnings, "\n"); !strings.Contains(w, "feedback.pacing.headroom_gross") {
		t.Errorf("no deprecation warning for headroom_gross: %q", w)
	}
	// Unset, both packages fill the same default.
	var p pacing.Config
	p.SetDefaults()
	var c capacity.Config
	c.SetDefaults()
	if p.Pacing.ArrivalWindow != c.ArrivalWindow {
		t.Errorf("default windows differ: pacing %v, capacity %v", p.Pacing.ArrivalWindow, c.ArrivalWindow)
	}
}
