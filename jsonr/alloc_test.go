//go:build !race

package jsonr

import "testing"

// A parser that has read a document reads one like it, and answers every
// accessor, without allocating.
func TestParseAllocatesNothing(t *testing.T) {
	doc := []byte(`{"agent_id":"acme:agent-123","seq":48211,"occurred_at":"2026-11-23T12:00:00Z","name":"caf\u00e9",` +
		`"skills":[{"name":"mortgage","proficiency":4.0}],"ip":18446744073709551615,"ok":true,"x":null}`)
	var p Parser
	if _, err := p.Parse(doc); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() {
		v, err := p.Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = v.Get("agent_id").StringBytes()
		_, _ = v.Get("name").StringBytes()
		_, _ = v.Get("seq").Int64()
		_, _ = v.Get("ip").Uint64()
		_, _ = v.Get("ok").Bool()
		for it := v.Get("skills").Iter(); it.Next(); {
			_, _ = it.Value().Get("proficiency").Float64()
		}
	}); n != 0 {
		t.Errorf("%v allocs per parse, want 0", n)
	}
}
