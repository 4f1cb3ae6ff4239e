package numbers

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// TestReplayedHoldsOwnTheirStrings: the lease consumer hands each record
// in a buffer it reuses for the next fetch (kafkaio.Message), a hold
// batch's strings view that buffer (events.ReadHoldBatch) and a JSON lease
// record's ids view the decoder's scratch. A replayed hold keeps its
// attribution until a call comes, so the pools must copy all of it: here
// every record is read from one buffer that the next record overwrites
// (the claims differ in every string, not in length), and each number's
// call must still be attributed to its own claim.
func TestReplayedHoldsOwnTheirStrings(t *testing.T) {
	for _, parts := range []int{0, 1} { // 0: a JSON lease record per hold; 1: hold batches
		t.Run("partitions="+strconv.Itoa(parts), func(t *testing.T) {
			clock := t0
			cfg := onePool(4)
			p1, l1 := newDurable(t, cfg, &clock)
			l1.parts = parts
			claims := make([]*Claim, 3)
			var rs []Reservation
			for k := range claims {
				n := strconv.Itoa(k)
				claims[k] = &Claim{CampaignID: "camp-" + n, PublisherID: "pub-" + n, SiteOrApp: "site-" + n,
					Exchange: "xch-" + n, RequestID: "req-" + n, ImpID: "imp-" + n, BidID: "bid-" + n, Skill: "skill-" + n,
					PriceMicros: 2_500_000, CreativeID: "cr-" + n, Currency: "CU" + n, Country: "CC" + n, Region: "RG" + n}
				r, ok := p1.Reserve(0, claims[k], clock)
				if !ok {
					t.Fatal("no reservation")
				}
				rs = append(rs, r)
				p1.LogHolds() // one pass (one batch) per hold: records alike but for their strings
			}
			l1.ackAll()
			p2, _ := newDurable(t, cfg, &clock)
			p2.PauseUntilReplayed()
			var key, val []byte // the consumer's buffer, reused
			for _, m := range l1.written() {
				key, val = append(key[:0], m.key...), append(val[:0], m.value...)
				p2.ApplyLeaseEvent(kafkaio.Message{Topic: events.TopicLeases, Key: key, Value: val})
			}
			p2.ReplayDone()
			if st := p2.Stats(); st.BadLeaseEvents != 0 {
				t.Fatalf("%d bad lease records on replay", st.BadLeaseEvents)
			}
			type attr struct {
				Campaign  string `json:"campaign_id"`
				Publisher string `json:"publisher_id"`
				Site      string `json:"site_or_app"`
				Exchange  string `json:"exchange"`
				RequestID string `json:"request_id"`
				ImpID     string `json:"imp_id"`
				BidID     string `json:"bid_id"`
				Skill     string `json:"skill"`
				Creative  string `json:"creative_id"`
				Currency  string `json:"currency"`
				Country   string `json:"country"`
				Region    string `json:"region"`
			}
			for k, r := range rs {
				c := claims[k]
				want := attr{c.CampaignID, c.PublisherID, c.SiteOrApp, c.Exchange, c.RequestID, c.ImpID, c.BidID,
					c.Skill, c.CreativeID, c.Currency, c.Country, c.Region}
				ans := p2.Attribute(&CallRequest{CallID: []byte("call-" + strconv.Itoa(k)), DNIS: []byte(r.E164), Ext: []byte(r.Ext)}, nil)
				var got struct {
					Match       string `json:"match"`
					Attribution attr   `json:"attribution"`
				}
				if err := json.Unmarshal(ans.JSON, &got); err != nil {
					t.Fatalf("call %d: %v: %s", k, err, ans.JSON)
				}
				if got.Match != MatchExact || got.Attribution != want {
					t.Errorf("call to the number of claim %d: match %s, attribution\n%+v\nwant\n%+v", k, got.Match, got.Attribution, want)
				}
			}
		})
	}
}
