package bidder

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/hitrate"
)

// chanFeedback is fakeFeedback with a learned factor per channel.
type chanFeedback struct {
	fakeFeedback
	ch     [channel.Count]float64 // 0: 1
	chBids [channel.Count]int
}

func (f *chanFeedback) ChannelHitRate(_, _ string, ch channel.Channel) float64 {
	if f.ch[ch] == 0 {
		return 1
	}
	return f.ch[ch]
}

// A chat invitation is priced with the chat cell's hit rate, not the
// campaign's call rate: the same imp bids twice as much when chats per win
// run at twice the campaign's prior.
func TestChatBidPricedWithChannelHitRate(t *testing.T) {
	price := func(chatRate float64) float64 {
		l := newChannelLoop(t, []ChannelConfig{{Channel: "chat", Pool: "chat-keys", ActionURL: "https://chat.example.com/s?k={{key}}"}},
			newFakeReserver(0, "pool-mortgage", "chat-keys"))
		fb := &chanFeedback{}
		fb.ch[channel.Chat] = chatRate
		fb.ch[channel.Voice] = 3 // never read: a call's rate is HitRate's
		l.b.deps.Feedback = fb
		l.b.chRates = channelHitRates(fb)
		voiceQueued(l)
		d := &decision{}
		s := l.b.snap.Load()
		l.b.decide(d, s, banner300(), s.exchange([]byte("x")), l.now)
		if len(d.Bids) != 1 {
			t.Fatalf("no chat bid: %v", d.Cause)
		}
		return d.Bids[0].Price
	}
	if p1, p2 := price(1), price(2); math.Abs(p2/p1-2) > 1e-9 {
		t.Fatalf("chat bid %.4f at rate 1, %.4f at rate 2: want twice", p1, p2)
	}
}

