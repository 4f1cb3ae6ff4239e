package bidder

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/callbid/callbid/numbers"
	"github.com/rs/zerolog"
)

// With the real number pools, the call attribution carries what the bid
// and its notices knew: creative, currency, geo, device type and the
// clearing price (the bill's over the win's).
func TestAttributionCarriesBidAndClearing(t *testing.T) {
	var pcs []numbers.PoolConfig
	for i, id := range []string{"pool-mortgage", "pool-auto", "pool-legal"} {
		pcs = append(pcs, numbers.PoolConfig{ID: id, Numbers: []string{fmt.Sprintf("+1800555%04d", i)}})
	}
	pools, err := numbers.New(numbers.Config{CallsToken: "tok", Pools: pcs}, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	pools.ReplayDone()
	now := testNow
	b, err := New(baseConfig(), Deps{Reserver: pools, Capacity: &fakeCapacity{}, Feedback: &fakeFeedback{},
		Publisher: &fakePublisher{}, Now: func() time.Time { return now }}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	r := b.Decide(banner300(), "exA", now)
	if len(r.Bids) != 1 {
		t.Fatalf("no bid: %v", r.Cause)
	}
	bid := r.Bids[0]
	crid := string([]byte(bid.CrID))
	if _, ok := any(pools).(ClearingRecorder); !ok {
		t.Fatal("*numbers.Pools does not record clearing prices")
	}
	later := now.Add(10 * time.Second)
	if o, _ := b.applyNotice(noticeWin, []byte(tokenOf(t, bid.NURL)), []byte("1.75"), later); o != noticeApplied {
		t.Fatalf("win: %v", noticeOutcomeNames[o])
	}
	if o, _ := b.applyNotice(noticeBill, []byte(tokenOf(t, bid.BURL)), []byte("1.8"), later); o != noticeApplied {
		t.Fatalf("bill: %v", noticeOutcomeNames[o])
	}

	body := pools.Attribute(&numbers.CallRequest{CallID: []byte("c-1"), DNIS: []byte("+18005550000"),
		StartedAt: later.Add(time.Minute).Truncate(time.Second).UnixNano()}, nil).JSON
	var a struct {
		Match       string
		Attribution struct {
			CreativeID       string   `json:"creative_id"`
			Currency         string   `json:"currency"`
			ClearingPriceCPM *float64 `json:"clearing_price_cpm"`
			Country, Region  string
			DeviceType       *int `json:"device_type"`
		}
	}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	at := a.Attribution
	if a.Match != numbers.MatchExact || at.CreativeID != crid || crid == "" || at.Currency != "USD" ||
		at.ClearingPriceCPM == nil || *at.ClearingPriceCPM != 1.8 || at.Country != "USA" || at.Region != "CA" ||
		at.DeviceType == nil || *at.DeviceType != 2 {
		t.Fatalf("attribution %s", body)
	}
}
