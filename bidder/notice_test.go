package bidder

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/numbers"
)

// tokenOf pulls the t= parameter out of a notice URL.
func tokenOf(t testing.TB, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("notice url %q: %v", u, err)
	}
	return pu.Query().Get("t")
}

func TestNoticeLifecycle(t *testing.T) {
	cfg := baseConfig()
	cfg.Campaigns[0].DailyBudget = 100_000_000
	e := newEnv(t, cfg, 0)
	r := e.b.Decide(banner300(), "exA", e.now)
	if len(r.Bids) != 1 {
		t.Fatalf("no bid: %v", r.Cause)
	}
	bid := r.Bids[0]
	bidID := string([]byte(bid.ID))
	tok := []byte(tokenOf(t, bid.NURL))
	if tokenOf(t, bid.BURL) != string(tok) || tokenOf(t, bid.LURL) != string(tok) {
		t.Fatal("nurl, burl and lurl carry different tokens")
	}
	ref := numbers.Ref(0<<32 | 1) // fake: pool 0 (mortgage), first reservation

	later := e.now.Add(30 * time.Second)
	if o, st := e.b.applyNotice(noticeWin, tok, []byte("${AUCTION_PRICE}"), later); o != noticeApplied || st != 204 {
		t.Fatalf("win: %v %d", noticeOutcomeNames[o], st)
	}
	if o, _ := e.b.applyNotice(noticeWin, tok, nil, later); o != noticeDuplicate {
		t.Fatalf("repeated win: %v, want duplicate", noticeOutcomeNames[o])
	}
	if e.res.wins[ref] != 1 {
		t.Fatalf("Reserver.Win(billed=false) called %d times for ref %d, want 1 (%v)", e.res.wins[ref], ref, e.res.wins)
	}
	if o, _ := e.b.applyNotice(noticeBill, tok, []byte("2.5"), later); o != noticeApplied {
		t.Fatalf("bill: %v", noticeOutcomeNames[o])
	}
	if o, _ := e.b.applyNotice(noticeBill, tok, []byte("2.5"), later.Add(time.Minute)); o != noticeDuplicate {
		t.Fatalf("repeated bill: %v", noticeOutcomeNames[o])
	}
	if e.res.bills[ref] != 1 {
		t.Fatalf("Reserver.Win(billed=true) called %d times, want 1", e.res.bills[ref])
	}
	if got := e.b.budgets.get("mortgage").spentOn(dayIndex(later)); got != 2_500_000 {
		t.Fatalf("spend %d CPM micros, want 2500000", got)
	}
	var imps []events.Impression
	for _, m := range e.pub.msgs {
		if m.topic != events.TopicImpressions || m.key != bidID {
			t.Fatalf("published %q key %q, want %q key %q", m.topic, m.key, events.TopicImpressions, bidID)
		}
		var im events.Impression
		if err := json.Unmarshal([]byte(m.value), &im); err != nil {
			t.Fatal(err)
		}
		imps = append(imps, im)
	}
	if len(imps) != 2 || imps[0].Kind != "win" || imps[0].PriceMicros != 4_000_000 || imps[1].Kind != "bill" || imps[1].PriceMicros != 2_500_000 ||
		imps[1].CampaignID != "mortgage" || imps[1].PublisherID != "pub-1" || imps[1].Exchange != "exA" ||
		imps[1].Skill != "mortgage" || imps[1].Currency != "USD" || imps[1].IPHash != hashString("203.0.113.9") {
		t.Fatalf("impressions %+v", imps)
	}
	if o, _ := e.b.applyNotice(noticeLoss, tok, nil, later); o != noticeApplied || e.res.losses[ref] != 1 {
		t.Fatalf("loss: %v, losses %v", noticeOutcomeNames[o], e.res.losses)
	}
	if n := len(e.pub.msgs); n != 3 || !strings.Contains(e.pub.msgs[2].value, `"kind":"loss"`) {
		t.Fatalf("loss not published: %d messages", n)
	}
}

func TestNoticeBillFallsBackToBidPrice(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	r := e.b.Decide(banner300(), "default", e.now)
	tok := []byte(tokenOf(t, r.Bids[0].BURL))
	for _, p := range []string{"${AUCTION_PRICE}", "", "x", "-1", "NaN"} {
		e2 := newEnv(t, baseConfig(), 0)
		if o, _ := e2.b.applyNotice(noticeBill, tok, []byte(p), e.now); o != noticeApplied {
			t.Fatalf("p=%q: %v", p, noticeOutcomeNames[o])
		}
		if got := e2.b.budgets.get("mortgage").spentOn(dayIndex(e.now)); got != 4_000_000 {
			t.Fatalf("p=%q: spend %d, want the bid price 4000000", p, got)
		}
	}
}

