//go:build !race

package bidder

import (
	"strings"
	"testing"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/hitrate"
)

// TestAllocsChatBid: a decision that picks the chat channel (voice queued),
// prices it with the real hit-rate model's chat rate and renders its key
// into the chat banner allocates nothing either.
func TestAllocsChatBid(t *testing.T) {
	l := newChannelLoop(t, []ChannelConfig{{Channel: "chat", Pool: "chat-keys", ActionURL: "https://chat.example.com/s?k={{key}}"}},
		newFakeReserver(0, "pool-mortgage", "chat-keys"))
	hr, err := hitrate.New(hitrate.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeFeedback{}
	l.b.deps.Feedback = FeedbackParts{HitRates: hr, Pacer: fb, TrafficFilter: fb, BidRecorder: fb}
	l.b.chRates = channelHitRates(l.b.deps.Feedback)
	if l.b.chRates == nil {
		t.Fatal("no per-channel rates")
	}
	for _, a := range []string{"v0", "v1"} {
		l.agent(a, events.StateBusy)
	}
	l.agent("c0", events.StateAvailable, "chat")
	l.call("q1", events.CallOffered, "", "")
	l.call("q2", events.CallOffered, "", "")
	l.m.Rebuild()
	l.ch.Rebuild()
	d := &decision{}
	s := l.b.snap.Load()
	req, ex := banner300(), s.exchange([]byte("x"))
	l.b.decide(d, s, req, ex, l.now)
	if len(d.Bids) != 1 || !strings.Contains(string(d.Bids[0].AdM), "chat.example.com") {
		t.Fatalf("no chat bid: %+v", d.Result)
	}
	n := testing.AllocsPerRun(100, func() {
		l.b.decide(d, s, req, ex, l.now)
		if len(d.Bids) != 1 {
			t.Fatalf("no bid: %v", d.Cause)
		}
	})
	if n != 0 {
		t.Errorf("chat decision: %v allocs, want 0", n)
	}
}

// TestAllocsChatNative: the native chat invitation allocates nothing either.
func TestAllocsChatNative(t *testing.T) {
	l := newChannelLoop(t, []ChannelConfig{{Channel: "chat", Pool: "chat-keys", ActionURL: "https://chat.example.com/s?k={{key}}"}},
		newFakeReserver(0, "pool-mortgage", "chat-keys"))
	voiceQueued(l)
	d := &decision{}
	s := l.b.snap.Load()
	req, ex := nativeReq(false), s.exchange([]byte("x"))
	l.b.decide(d, s, req, ex, l.now)
	if len(d.Bids) != 1 || !strings.Contains(string(d.Bids[0].AdM), "chat.example.com") {
		t.Fatalf("no native chat bid: %+v", d.Result)
	}
	n := testing.AllocsPerRun(100, func() {
		l.b.decide(d, s, req, ex, l.now)
		if len(d.Bids) != 1 {
			t.Fatalf("no bid: %v", d.Cause)
		}
	})
	if n != 0 {
		t.Errorf("native chat decision: %v allocs, want 0", n)
	}
}
