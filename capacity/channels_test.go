package capacity

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
)

// chanAgent sends one agent state to both models, as the consumer does.
func chanAgent(t *testing.T, m *Model, c *Channels, clk *fakeClock, id, state string, chans []string, skills ...string) {
	t.Helper()
	ev := &events.AgentState{AgentID: id, EventType: events.AgentStateChange, OccurredAt: clk.now(), RoutingState: state, Channels: chans}
	for _, s := range skills {
		ev.Skills = append(ev.Skills, events.AgentSkill{Name: s, Proficiency: 3})
	}
	if err := m.HandleAgentState(ev); err != nil {
		t.Fatal(err)
	}
	if err := c.HandleAgentState(ev); err != nil {
		t.Fatal(err)
	}
}

func chanCall(t *testing.T, m *Model, c *Channels, clk *fakeClock, id, typ, ch, skill string) {
	t.Helper()
	ev := &events.Call{CallID: id, EventType: typ, OccurredAt: clk.now(), Skill: skill, Channel: ch}
	if err := m.HandleCall(ev); err != nil {
		t.Fatal(err)
	}
	if err := c.HandleCall(ev); err != nil {
		t.Fatal(err)
	}
}

func rebuildBoth(m *Model, c *Channels) { m.Rebuild(); c.Rebuild() }

func TestChatSessions(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "mortgage")
	c := NewChannels(ChannelsConfig{}, m, []string{"mortgage"})
	// Two chat-only agents (3 sessions each), one on voice and chat.
	chanAgent(t, m, c, clk, "c1", events.StateAvailable, []string{"chat"}, "mortgage")
	chanAgent(t, m, c, clk, "c2", events.StateBusy, []string{"chat"}, "mortgage")
	chanAgent(t, m, c, clk, "b1", events.StateBusy, []string{"voice", "chat"}, "mortgage")
	rebuildBoth(m, c)
	if v := c.View("mortgage", channel.Chat); v.Free != 6 || v.Factor != 1 || v.State != Fresh {
		t.Fatalf("chat view %+v, want 6 free sessions (the blended busy agent counts none)", v)
	}
	// Chat-only agents are not voice capacity; the blended one is.
	if n := m.view("mortgage").capacityAgents; n != 1 {
		t.Errorf("voice capacity agents %v, want 1 (chat-only agents are not voice)", n)
	}
	for i := range 5 {
		chanCall(t, m, c, clk, "chat-"+itoa(i), events.CallOffered, "chat", "mortgage")
	}
	rebuildBoth(m, c)
	if v := c.View("mortgage", channel.Chat); v.Free != 1 {
		t.Fatalf("after 5 sessions: %+v, want 1 free", v)
	}
	if m.view("mortgage").arrivalPerMin != 0 {
		t.Error("chat sessions counted as voice arrivals")
	}
	chanCall(t, m, c, clk, "chat-5", events.CallOffered, "chat", "mortgage")
	rebuildBoth(m, c)
	if v := c.View("mortgage", channel.Chat); v.Free != 0 || v.State != NoHeadroom {
		t.Fatalf("full chat: %+v", v)
	}
	chanCall(t, m, c, clk, "chat-0", events.CallEnded, "chat", "mortgage")
	chanCall(t, m, c, clk, "chat-0", events.CallEnded, "chat", "mortgage") // repeated: no effect
	rebuildBoth(m, c)
	if v := c.View("mortgage", channel.Chat); v.Free != 1 {
		t.Fatalf("after one ended: %+v", v)
	}
	// Leaving the chat channel removes the agent's sessions.
	chanAgent(t, m, c, clk, "c1", events.StateAvailable, []string{"voice"}, "mortgage")
	rebuildBoth(m, c)
	if v := c.View("mortgage", channel.Chat); v.Free != -2 {
		t.Fatalf("after c1 left chat: %+v, want 3 − 5 = −2", v)
	}
	if v := c.View("unknown", channel.Chat); v.State != NoHeadroom {
		t.Errorf("unknown skill %+v", v)
	}
}

