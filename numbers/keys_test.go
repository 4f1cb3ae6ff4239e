package numbers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

func keyPoolConfig(n int) Config {
	return Config{CallsToken: "tok", Pools: []PoolConfig{{
		ID: "chat", Channel: "chat", Keys: KeysConfig{Prefix: "CH", Count: n},
		Hold: 15 * time.Second, Lease: 30 * time.Minute, Cooldown: 30 * time.Minute,
	}}}
}

// A chat pool holds keys and follows the number rules: reserve, win, and a
// cc.call.v1 session whose dnis is the key attributes the bid.
func TestKeyPoolAttribution(t *testing.T) {
	p := mustNew(t, keyPoolConfig(12), nil)
	r := leaseOne(t, p, 1, t0)
	if !strings.HasPrefix(r.E164, "CH") || len(r.E164) != 4 || r.Ext != "" {
		t.Fatalf("reserved %q, want a key CH00…CH11", r.E164)
	}
	p.clockNow = func() time.Time { return t0.Add(time.Minute) }
	msg := kafkaio.Message{Topic: events.TopicCall, Value: fmt.Appendf(nil,
		`{"call_id":"chat-1","event_type":"OFFERED","dnis":%q,"channel":"chat","skill":"mortgage","occurred_at":%q}`,
		r.E164, t0.Add(time.Minute).Format(time.RFC3339))}
	if err := feedCall(p, msg); err != nil {
		t.Fatal(err)
	}
	if st := p.stateOf(refIndex(r.Ref)); st != stCooldown {
		t.Fatalf("the chat session left the key %s, want cooldown (attributed)", stateNames[st])
	}
	if st := p.Stats(); st.Calls[MatchExact] != 1 {
		t.Fatalf("stats %+v: want one exact match", st.Calls)
	}
	// The attribution names the key pool's channel, so the session counts
	// in the chat hit rates and report rows.
	if ev := p.calls.record("chat-1").event(); ev.Channel != "chat" || ev.CampaignID == "" {
		t.Fatalf("attribution %+v, want channel chat", ev)
	}
	if a := p.calls.record("chat-1").appendAnswer(nil); !strings.Contains(string(a), `"channel":"chat"}}`) {
		t.Fatalf("/v1/calls answer %s: want the channel", a)
	}
}

func TestKeyPoolConfig(t *testing.T) {
	cfg := Config{Pools: []PoolConfig{
		{ID: "a", Channel: "chat", Numbers: []string{"ok-0", "bad key"}},
		{ID: "b", Channel: "fax", Numbers: []string{"+18005550100"}},
		{ID: "c", Numbers: []string{"+18005550101"}, Keys: KeysConfig{Prefix: "X", Count: 2}},
		{ID: "d", Channel: "callback", Keys: KeysConfig{Count: 2}, Extensions: []ExtensionRange{{Number: "+18005550102", From: 1, To: 2}}},
		{ID: "e", Channel: "sms", Keys: KeysConfig{Prefix: "ok-", Count: 1}},
	}}
	err := cfg.Validate()
	for _, want := range []string{
		`pools[0].numbers[1]: "bad key" is not a tracking key`,
		`pools[1].channel: "fax" is not voice, chat, sms or callback`,
		`pools[2].keys: only a chat, sms or callback pool`,
		`pools[3].extensions: a callback pool holds keys`,
		`pools[4].numbers[0]: "ok-0" is already used by pools[0].numbers[0]`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v\nwant …%s…", err, want)
		}
	}
	if got := (&PoolConfig{Channel: "chat", Keys: KeysConfig{Prefix: "K", Count: 101}}).entries(); got[0] != "K000" || got[100] != "K100" {
		t.Errorf("keys %v…%v, want K000…K100", got[0], got[100])
	}
}
