package hitrate

import (
	"testing"
	"time"

	"github.com/callbid/callbid/channel"
)

// A campaign's chat invitations learn their own rate: chats per chat win
// move the chat cell only, calls per call win the call cell only, and
// /admin/rates lists both.
func TestHitRatePerChannel(t *testing.T) {
	h, err := New(Config{}, []Campaign{{ID: "c1", Skill: "sales", PriorCallRate: 0.01}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i := range 2000 {
		at := now.Add(-3*time.Hour + time.Duration(i)*time.Second)
		h.Win("c1", "p1", "", "", at, now)
		h.WinChannel(channel.Chat, "c1", "p1", "", "", at, now)
		if i%100 == 0 { // calls at the prior, 1%
			h.AddCall(Contribution{Campaign: "c1", Publisher: "p1", At: at.Add(time.Minute), Calls: 1, Qualified: 1}, 1)
		}
		if i%25 == 0 { // chats at 4%
			h.AddCall(Contribution{Campaign: "c1", Publisher: "p1", At: at.Add(time.Minute), Calls: 1, Qualified: 1, Channel: channel.Chat}, 1)
		}
	}
	h.Rebuild(now)
	voice, chat := h.HitRate("c1", "p1"), h.ChannelHitRate("c1", "p1", channel.Chat)
	if voice < 0.9 || voice > 1.1 || chat < 2 {
		t.Fatalf("voice factor %.2f (want ≈ 1), chat factor %.2f (want > 2)", voice, chat)
	}
	if v := h.ChannelHitRate("c1", "p1", channel.Voice); v != voice {
		t.Fatalf("ChannelHitRate(voice) %.3f, HitRate %.3f", v, voice)
	}
	if v := h.ChannelHitRate("c1", "p1", channel.SMS); v != 1 {
		t.Fatalf("sms without evidence: %v, want 1", v)
	}
	rs := h.Rates(RatesQuery{Campaign: "c1", Now: now}).Publishers
	if len(rs) != 2 || rs[0].Channel != "" || rs[1].Channel != "chat" || rs[1].Factor != chat {
		t.Fatalf("rates %+v, want the call row then the chat row", rs)
	}
	if !raceEnabled {
		pub := string([]byte("p1"))
		if n := testing.AllocsPerRun(100, func() { _ = h.ChannelHitRate("c1", pub, channel.Chat) }); n != 0 {
			t.Fatalf("%.0f allocations per read, want 0", n)
		}
	}
}
