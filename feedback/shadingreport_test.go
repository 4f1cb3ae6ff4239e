package feedback

import (
	"bytes"
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/numbers"
	"github.com/callbid/callbid/openrtb"
	"github.com/callbid/callbid/traffic"
	"github.com/rs/zerolog"
)

// leasingReserver is clReserver whose notices lease, so win notices
// publish their impressions.
type leasingReserver struct{ clReserver }

func (*leasingReserver) Win(numbers.Ref, bool, time.Time) numbers.WinResult { return numbers.WinLeased }
func (*leasingReserver) Bill(numbers.Ref, time.Time) (numbers.WinResult, bool) {
	return numbers.WinLeased, true
}

// TestReportShowsValueBidAndClearing is the shading saving as a campaign
// manager reads it in the report: a base-CPM campaign worth 10.00 bids on
// a first-price exchange whose competing bids are log-normal around 4;
// bids and notices go through the bidder, the report through the feed.
// The row shows the value (10), the shaded mean bid and the mean clearing
// price side by side.
func TestReportShowsValueBidAndClearing(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	f := mustNew(t, Config{}, []Campaign{{ID: "auto", Skill: "auto"}}, nil, nil)
	f.clock = clock
	tf, err := traffic.New(traffic.Config{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tf.Close)
	b, err := bidder.New(bidder.Config{
		Server: bidder.ServerConfig{NoticeBaseURL: "https://bid.example.com", NoticeSecret: "shading-report-secret-0123456789"},
		Campaigns: []bidder.CampaignConfig{{ID: "auto", AdvertiserDomain: "auto.example", AdCategories: []string{"IAB2"},
			Skill: bidder.SkillConfig{Name: "auto"}, BaseCPM: 10_000_000, MaxCPM: 20_000_000,
			Creatives:  []bidder.CreativeConfig{{ID: "c", Type: "banner", W: 300, H: 250, Template: `<a href="{{tel_uri}}">Call {{number}}</a>`}},
			NumberPool: "pool"}},
	}, bidder.Deps{Reserver: &leasingReserver{}, Now: clock, Publisher: f.Tee(nil),
		Feedback: bidder.FeedbackParts{HitRates: f.HitRates(), Pacer: f.Pacer(), TrafficFilter: tf, BidRecorder: f}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 9))
	const value, n = 10.0, 3000
	wins := 0
	for i := range n {
		now = now.Add(100 * time.Millisecond)
		req := &openrtb.Request{ID: "r" + strconv.Itoa(i), AT: 1, Inventory: openrtb.InventorySite, SiteOrAppID: "site", Domain: "news.example",
			PublisherID: "pub", Device: openrtb.Device{IP: "203.0.113.9", Type: 2, Country: "USA"},
			Imps: []openrtb.Imp{{ID: "1", Banner: true, BidFloor: 0.05, Formats: []openrtb.Format{{W: 300, H: 250}}}}}
		res := b.Decide(req, "fpx", now)
		if len(res.Bids) != 1 {
			t.Fatalf("auction %d: no bid (%s)", i, res.Cause)
		}
		bid := res.Bids[0]
		competitor := 4 * math.Exp(0.5*rng.NormFloat64())
		kind, nurl, price := bidder.NoticeLoss, bid.LURL, competitor
		if bid.Price > competitor {
			kind, nurl, price = bidder.NoticeWin, bid.NURL, bid.Price // first price: the winner pays its bid
			wins++
		}
		u, err := url.Parse(nurl)
		if err != nil {
			t.Fatal(err)
		}
		p := []byte(strconv.FormatFloat(price, 'f', 6, 64))
		if st := b.Notice(kind, false, &bidder.NoticeQuery{Token: []byte(u.Query().Get("t")), Price: p}); st != 204 {
			t.Fatalf("auction %d: notice answered %d", i, st)
		}
	}
	f.drain()
	rep, err := buildReport(f, time.Time{}, time.Time{}, "campaign")
	if err != nil {
		t.Fatal(err)
	}
	row := rep.Rows[0]
	if row.MeanValueCPM == nil || row.MeanBidCPM == nil || row.MeanClearingCPM == nil {
		t.Fatalf("row %+v: want value, bid and clearing price", row)
	}
	v, bd, cl := *row.MeanValueCPM, *row.MeanBidCPM, *row.MeanClearingCPM
	t.Logf("%d auctions, %d wins: mean value %.2f, mean bid %.2f, mean clearing %.2f CPM", n, wins, v, bd, cl)
	if row.Bids != n || row.Wins != int64(wins) || math.Abs(v-value) > 1e-6 {
		t.Fatalf("row %+v: want %d bids, %d wins, mean value %g", row, n, wins, value)
	}
	if bd >= 0.8*value || cl >= 0.8*value || cl < bd {
		t.Fatalf("mean bid %.2f, clearing %.2f: want both well below the value %g (shaded), clearing ≥ the mean bid (the wins are the higher bids)", bd, cl, value)
	}
	var csv bytes.Buffer
	if err := rep.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), ",mean_value_cpm,mean_bid_cpm,mean_clearing_cpm\n") {
		t.Fatalf("csv %q lacks the columns", csv.String())
	}
}
