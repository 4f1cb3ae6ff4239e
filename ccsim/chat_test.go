package ccsim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
)

// feeder hands every simulated event to capacity's models, as the
// consumers would, and keeps the chat sessions it saw.
type feeder struct {
	t        *testing.T
	m        *capacity.Model
	ch       *capacity.Channels
	keyed    map[string]string // chat call id → dnis, for chats from a key
	chatSeen map[string]bool   // agents that sent channels ["chat"]
}

func (f *feeder) Publish(topic string, _, value []byte) bool {
	switch topic {
	case events.TopicAgentState:
		var ev events.AgentState
		if err := events.DecodeAgentState(value, &ev); err != nil {
			f.t.Fatalf("%v: %s", err, value)
		}
		if len(ev.Channels) == 1 && ev.Channels[0] == "chat" {
			f.chatSeen[ev.AgentID] = true
		}
		if err := f.m.HandleAgentState(&ev); err != nil {
			f.t.Fatal(err)
		}
		if err := f.ch.HandleAgentState(&ev); err != nil {
			f.t.Fatal(err)
		}
	case events.TopicCall:
		var ev events.Call
		if err := events.DecodeCall(value, &ev); err != nil {
			f.t.Fatalf("%v: %s", err, value)
		}
		if ev.Channel == "chat" && ev.DNIS != "" {
			f.keyed[ev.CallID] = ev.DNIS
		}
		if err := f.m.HandleCall(&ev); err != nil {
			f.t.Fatal(err)
		}
		if err := f.ch.HandleCall(&ev); err != nil {
			f.t.Fatal(err)
		}
	}
	return true
}

// The simulated chat team drives capacity's chat view: at every simulated
// 10 s the free chat sessions capacity counts from the events equal the
// simulator's own (staffed chat agents × 3 − chats open or waiting), no agent holds
// more than 3 chats, chats are answered and end, and a chat offered from
// a tracking key carries the key as dnis.
func TestChatAgentsFeedChannelCapacity(t *testing.T) {
	cfg := Config{Skills: []SkillConfig{{Name: "mortgage", Agents: 4, ArrivalPerMin: 1, DNIS: "+18005550190",
		Chat: ChatConfig{Agents: 3, ArrivalPerMin: 2, HandleTime: 3 * time.Minute}}}}
	cfg.SetDefaults()
	s := mustSim(t, cfg, t0, zerolog.Nop())
	m, err := capacity.New(capacity.Config{}, []string{"mortgage"}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	m.SetClock(s.Now)
	ch := capacity.NewChannels(capacity.ChannelsConfig{}, m, []string{"mortgage"})
	f := &feeder{t: t, m: m, ch: ch, keyed: map[string]string{}, chatSeen: map[string]bool{}}
	full, checks := 0, 0
	for i := range 20 * 60 * 10 { // 20 simulated minutes
		if i == 3000 && !s.Offer("mortgage", "chat", "CH042") {
			t.Fatal("Offer refused a chat")
		}
		s.Step(f)
		for _, a := range s.agents {
			if len(a.sessions) > 3 {
				t.Fatalf("%s holds %d chats", a.id, len(a.sessions))
			}
		}
		if i%100 != 99 {
			continue
		}
		m.Rebuild()
		ch.Rebuild()
		st := s.Stats().Skills[0]
		want := float64(st.ChatStaffed*3 - st.ChatSessions - st.ChatWaiting) // a waiting chat holds a session too
		if v := ch.View("mortgage", channel.Chat); v.Free != want {
			t.Fatalf("+%v: capacity counts %v free chat sessions, the simulator %v (%+v)", s.Now().Sub(t0), v.Free, want, st)
		}
		if want <= 0 {
			full++
		}
		checks++
	}
	st := s.Stats().Skills[0]
	t.Logf("%d checks (%d with chat full); chats offered %d, answered %d, abandoned %d, ended %d",
		checks, full, st.ChatOffered, st.ChatAnswered, st.ChatAbandoned, st.ChatEnded)
	if len(f.chatSeen) != 3 || st.ChatAnswered < 20 || st.ChatEnded < 10 {
		t.Fatalf("chat agents %d, stats %+v: want 3 agents and chats answered and ended", len(f.chatSeen), st)
	}
	if len(f.keyed) != 1 {
		t.Fatalf("chats from a key: %v, want the one offered with CH042", f.keyed)
	}
	for _, k := range f.keyed {
		if k != "CH042" {
			t.Fatalf("keyed chat dnis %q", k)
		}
	}
	if s.Offer("mortgage", "fax", "x") || s.Offer("nope", "chat", "x") {
		t.Error("Offer took a fax or an unknown skill")
	}
}

func TestChatConfig(t *testing.T) {
	cfg := Config{Skills: []SkillConfig{{Name: "a", Agents: 1, Chat: ChatConfig{Sessions: 101, ArrivalPerMin: 1}}}}
	err := cfg.Validate()
	for _, want := range []string{"skills[0].chat.sessions: 101 is outside 1-100", "skills[0].chat.arrival_per_min: chats need chat.agents"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want …%s…", err, want)
		}
	}
	var c Config
	if err := json.Unmarshal([]byte(`{}`), &c); err != nil {
		t.Fatal(err)
	}
}
