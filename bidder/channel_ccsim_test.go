package bidder

import (
	"testing"
	"time"

	"github.com/callbid/callbid/ccsim"
	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
	"github.com/rs/zerolog"
)

// simFeed hands the simulated center's events to the loop's capacity
// models and pools, as the consumers would, and notes the chats started
// from a tracking key.
type simFeed struct {
	l     *channelLoop
	keyed []string // call ids of chats with a key as dnis
}

func (f *simFeed) Publish(topic string, _, value []byte) bool {
	l := f.l
	switch topic {
	case events.TopicAgentState:
		var ev events.AgentState
		if err := events.DecodeAgentState(value, &ev); err != nil {
			l.t.Fatal(err)
		}
		for _, h := range []func(*events.AgentState) error{l.m.HandleAgentState, l.ch.HandleAgentState} {
			if err := h(&ev); err != nil {
				l.t.Fatal(err)
			}
		}
	case events.TopicCall:
		var ev events.Call
		if err := events.DecodeCall(value, &ev); err != nil {
			l.t.Fatal(err)
		}
		if ev.Channel == "chat" && ev.DNIS != "" && ev.EventType == events.CallOffered {
			f.keyed = append(f.keyed, ev.CallID)
		}
		for _, h := range []func(*events.Call) error{l.m.HandleCall, l.ch.HandleCall, l.pools.HandleCallEvent} {
			if err := h(&ev); err != nil {
				l.t.Fatal(err)
			}
		}
	}
	return true
}

// The channel switch against the simulated contact center (package
// ccsim): 4 voice agents and a chat team of 2 agents × 3 sessions. A burst
// of 12 calls fills the voice queue; within 5 s bids switch to the chat
// invitation, each win's visitor opens the chat from its key (Sim.Offer),
// ccsim routes it to a chat agent and every session is attributed as chat;
// chat bids stop while its sessions are taken (no chat ever waits); when
// the queue has drained and
// voice has headroom again, bids switch back to voice within 5 s.
func TestChannelSwitchWithSimulatedCenter(t *testing.T) {
	l := newChannelLoop(t, []ChannelConfig{{Channel: "chat", Pool: "chat-keys", ActionURL: "https://chat.example.com/s?k={{key}}"}}, nil)
	sim, err := ccsim.New(ccsim.Config{Seed: 7, Skills: []ccsim.SkillConfig{{Name: "mortgage", Agents: 4, ProficiencyMin: 3, ProficiencyMax: 3,
		HandleTime: 2 * time.Minute, Patience: time.Hour, DNIS: "+18005550190",
		Chat: ccsim.ChatConfig{Agents: 2, Sessions: 3, HandleTime: 4 * time.Minute}}},
		Shift: ccsim.ShiftConfig{BreakEvery: -1, LogoutEvery: -1}}, testNow, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	feed := &simFeed{l: l}
	var queuedAt, chatFrom, freeAt, voiceBack time.Duration = -1, -1, -1, -1
	chatBids, maxWaiting := 0, 0
	for sec := range 20 * 60 {
		for range 10 { // 100 ms ticks
			sim.Step(feed)
		}
		l.now = sim.Now()
		el := l.now.Sub(testNow)
		if sec == 90 { // the shift is in: a burst of calls to the main line
			for range 12 {
				sim.Offer("mortgage", "voice", "")
			}
		}
		st := sim.Stats().Skills[0]
		if st.Waiting > 0 && queuedAt < 0 {
			queuedAt = el
		}
		got, key, _ := l.bid()
		voiceFree := l.m.View("mortgage", 0, 0).Factor > 0
		if got == "chat" && chatFrom < 0 {
			chatFrom = el
		}
		if voiceFree && freeAt < 0 && chatFrom >= 0 {
			freeAt = el
		}
		if got == "voice" && freeAt >= 0 && voiceBack < 0 {
			voiceBack = el
		}
		maxWaiting = max(maxWaiting, st.ChatWaiting)
		if voiceFree && got != "voice" {
			t.Fatalf("+%v: voice has headroom, bid %q", el, got)
		}
		if got != "chat" {
			continue
		}
		chatBids++
		if o, _ := l.b.applyNotice(noticeWin, []byte(tokenOf(t, l.nurl)), nil, l.now); o != noticeApplied {
			t.Fatalf("win notice: %s", noticeOutcomeNames[o])
		}
		if !sim.Offer("mortgage", "chat", key) { // the visitor opens the chat
			t.Fatal("the simulator refused a chat")
		}
	}
	st := sim.Stats().Skills[0]
	t.Logf("queue at +%v, chat bids from +%v (%d bids, %d chats answered), voice headroom at +%v, voice bids again at +%v",
		queuedAt, chatFrom, chatBids, st.ChatAnswered, freeAt, voiceBack)
	if queuedAt < 0 || chatFrom < 0 || chatFrom-queuedAt > 5*time.Second {
		t.Fatalf("voice queued at +%v, first chat bid at +%v: want within 5 s", queuedAt, chatFrom)
	}
	if freeAt < 0 || voiceBack < 0 || voiceBack-freeAt > 5*time.Second {
		t.Fatalf("voice free at +%v, back to voice bids at +%v: want within 5 s", freeAt, voiceBack)
	}
	if maxWaiting > 0 || st.ChatAbandoned > 0 {
		t.Fatalf("%d chats waited at once, %d abandoned: chat bids went past the free sessions", maxWaiting, st.ChatAbandoned)
	}
	if chatBids < 6 || len(feed.keyed) != chatBids {
		t.Fatalf("%d chat bids, %d chats from a key: want at least 6, one each", chatBids, len(feed.keyed))
	}
	for _, id := range feed.keyed {
		if a := l.recs.Attribution(id); a == nil || a.Channel != channel.Chat.String() || a.CampaignID == "" {
			t.Fatalf("chat %s attributed %+v, want the campaign's chat", id, a)
		}
	}
}
