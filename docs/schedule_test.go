package docs_test

import (
	"testing"

	"github.com/callbid/callbid/docs"
	"github.com/callbid/callbid/events"
)

// TestScheduleExamplesDecode: the cc.schedule.v1 examples pass callbid's
// own decoder too, and the schema rejects what the decoder rejects.
func TestScheduleExamplesDecode(t *testing.T) {
	n := 0
	for _, m := range exampleRE.FindAllStringSubmatch(spec(t), -1) {
		if m[1] != "schedule" {
			continue
		}
		n++
		var ev events.Schedule
		if err := events.DecodeSchedule([]byte(m[2]), &ev); err != nil {
			t.Errorf("example %s: %v", m[2], err)
		}
	}
	if n == 0 {
		t.Fatal("no schedule example")
	}
	for _, c := range []struct{ value, why string }{
		{`{"intervals":[]}`, "neither agent_id nor skill"},
		{`{"skill":"s","intervals":[{"start":"2026-11-23T13:00:00Z"}]}`, "no end"},
		{`{"skill":"s","intervals":[{"start":"2026-11-23T13:00:00Z","end":"2026-11-23T14:00:00Z","staffing":[{"channel":"fax","agents":1}]}]}`, "unknown channel"},
		{`{"skill":"s","intervals":[{"start":"2026-11-23T13:00:00Z","end":"2026-11-23T14:00:00Z","staffing":[{"agents":-1}]}]}`, "negative agents"},
	} {
		if err := docs.Validate("schedule", []byte(c.value)); err == nil {
			t.Errorf("%s (%s) passed the schema", c.value, c.why)
		}
		var ev events.Schedule
		if err := events.DecodeSchedule([]byte(c.value), &ev); err == nil {
			t.Errorf("%s (%s) passed the decoder", c.value, c.why)
		}
	}
}
