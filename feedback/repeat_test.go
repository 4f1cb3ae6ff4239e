package feedback

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/hitrate"
)

// repeatCall attributes and ends one qualified call of caller ani on
// campaign c1 (publisher p1, exchange x1) started at at.
func repeatCall(f *Feedback, id, ani string, at time.Time) {
	f.applyAttribution(&events.Attribution{CallID: id, DNIS: "+18005550100", ANI: ani, StartedAt: at, Match: "exact",
		Accepted: true, CampaignID: "c1", PublisherID: "p1", Exchange: "x1", BidID: "b-" + id, WonAt: at.Add(-time.Minute), Skill: "mortgage"})
	f.applyCall(&events.Call{CallID: id, EventType: events.CallEnded, OccurredAt: at.Add(2 * time.Minute), TalkMS: 90_000})
}

// TestRepeatCallersCountOnce is the repeat-caller control as a campaign
// manager reads it: a caller who calls back within repeat_window is one
// qualified call in hit rates and the report, shown in repeat_calls; a
// call after the window, or from another caller, is a new one.
func TestRepeatCallersCountOnce(t *testing.T) {
	f, _, now := newTest(t, Config{RepeatWindow: 24 * time.Hour})
	h := t0.Add(-30 * time.Hour)
	repeatCall(f, "a1", "+15551230001", h)                   // unique
	repeatCall(f, "a2", "+15551230001", h.Add(2*time.Hour))  // repeat: 2 h later
	repeatCall(f, "a3", "+15551230001", h.Add(20*time.Hour)) // repeat: within 24 h of a1
	repeatCall(f, "a4", "+15551230001", h.Add(25*time.Hour)) // unique: a1's window is over
	repeatCall(f, "b1", "+15551230002", h.Add(time.Hour))    // another caller
	repeatCall(f, "n1", "", h.Add(time.Hour))                // no ANI: always counted
	rep, err := buildReport(f, time.Time{}, time.Time{}, "campaign")
	if err != nil {
		t.Fatal(err)
	}
	tot := rep.Total
	if tot.Calls != 6 || tot.UniqueCalls != 4 || tot.RepeatCalls != 2 || tot.QualifiedCalls != 4 {
		t.Fatalf("report total %+v, want calls 6 = 4 unique + 2 repeat, 4 qualified", tot)
	}
	var csv bytes.Buffer
	if err := rep.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csv.String()), "\n")
	if !strings.Contains(lines[0], ",close_rate,unique_calls,repeat_calls,") || !strings.Contains(lines[len(lines)-1], ",4,2,") {
		t.Fatalf("csv %q: want unique_calls and repeat_calls after the existing columns", csv.String())
	}
	f.hit.Rebuild(*now)
	var pr hitrate.PublisherRate
	for _, p := range f.hit.Rates(hitrate.RatesQuery{Now: *now}).Publishers {
		pr = p
	}
	// Evidence is decayed to now (half-life 72h), so compare with the
	// calls: every call loads the agents (pacing's any-call rate) but only
	// unique callers are qualified.
	if r := pr.Qualified / pr.Calls; r < 0.6 || r > 0.7 {
		t.Fatalf("hit rates: %.2f qualified of %.2f calls, want 4 of 6", pr.Qualified, pr.Calls)
	}
	if n := f.st.repeatCalls.Load(); n != 2 {
		t.Fatalf("callbid_feedback_repeat_calls_total %d, want 2", n)
	}
	// Replaying the same attributions changes nothing (duplicates).
	repeatCall(f, "a2", "+15551230001", h.Add(2*time.Hour))
	if rep, _ := buildReport(f, time.Time{}, time.Time{}, "campaign"); rep.Total.Calls != 6 || rep.Total.RepeatCalls != 2 || rep.Total.QualifiedCalls != 4 {
		t.Fatalf("after a duplicate %+v, want %+v", rep.Total, tot)
	}
}

// TestRepeatWindowPerCampaign: a campaign's call_caps.repeat_window
// overrides the feed's.
func TestRepeatWindowPerCampaign(t *testing.T) {
	f := mustNew(t, Config{RepeatWindow: time.Hour}, []Campaign{{ID: "c1", Skill: "mortgage", RepeatWindow: 48 * time.Hour}}, nil, nil)
	h := t0.Add(-50 * time.Hour)
	repeatCall(f, "a1", "+15551230001", h)
	repeatCall(f, "a2", "+15551230001", h.Add(40*time.Hour))
	if rep, _ := buildReport(f, time.Time{}, time.Time{}, "campaign"); rep.Total.RepeatCalls != 1 {
		t.Fatalf("report %+v: want the call 40 h later a repeat (campaign window 48 h)", rep.Total)
	}
}

// TestRepeatCallersCapped: memory is bounded by max_repeat_callers; callers
// forgotten early are counted.
func TestRepeatCallersCapped(t *testing.T) {
	f, _, _ := newTest(t, Config{MaxRepeatCallers: 1000})
	h := t0.Add(-3 * time.Hour)
	for i := range 10_000 {
		repeatCall(f, "c"+strconv.Itoa(i), "+1555"+strconv.Itoa(1_000_000+i), h.Add(time.Duration(i)*time.Second))
	}
	if n := len(f.repeats.last); n > 1000 {
		t.Fatalf("%d callers remembered, max_repeat_callers 1,000", n)
	}
	if n := f.st.repeatEvicted.Load(); n < 9000 {
		t.Fatalf("%d callers evicted, want ≥ 9,000", n)
	}
	// The latest callers are still known: calling back is a repeat.
	repeatCall(f, "again", "+1555"+strconv.Itoa(1_000_000+9_999), h.Add(3*time.Hour))
	if n := f.st.repeatCalls.Load(); n != 1 {
		t.Fatalf("repeat calls %d, want 1", n)
	}
}

func TestRepeatConfigErrorsNameTheField(t *testing.T) {
	err := (&Config{RepeatWindow: -time.Second, MaxRepeatCallers: -1}).Validate()
	for _, want := range []string{"repeat_window:", "max_repeat_callers:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not name %s", err, want)
		}
	}
}
