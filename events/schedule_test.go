package events

import (
	"slices"
	"strings"
	"testing"
)

func TestDecodeSchedule(t *testing.T) {
	var ev Schedule
	ok := `{"skill":"mortgage","updated_at":"2026-12-07T15:00:00Z","intervals":[
	 {"start":"2026-12-07T16:00:00Z","end":"2026-12-07T16:30:00Z","staffing":[{"channel":"voice","agents":12},{"channel":"chat","agents":4}]}]}`
	if err := DecodeSchedule([]byte(ok), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Key() != "skill:mortgage" || len(ev.Intervals) != 1 || ev.Intervals[0].Staffing[1].Agents != 4 {
		t.Fatalf("%+v", ev)
	}
	for in, want := range map[string]string{
		`{"intervals":[]}`: "neither agent_id nor skill",
		`{"agent_id":"a1","intervals":[{"start":"2026-12-07T16:00:00Z","end":"2026-12-07T15:00:00Z"}]}`:                                         "is not after start",
		`{"agent_id":"a1","intervals":[{"start":"2026-12-07T16:00:00Z","end":"2026-12-07T17:00:00Z","staffing":[{"agents":1}]}]}`:               "no skill",
		`{"skill":"s","intervals":[{"start":"2026-12-07T16:00:00Z","end":"2026-12-07T17:00:00Z","staffing":[{"channel":"fax","agents":1}]}]}`:   "channel \"fax\"",
		`{"skill":"s","intervals":[{"start":"2026-12-07T16:00:00Z","end":"2026-12-07T17:00:00Z","staffing":[{"channel":"chat","agents":-1}]}]}`: "negative",
		`{"skill":"s","intervals":[{"end":"2026-12-07T17:00:00Z"}]}`:                                                                            "start and end are required",
		`{"skill":`: "",
	} {
		err := DecodeSchedule([]byte(in), &ev)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeSchedule(%s) = %v, want …%s…", in, err, want)
		}
	}
}

func TestDecodeCallChannel(t *testing.T) {
	var ev Call
	if err := DecodeCall([]byte(`{"call_id":"c1","event_type":"OFFERED","occurred_at":"2026-12-07T15:00:00Z","skill":"s","channel":"chat"}`), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Channel != "chat" {
		t.Fatalf("channel %q", ev.Channel)
	}
}

// cc.schedule.v1 is one of callbid's topics (seeded, documented, compacted),
// but checked at start only when schedules are read.
func TestScheduleTopicOptional(t *testing.T) {
	if !slices.Contains(AllTopics, TopicSchedule) || !Compacted(TopicSchedule) {
		t.Fatal("cc.schedule.v1 is not in AllTopics, compacted")
	}
	if slices.Contains(Required(false), TopicSchedule) || !slices.Contains(Required(true), TopicSchedule) {
		t.Fatal("Required does not follow capacity.channels.schedules")
	}
	if len(Required(true)) != len(AllTopics) || len(Required(false)) != len(AllTopics)-1 {
		t.Fatalf("Required(true) %v, Required(false) %v", Required(true), Required(false))
	}
}