func TestChannelsStaleWithVoiceFeed(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "s")
	c := NewChannels(ChannelsConfig{}, m, []string{"s"})
	if v := c.View("s", channel.Chat); v.State != Stale {
		t.Fatalf("before any event: %+v", v)
	}
	chanAgent(t, m, c, clk, "a", events.StateAvailable, []string{"chat"}, "s")
	rebuildBoth(m, c)
	if v := c.View("s", channel.Chat); v.State != Fresh {
		t.Fatalf("fresh: %+v", v)
	}
	clk.add(time.Minute)
	rebuildBoth(m, c)
	if v := c.View("s", channel.Chat); v.State != Stale {
		t.Fatalf("after the deadman: %+v", v)
	}
}

func TestCallbackSlots(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "s")
	c := NewChannels(ChannelsConfig{Callback: CallbackConfig{Window: 10 * time.Minute}}, m, []string{"s"})
	for i := range 4 {
		chanAgent(t, m, c, clk, "v"+itoa(i), events.StateAvailable, nil, "s")
	}
	rebuildBoth(m, c)
	// 4 agents × 0.85 × 60/300 s = 0.68 calls/min spare, × 10 min.
	want := 4 * 0.85 * 60 / m.view("s").ahtSec * 10
	if v := c.View("s", channel.Callback); math.Abs(v.Free-want) > 1e-9 || v.Factor != 1 {
		t.Fatalf("callback %+v, want %.3f slots", v, want)
	}
	chanCall(t, m, c, clk, "cb-1", events.CallOffered, "callback", "s")
	rebuildBoth(m, c)
	if v := c.View("s", channel.Callback); math.Abs(v.Free-(want-1)) > 1e-9 {
		t.Fatalf("one pending: %+v", v)
	}
	chanCall(t, m, c, clk, "cb-1", events.CallAnswered, "callback", "s") // made
	rebuildBoth(m, c)
	if v := c.View("s", channel.Callback); math.Abs(v.Free-want) > 1e-9 {
		t.Fatalf("made: %+v", v)
	}
	chanCall(t, m, c, clk, "e-1", events.CallOffered, "email", "s") // no one's capacity
	rebuildBoth(m, c)
	if v := c.View("s", channel.Callback); math.Abs(v.Free-want) > 1e-9 || m.view("s").arrivalPerMin != 0 {
		t.Fatalf("an email changed capacity: %+v", v)
	}
}

func TestChannelsConfigValidate(t *testing.T) {
	cfg := Config{Channels: ChannelsConfig{Chat: SessionsConfig{SessionsPerAgent: -1}, Callback: CallbackConfig{Window: -time.Second}}}
	err := cfg.Validate()
	for _, want := range []string{"channels.chat.sessions_per_agent: -1 must be between 1 and 100", "channels.callback.window: -1s must be positive"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want …%s…", err, want)
		}
	}
}

// An agent on voice and chat is one agent: voice demand takes its time
// first, chat gets what is left (at most the agent), and a callback gets
// none of what chat took. An agent on chat and sms gives each half.
func TestBlendedAgentCountedOnce(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "s")
	c := NewChannels(ChannelsConfig{}, m, []string{"s"})
	for i := range 4 {
		chanAgent(t, m, c, clk, "b"+itoa(i), events.StateAvailable, []string{"voice", "chat"}, "s")
	}
	chanAgent(t, m, c, clk, "cs", events.StateAvailable, []string{"chat", "sms"}, "s")
	rebuildBoth(m, c)
	// No voice demand: 4 × 0.85 agent-equivalents spare, all lent to chat.
	want := 4*0.85*3 + 0.5*3
	if v := c.View("s", channel.Chat); math.Abs(v.Free-want) > 1e-9 {
		t.Fatalf("chat %+v, want %.2f sessions (3.4 blended agents + half of cs)", v, want)
	}
	if v := c.View("s", channel.SMS); v.Free != 2.5 {
		t.Fatalf("sms %+v, want half of cs's 5", v)
	}
	if v := c.View("s", channel.Callback); v.Free > 1e-9 {
		t.Fatalf("callback %+v: the spare voice time went to chat already", v)
	}
	// One call waiting (horizon 1 min) at AHT ≥ 60 s needs more than the
	// spare: the blended agents are voice's, chat keeps cs's half.
	chanCall(t, m, c, clk, "q1", events.CallOffered, "", "s")
	aht := m.view("s").ahtSec
	rebuildBoth(m, c)
	spare := math.Max(4*0.85-aht/60, 0)
	if v := c.View("s", channel.Chat); math.Abs(v.Free-(spare*3+1.5)) > 1e-9 {
		t.Fatalf("chat with a call waiting %+v, want %.2f", v, spare*3+1.5)
	}
}
