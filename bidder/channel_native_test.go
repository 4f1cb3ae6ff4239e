package bidder

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/openrtb"
)

// nativeReq asks for one native imp: with the phone asset (a call ad or an
// invitation) or only a title (an invitation only).
func nativeReq(phone bool) *openrtb.Request {
	r := banner300()
	r.Imps[0] = openrtb.Imp{ID: "1", Native: true, NativeHasPhone: phone, NativePhoneAssetID: 3,
		NativeHasTitle: true, NativeTitleAssetID: 1, NativeTitleLen: 40, NativeVer: "1.2"}
	return r
}

// voiceQueued makes the loop's voice agents busy with callers waiting and
// one chat agent free.
func voiceQueued(l *channelLoop) {
	for _, a := range []string{"v0", "v1"} {
		l.agent(a, events.StateBusy)
	}
	l.agent("c0", events.StateAvailable, "chat")
	l.call("q1", events.CallOffered, "", "")
	l.call("q2", events.CallOffered, "", "")
	l.m.Rebuild()
	l.ch.Rebuild()
}

type nativeAdm struct {
	Assets []struct {
		ID    int `json:"id"`
		Title *struct {
			Text string `json:"text"`
		} `json:"title"`
		Data *struct {
			Value string `json:"value"`
		} `json:"data"`
	} `json:"assets"`
	Link struct {
		URL string `json:"url"`
	} `json:"link"`
}

// A native imp gets the chat invitation (title, link to the action URL with
// the key, no untracked phone asset) while voice is full, and the phone ad
// while voice has headroom; an imp asking only for a title is answered only
// by the invitation.
func TestChannelNative(t *testing.T) {
	l := newChannelLoop(t, []ChannelConfig{{Channel: "chat", Pool: "chat-keys", ActionURL: "https://chat.example.com/s?k={{key}}",
		Title: "Chat with a licensed agent"}}, nil)
	l.agent("v0", events.StateAvailable)
	l.agent("c0", events.StateAvailable, "chat")
	l.m.Rebuild()
	l.ch.Rebuild()
	s := l.b.snap.Load()
	ex := s.exchange([]byte("x"))
	d := &decision{}
	l.b.decide(d, s, nativeReq(true), ex, l.now)
	if len(d.Bids) != 1 || !strings.Contains(string(d.Bids[0].AdM), `"data"`) || strings.Contains(string(d.Bids[0].AdM), "chat.example.com") {
		t.Fatalf("voice free: want the phone native ad, got %+v", d.Result)
	}
	l.b.decide(d, s, nativeReq(false), ex, l.now)
	if len(d.Bids) != 0 {
		t.Fatalf("voice free, title-only imp: want no bid, got %s", d.Bids[0].AdM)
	}

	voiceQueued(l)
	for _, phone := range []bool{true, false} {
		l.b.decide(d, s, nativeReq(phone), ex, l.now)
		if len(d.Bids) != 1 {
			t.Fatalf("voice full, phone asset %v: no bid (%v)", phone, d.Cause)
		}
		var adm nativeAdm
		if err := json.Unmarshal(d.Bids[0].AdM, &adm); err != nil {
			t.Fatalf("%s: %v", d.Bids[0].AdM, err)
		}
		if len(adm.Assets) != 1 || adm.Assets[0].ID != 1 || adm.Assets[0].Title == nil ||
			adm.Assets[0].Title.Text != "Chat with a licensed agent" || !strings.HasPrefix(adm.Link.URL, "https://chat.example.com/s?k=CH") {
			t.Fatalf("voice full, phone asset %v: want the chat invitation, got %s", phone, d.Bids[0].AdM)
		}
		if d.Bids[0].CrID != "m-native-chat" {
			t.Errorf("creative id %q, want m-native-chat", d.Bids[0].CrID)
		}
	}
}