func TestNoticeRejects(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	r := e.b.Decide(banner300(), "default", e.now)
	tok := tokenOf(t, r.Bids[0].NURL)

	other := baseConfig()
	other.Server.NoticeSecret = "another-secret-of-enough-length"
	eo := newEnv(t, other, 0)
	foreign := tokenOf(t, eo.b.Decide(banner300(), "default", e.now).Bids[0].NURL)

	flip := []byte(tok)
	flip[len(flip)/2] ^= 1
	if flip[len(flip)/2] == '-' || flip[len(flip)/2] == '_' {
		flip[len(flip)/2] = 'A'
	}
	cases := []struct {
		name string
		tok  string
		at   time.Time
		want noticeOutcome
		st   int
	}{
		{"empty", "", e.now, noticeMalformed, 400},
		{"not base64", "!!!", e.now, noticeMalformed, 400},
		{"truncated", tok[:len(tok)-4], e.now, noticeForged, 403},
		{"odd length", tok[:len(tok)-5], e.now, noticeMalformed, 400},
		{"tampered", string(flip), e.now, noticeForged, 403},
		{"other secret", foreign, e.now, noticeForged, 403},
		{"expired", tok, e.now.Add(25 * time.Hour), noticeExpired, 403},
		{"from the future", tok, e.now.Add(-time.Hour), noticeExpired, 403},
	}
	for _, c := range cases {
		o, st := e.b.applyNotice(noticeBill, []byte(c.tok), []byte("1"), c.at)
		if o != c.want || st != c.st {
			t.Errorf("%s: %s %d, want %s %d", c.name, noticeOutcomeNames[o], st, noticeOutcomeNames[c.want], c.st)
		}
	}
	if len(e.res.bills) != 0 || len(e.pub.msgs) != 0 || e.b.budgets.get("mortgage").spentOn(dayIndex(e.now)) != 0 {
		t.Fatalf("a rejected notice changed state: bills %v, published %d", e.res.bills, len(e.pub.msgs))
	}
	// The genuine token still works afterwards.
	if o, _ := e.b.applyNotice(noticeBill, []byte(tok), []byte("1"), e.now); o != noticeApplied {
		t.Fatalf("genuine token after rejects: %s", noticeOutcomeNames[o])
	}
}

func TestNoticeSecretRotation(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	tok := tokenOf(t, e.b.Decide(banner300(), "default", e.now).Bids[0].NURL)
	cfg := baseConfig()
	cfg.Server.NoticeSecret = "the-next-secret-0123456789"
	if err := e.b.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if o, _ := e.b.applyNotice(noticeWin, []byte(tok), nil, e.now); o != noticeApplied {
		t.Fatalf("token of the previous secret: %s", noticeOutcomeNames[o])
	}
	tok2 := tokenOf(t, e.b.Decide(banner300(), "default", e.now).Bids[0].NURL)
	if o, _ := e.b.applyNotice(noticeWin, []byte(tok2), nil, e.now); o != noticeApplied {
		t.Fatalf("token of the new secret: %s", noticeOutcomeNames[o])
	}
}

func TestTokenRoundTrip(t *testing.T) {
	s := newSigner([]byte(testSecret))
	in := noticeToken{ref: 1<<40 | 7, issued: testNow.Unix(), price: 12_345_678, cur: "EUR", ipHash: 1, ifaHash: 2,
		campaign: "c", publisher: string(make([]byte, 300)), exchange: "x", skill: "s", bidID: "b-1"}
	got, err := s.verify(s.appendToken(nil, &in))
	if err != nil {
		t.Fatal(err)
	}
	in.publisher = in.publisher[:255] // long strings are cut
	if got != in {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, in)
	}
}

func FuzzNotice(f *testing.F) {
	e := newEnv(f, baseConfig(), 0)
	for _, ex := range []string{"default", "exA"} {
		r := e.b.Decide(banner300(), ex, e.now)
		for _, u := range []string{r.Bids[0].NURL, r.Bids[0].LURL} {
			pu, _ := url.Parse(u)
			f.Add(pu.RawQuery)
		}
	}
	f.Add("t=&p=")
	f.Add("t=AAAA&p=1.5")
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		e.now = testNow
		tok := []byte(q.Get("t"))
		o, st := e.b.applyNotice(noticeBill, tok, []byte(q.Get("p")), testNow)
		if st != 204 && st != 400 && st != 403 {
			t.Fatalf("status %d", st)
		}
		if o == noticeApplied || o == noticeDuplicate {
			if _, err := e.b.snap.Load().signer.verify(tok); err != nil {
				t.Fatalf("applied a token that does not verify: %v", err)
			}
		}
	})
}

func TestNoticeSpendInCampaignCurrency(t *testing.T) {
	cfg := baseConfig()
	cfg.Campaigns = cfg.Campaigns[2:] // legal only
	cfg.Campaigns[0].Currency = "EUR"
	cfg.Campaigns[0].BaseCPM = 2_000_000 // 2 EUR = 2.50 USD
	e := newEnv(t, cfg, 0)
	r := e.b.Decide(banner300(), "", e.now)
	if len(r.Bids) != 1 || r.Bids[0].Price != 2.5 || r.Cur != "USD" {
		t.Fatalf("bid %+v cur %s", r.Bids, r.Cur)
	}
	// Cleared at 5.00 USD = 4.00 EUR.
	if o, _ := e.b.applyNotice(noticeBill, []byte(tokenOf(t, r.Bids[0].BURL)), []byte("5.00"), e.now); o != noticeApplied {
		t.Fatal(noticeOutcomeNames[o])
	}
	if got := e.b.budgets.get("legal").spentOn(dayIndex(e.now)); got != 4_000_000 {
		t.Fatalf("spend %d EUR CPM micros, want 4000000", got)
	}
}