// The per-channel rates are found behind FeedbackParts, as the service
// wires them (the real hit-rate model).
func TestChannelHitRatesBehindFeedbackParts(t *testing.T) {
	hr, err := hitrate.New(hitrate.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, fb := range []Feedback{FeedbackParts{HitRates: hr}, &FeedbackParts{HitRates: hr}} {
		if channelHitRates(fb) == nil {
			t.Errorf("%T: per-channel rates not found", fb)
		}
	}
	if channelHitRates(&fakeFeedback{}) != nil || channelHitRates(neutralFeedback{}) != nil {
		t.Error("rates found where there are none")
	}
}

// A chat bid's notice token names the channel, and the impression record
// its win publishes says chat; a call's token is what it was before.
func TestNoticeTokenAndImpressionCarryChannel(t *testing.T) {
	s := newSigner([]byte(testSecret))
	voice := noticeToken{ref: 7, issued: testNow.Unix(), price: 1, cur: "USD", campaign: "c", publisher: "p", exchange: "x", skill: "s", bidID: "b"}
	chat := voice
	chat.ch = channel.Chat
	vt, ct := s.appendToken(nil, &voice, noticeWin), s.appendToken(nil, &chat, noticeWin)
	if len(ct) <= len(vt) || len(voice.appendPayload(nil, tokenVersion))+1 != len(chat.appendPayload(nil, tokenVersion)) {
		t.Fatalf("chat token %d bytes, call token %d: want one byte more", len(ct), len(vt))
	}
	for _, want := range []noticeToken{voice, chat} {
		got, err := s.verify(s.appendToken(nil, &want, noticeWin), noticeWin)
		if err != nil || got != want {
			t.Fatalf("round trip %+v → %+v (%v)", want, got, err)
		}
	}
	bad := append(voice.appendPayload(nil, tokenVersion), byte(channel.Count))
	if _, err := parsePayload(bad, tokenVersion); err == nil {
		t.Error("a token ending in an unknown channel byte parsed")
	}
	e := newEnv(t, baseConfig(), 0)
	e.b.publishImpression(&chat, events.ImpressionWin, 1, testNow)
	e.b.publishImpression(&voice, events.ImpressionWin, 1, testNow)
	var got []string
	for _, m := range e.pub.msgs {
		var im events.Impression
		if err := json.Unmarshal([]byte(m.value), &im); err != nil {
			t.Fatal(err)
		}
		got = append(got, im.Channel)
	}
	if len(got) != 2 || got[0] != "chat" || got[1] != "" {
		t.Fatalf("impression channels %q, want chat and none", got)
	}
}

func (f *chanFeedback) RecordChannelBid(_, _, _, _ string, ch channel.Channel, _, _ int64, _ time.Time) {
	f.chBids[ch]++
}

type refuseAll struct{}

func (refuseAll) Admit(string) bool { return false }

// Voice pacing and the participation gate steer calls against the voice
// agents: a chat invitation, which bids only while voice has none, is
// neither stopped nor gated by them, and its bid is recorded as a chat
// bid; with voice free the same pacing stops the call bid.
func TestChatBidNotStoppedByVoicePacing(t *testing.T) {
	l := newChannelLoop(t, []ChannelConfig{{Channel: "chat", Pool: "chat-keys", ActionURL: "https://chat.example.com/s?k={{key}}"}},
		newFakeReserver(0, "pool-mortgage", "chat-keys"))
	fb := &chanFeedback{}
	fb.stop = true
	l.b.deps.Feedback, l.b.deps.Participation = fb, refuseAll{}
	l.b.chRates, l.b.chBids = channelHitRates(fb), channelBidRecorder(fb)
	voiceQueued(l)
	if got, _, _ := l.bid(); got != "chat" {
		t.Fatalf("voice queued, pacing stopped: bid %q, want chat", got)
	}
	if fb.chBids[channel.Chat] != 1 || fb.bids.Load() != 0 {
		t.Fatalf("chat bids recorded %v, call bids %d: want one chat bid", fb.chBids, fb.bids.Load())
	}
	l.now = l.now.Add(time.Second)
	l.call("q1", events.CallAnswered, "", "")
	l.call("q2", events.CallAnswered, "", "")
	for i := range 12 {
		l.agent("v"+strconv.Itoa(i), events.StateAvailable)
	}
	if got, _, _ := l.bid(); got != "" {
		t.Fatalf("voice free, pacing stopped: bid %q, want none", got)
	}
}

// A chat channel bids only while the contacts its recent bids may bring
// are fewer than its free sessions: a burst of requests while one agent
// has 3 sessions free buys about 3 chats' worth of bids, not one per
// request, and bids resume once the minute has passed.
func TestChatBidsStopAtSessionsInFlight(t *testing.T) {
	l := newChannelLoop(t, []ChannelConfig{{Channel: "chat", Pool: "chat-keys", ActionURL: "https://chat.example.com/s?k={{key}}"}},
		newFakeReserver(0, "pool-mortgage", "chat-keys"))
	cfg := l.b.snap.Load().cfg
	cfg.Campaigns[0].ExpectedCallRate = 0.5 // a chat from every other win
	cfg.Shading.Disabled = true             // P(win) 1
	if err := l.b.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	voiceQueued(l) // one chat agent: 3 sessions free
	burst := func() int {
		n := 0
		for range 50 {
			if got, _, _ := l.bid(); got == "chat" {
				n++
			}
		}
		return n
	}
	if n := burst(); n != 6 {
		t.Fatalf("%d chat bids in a burst of 50, want 6 (3 sessions ÷ 0.5 chats per bid)", n)
	}
	l.now = l.now.Add(20 * time.Second)
	if n := burst(); n != 0 {
		t.Fatalf("%d chat bids 20 s later, want none: the first burst's chats may still come", n)
	}
	l.now = l.now.Add(flightWindow)
	voiceQueued(l) // the feed stays live
	if n := burst(); n != 6 {
		t.Fatalf("%d chat bids a minute later, want 6 again", n)
	}
}
