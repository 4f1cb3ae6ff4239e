package capacity

import (
	"testing"
	"time"

	"github.com/callbid/callbid/kafkaio"
)

// FuzzHandleAgentState feeds arbitrary values to the consumer path: it must
// never panic, and the aggregates must stay consistent (no negative counts).
func FuzzHandleAgentState(f *testing.F) {
	for _, s := range []string{
		`{"agent_id":"acme:agent-1","seq":1,"event_type":"LOGIN","occurred_at":"2026-11-23T14:00:00Z","routing_state":"AVAILABLE","skills":[{"name":"mortgage","proficiency":4.0}],"channels":["voice"],"ttl_seconds":300}`,
		`{"agent_id":"a","seq":2,"event_type":"HEARTBEAT"}`,
		`{"agent_id":"a","seq":3,"event_type":"LOGOUT"}`,
		`{"agent_id":"a","seq":-9223372036854775808,"event_type":"STATE_CHANGE","routing_state":"ACW","skills":[{"name":"x","proficiency":5},{"name":"x","proficiency":0}],"ttl_seconds":-1}`,
		`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"BUSY","skills":[{"name":"m","proficiency":1e309}]}`,
		`{"agent_id":"a","seq":1,"event_type":"LOGIN","routing_state":"BUSY","occurred_at":"9999-12-31T23:59:59Z","ttl_seconds":2147483647}`,
		`{"agent_id":`, `null`, `[]`, `""`,
	} {
		f.Add([]byte(s), []byte(`{"call_id":"c1","event_type":"QUEUED","skill":"mortgage"}`))
	}
	f.Add([]byte(`{}`), []byte(`{"call_id":"c1","event_type":"ENDED","skill":"mortgage","talk_ms":-5}`))
	f.Add([]byte(`{}`), []byte(`{"call_id":"c1","event_type":"ENDED","skill":"m","talk_ms":9223372036854775807,"occurred_at":"0001-01-01T00:00:01Z"}`))
	m, clk := newTestModel(f, Config{MaxSkills: 50}, "mortgage")
	f.Fuzz(func(t *testing.T, agentValue, callValue []byte) {
		feedAgent(m, kafkaio.Message{Value: agentValue})
		feedCall(m, kafkaio.Message{Value: callValue})
		clk.add(time.Second)
		m.rebuild()
		_ = m.View("mortgage", 3, 4)
		for name, v := range m.snap.Load().skills {
			if v.staffed < 0 || v.available < 0 || v.busy < 0 || v.acw < 0 || v.reserved < 0 || v.waiting < 0 {
				t.Fatalf("skill %q negative counts: %+v", name, v)
			}
			if v.ahtSec != v.ahtSec || v.staffedWeighted < -1e-9 {
				t.Fatalf("skill %q bad aggregates: %+v", name, v)
			}
		}
	})
}
