package feedback

import (
	"testing"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// A campaign's chat invitations and calls are kept apart: impressions and
// attributions that name the chat channel feed the chat hit-rate cell and
// the chat report rows; records without a channel (and those written
// before channels) are calls.
func TestChatImpressionsAndSessionsPerChannel(t *testing.T) {
	f, _, _ := newTest(t, Config{})
	h := t0.Add(-5 * time.Hour)
	var evs []kafkaio.Message
	for i := range 3000 {
		at := h.Add(time.Duration(i) * time.Second)
		bid, chatBid := "b"+itoa(i), "cb"+itoa(i)
		evs = append(evs, imp(bid, "p1", "x1", 1_000_000, at))
		chatImp := msg(events.TopicImpressions, events.Impression{BidID: chatBid, Kind: "win", CampaignID: "c1", PublisherID: "p1",
			Exchange: "x1", Skill: "mortgage", PriceMicros: 500_000, Currency: "USD", At: at, Channel: "chat"})
		evs = append(evs, chatImp)
		if i%100 == 0 { // calls at the 1% prior
			call := "k" + itoa(i)
			evs = append(evs, attr(call, bid, "p1", "x1", at, at.Add(2*time.Minute)), ended(call, time.Minute, at.Add(4*time.Minute)))
		}
		if i%20 == 0 { // chats at 5%
			s := "chat" + itoa(i)
			a := events.Attribution{CallID: s, DNIS: "CH001", StartedAt: at.Add(time.Minute), Match: "exact", Accepted: true,
				CampaignID: "c1", PublisherID: "p1", Exchange: "x1", BidID: chatBid, WonAt: at, Skill: "mortgage", Channel: "chat"}
			evs = append(evs, msg(events.TopicAttribution, a), ended(s, 2*time.Minute, at.Add(5*time.Minute)))
		}
	}
	feed(f, evs)
	f.hit.Rebuild(t0)
	voice, chat := f.HitRates().HitRate("c1", "p1"), f.HitRates().ChannelHitRate("c1", "p1", channel.Chat)
	if voice < 0.9 || voice > 1.1 || chat < 3 {
		t.Fatalf("voice factor %.2f (want ≈ 1), chat factor %.2f (want well above 1)", voice, chat)
	}
	rep, err := buildReport(f, time.Time{}, time.Time{}, "channel")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2 || rep.Rows[0].Key != "chat" || rep.Rows[1].Key != "voice" ||
		rep.Rows[0].Wins != 3000 || rep.Rows[0].Calls != 150 || rep.Rows[1].Wins != 3000 || rep.Rows[1].Calls != 30 {
		t.Fatalf("rows by channel %+v, want chat 3000 wins 150 chats, voice 3000 wins 30 calls", rep.Rows)
	}
}

// A chat bid is a chat report row and charges no call to the skill's
// participation bucket.
func TestChatBidRecordedPerChannel(t *testing.T) {
	f, _, now := newTest(t, Config{})
	f.RecordBid("c1", "mortgage", "p1", "x1", 2_000_000, 0, *now)
	f.RecordChannelBid("c1", "mortgage", "p1", "x1", channel.Chat, 1_000_000, 0, *now)
	f.drain()
	rep, err := buildReport(f, time.Time{}, time.Time{}, "channel")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2 || rep.Rows[0].Key != "chat" || rep.Rows[0].Bids != 1 || rep.Rows[1].Bids != 1 {
		t.Fatalf("rows by channel %+v", rep.Rows)
	}
	if c := f.charge("c1", "mortgage", "p1", "x1", channel.Chat); c != 0 {
		t.Fatalf("a chat bid charged %v calls", c)
	}
}
