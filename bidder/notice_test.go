package bidder

import (
	"encoding/json"
	"math"
	"net/url"
	"regexp"
	"strconv"
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
	billTok, lossTok := []byte(tokenOf(t, bid.BURL)), []byte(tokenOf(t, bid.LURL))
	if string(billTok) == string(tok) || string(lossTok) == string(tok) || string(billTok) == string(lossTok) {
		t.Fatal("nurl, burl and lurl carry the same token: it is not bound to its kind")
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
	if o, _ := e.b.applyNotice(noticeBill, billTok, []byte("2.5"), later); o != noticeApplied {
		t.Fatalf("bill: %v", noticeOutcomeNames[o])
	}
	if o, _ := e.b.applyNotice(noticeBill, billTok, []byte("2.5"), later.Add(time.Minute)); o != noticeDuplicate {
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
	// A loss after the win contradicts it: the number stays leased.
	if o, st := e.b.applyNotice(noticeLoss, lossTok, nil, later); o != noticeConflict || st != 204 || e.res.losses[ref] != 0 {
		t.Fatalf("loss after win: %v %d, losses %v", noticeOutcomeNames[o], st, e.res.losses)
	}
	if n := len(e.pub.msgs); n != 2 {
		t.Fatalf("a conflicting loss was published: %d messages", n)
	}
}

// TestNoticeLossThenWin: the loss freed the number; a later win or bill of the
// same bid must not lease it again (it may be another impression's now), and
// is counted as a conflict.
func TestNoticeLossThenWin(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	bid := e.b.Decide(banner300(), "exA", e.now).Bids[0]
	ref := numbers.Ref(0<<32 | 1)
	if o, _ := e.b.applyNotice(noticeLoss, []byte(tokenOf(t, bid.LURL)), []byte("7.5"), e.now); o != noticeApplied || e.res.losses[ref] != 1 {
		t.Fatalf("loss: %v %v", noticeOutcomeNames[o], e.res.losses)
	}
	for _, c := range []struct {
		kind noticeKind
		url  string
	}{{noticeWin, bid.NURL}, {noticeBill, bid.BURL}} {
		if o, st := e.b.applyNotice(c.kind, []byte(tokenOf(t, c.url)), []byte("1"), e.now); o != noticeConflict || st != 204 {
			t.Fatalf("%s after loss: %v %d", noticeKindNames[c.kind], noticeOutcomeNames[o], st)
		}
	}
	if len(e.res.wins)+len(e.res.bills) != 0 || e.b.budgets.get("mortgage").spentOn(dayIndex(e.now)) != 0 {
		t.Fatalf("win after loss changed state: wins %v bills %v", e.res.wins, e.res.bills)
	}
	if n := len(e.pub.msgs); n != 1 {
		t.Fatalf("published %d events, want the loss only", n)
	}
}

// TestNoticeHead: HEAD answers like GET for the token but never applies.
func TestNoticeHead(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	bid := e.b.Decide(banner300(), "exA", e.now).Bids[0]
	h := e.b.Handler(nil)
	for _, u := range []string{bid.NURL, bid.BURL, bid.LURL} {
		pu, _ := url.Parse(strings.ReplaceAll(u, "${AUCTION_PRICE}", "1.5"))
		if ctx := serve(h, "HEAD", pu.RequestURI(), nil); ctx.Response.StatusCode() != 204 {
			t.Fatalf("HEAD %s: %d", pu.Path, ctx.Response.StatusCode())
		}
	}
	pu, _ := url.Parse(bid.NURL)
	if ctx := serve(h, "HEAD", pu.Path+"?t=forged.AAAAAAAAAAAAAA", nil); ctx.Response.StatusCode() != 400 {
		t.Fatalf("HEAD with a malformed token: %d", ctx.Response.StatusCode())
	}
	if len(e.res.wins)+len(e.res.bills)+len(e.res.losses) != 0 || len(e.pub.msgs) != 0 ||
		e.b.budgets.get("mortgage").spentOn(dayIndex(e.now)) != 0 {
		t.Fatalf("HEAD changed state: wins %v bills %v losses %v, %d events", e.res.wins, e.res.bills, e.res.losses, len(e.pub.msgs))
	}
	// The GET after the HEADs is the first, and applies.
	if o, _ := e.b.applyNotice(noticeWin, []byte(tokenOf(t, bid.NURL)), nil, e.now); o != noticeApplied {
		t.Fatalf("win after HEAD: %s", noticeOutcomeNames[o])
	}
}

// TestNoticeTokenBoundToKind: each URL's token works only on its own path.
func TestNoticeTokenBoundToKind(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	bid := e.b.Decide(banner300(), "exA", e.now).Bids[0]
	urls := [numNoticeKinds]string{bid.NURL, bid.BURL, bid.LURL}
	for from := noticeKind(0); from < numNoticeKinds; from++ {
		for to := noticeKind(0); to < numNoticeKinds; to++ {
			if from == to {
				continue
			}
			o, st := e.b.applyNotice(to, []byte(tokenOf(t, urls[from])), []byte("1"), e.now)
			if o != noticeWrongKind || st != 403 {
				t.Errorf("%s token on /notice/%s: %s %d, want wrong_kind 403", noticeKindNames[from], noticeKindNames[to],
					noticeOutcomeNames[o], st)
			}
		}
	}
	if len(e.res.wins)+len(e.res.bills)+len(e.res.losses) != 0 || len(e.pub.msgs) != 0 {
		t.Fatal("a token of another kind changed state")
	}
}

// TestNoticeTokenV1: tokens of the previous format (one token on all three
// URLs) still lease on the win path after an upgrade, and nowhere else.
func TestNoticeTokenV1(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	s := e.b.snap.Load().signer
	tk := noticeToken{ref: 1, issued: e.now.Unix(), price: 4_000_000, cur: "USD", campaign: "mortgage",
		publisher: "pub-1", exchange: "exA", skill: "mortgage", bidID: "old-1"}
	v1 := s.appendTokenV1(nil, &tk)
	for _, k := range []noticeKind{noticeBill, noticeLoss} {
		if o, st := e.b.applyNotice(k, v1, []byte("1"), e.now); o != noticeWrongKind || st != 403 {
			t.Fatalf("v1 token on %s: %s %d", noticeKindNames[k], noticeOutcomeNames[o], st)
		}
	}
	if o, _ := e.b.applyNotice(noticeWin, v1, []byte("1"), e.now); o != noticeApplied || e.res.wins[1] != 1 {
		t.Fatalf("v1 token on win: %s, wins %v", noticeOutcomeNames[o], e.res.wins)
	}
	forged := append([]byte(nil), v1...)
	forged[5] ^= 1
	if o, _ := e.b.applyNotice(noticeWin, forged, nil, e.now); o != noticeForged && o != noticeMalformed {
		t.Fatalf("tampered v1 token: %s", noticeOutcomeNames[o])
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
	tok := tokenOf(t, r.Bids[0].BURL)

	other := baseConfig()
	other.Server.NoticeSecret = "another-secret-of-enough-length"
	eo := newEnv(t, other, 0)
	foreign := tokenOf(t, eo.b.Decide(banner300(), "default", e.now).Bids[0].BURL)

	flip := []byte(tok)
	// Another base64 character in the payload (the payload decides the MAC).
	if flip[len(flip)/2] == 'A' {
		flip[len(flip)/2] = 'B'
	} else {
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
		{"truncated tag", tok[:len(tok)-4], e.now, noticeMalformed, 400},
		{"no tag", tok[:strings.IndexByte(tok, '.')], e.now, noticeForged, 403}, // read as version 1
		{"truncated payload", tok[:strings.IndexByte(tok, '.')-4] + tok[strings.IndexByte(tok, '.'):], e.now, noticeForged, 403},
		{"win token", tokenOf(t, r.Bids[0].NURL), e.now, noticeWrongKind, 403},
		{"loss token", tokenOf(t, r.Bids[0].LURL), e.now, noticeWrongKind, 403},
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
	got, err := s.verify(s.appendToken(nil, &in, noticeBill), noticeBill)
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
		for _, u := range []string{r.Bids[0].NURL, r.Bids[0].BURL, r.Bids[0].LURL} {
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
			if _, err := e.b.snap.Load().signer.verify(tok, noticeBill); err != nil {
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
	// Cleared at 1.25 USD = 1.00 EUR.
	if o, _ := e.b.applyNotice(noticeBill, []byte(tokenOf(t, r.Bids[0].BURL)), []byte("1.25"), e.now); o != noticeApplied {
		t.Fatal(noticeOutcomeNames[o])
	}
	if got := e.b.budgets.get("legal").spentOn(dayIndex(e.now)); got != 1_000_000 {
		t.Fatalf("spend %d EUR CPM micros, want 1000000", got)
	}
}

func TestParseClearing(t *testing.T) {
	const bid = 4_000_000
	for _, c := range []struct {
		in   string
		want int64
		res  clearingResult
	}{
		{"12.5", bid, clearingCapped},
		{"2.5", 2_500_000, clearingOK},
		{"0.000001", 1, clearingOK},
		{"0.0000019", 1, clearingOK}, // past six decimals: truncated, never rounded up
		{"3.99999999", 3_999_999, clearingOK},
		{"0", 0, clearingOK},
		{"004.000000", 4_000_000, clearingOK},
		{"1000000", bid, clearingCapped},
		{"99999999999999999999999999", bid, clearingCapped},
		{"0x1p19", bid, clearingMalformed},
		{"1_000", bid, clearingMalformed},
		{"1e6", bid, clearingMalformed},
		{"1E-3", bid, clearingMalformed},
		{"inf", bid, clearingMalformed},
		{"NaN", bid, clearingMalformed},
		{"-1", bid, clearingMalformed},
		{"+1", bid, clearingMalformed},
		{".5", bid, clearingMalformed},
		{"5.", bid, clearingMalformed},
		{"1.2.3", bid, clearingMalformed},
		{" 1", bid, clearingMalformed},
		{"1,5", bid, clearingMalformed},
		{"0.00000000000000000000000000000001", bid, clearingMalformed}, // over 32 characters
		{"", bid, clearingMissing},
		{"${AUCTION_PRICE}", bid, clearingMissing},
	} {
		got, res := parseClearing([]byte(c.in), bid, true)
		if got != c.want || res != c.res {
			t.Errorf("win/bill %q: %d %s, want %d %s", c.in, got, clearingResultNames[res], c.want, clearingResultNames[c.res])
		}
	}
	// Loss: the winner's price, informational: not capped, 0 when unusable.
	if got, res := parseClearing([]byte("12.5"), bid, false); got != 12_500_000 || res != clearingOK {
		t.Errorf("loss 12.5: %d %s", got, clearingResultNames[res])
	}
	if got, res := parseClearing([]byte("0x1p19"), bid, false); got != 0 || res != clearingMalformed {
		t.Errorf("loss 0x1p19: %d %s", got, clearingResultNames[res])
	}
}

// TestNoticeBillCappedAtBid: the attack — bills at 1,000,000 CPM,
// 0x1p19 and 1_000 — book at most the bid price each, and are counted.
func TestNoticeBillCappedAtBid(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	var want int64
	for _, p := range []string{"1000000", "0x1p19", "1_000"} {
		bid := e.b.Decide(banner300(), "exA", e.now).Bids[0]
		if o, _ := e.b.applyNotice(noticeBill, []byte(tokenOf(t, bid.BURL)), []byte(p), e.now); o != noticeApplied {
			t.Fatalf("bill %s: %s", p, noticeOutcomeNames[o])
		}
		want += int64(math.Round(bid.Price * 1e6))
	}
	if got := e.b.budgets.get("mortgage").spentOn(dayIndex(e.now)); got != want || want != 12_000_000 {
		t.Fatalf("spend %d CPM micros, want %d (three bids at 4.00)", got, want)
	}
	if c, m := counterValue(e.b.m.clearing[noticeBill][clearingCapped]), counterValue(e.b.m.clearing[noticeBill][clearingMalformed]); c != 1 || m != 2 {
		t.Fatalf("counted capped %v, malformed %v; want 1 and 2", c, m)
	}
}

// FuzzParseClearing: a win or bill price never exceeds the bid price, a
// parsed price never exceeds the decimal it was written as (truncation only
// drops money), and only plain decimals parse.
func FuzzParseClearing(f *testing.F) {
	for _, s := range []string{"12.5", "0.000001", "0x1p19", "1_000", "1e6", "inf", "-0", "00.10", "1.0000009"} {
		f.Add(s)
	}
	plain := regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	f.Fuzz(func(t *testing.T, s string) {
		const bid = 4_000_000
		v, res := parseClearing([]byte(s), bid, true)
		if v < 0 || v > bid {
			t.Fatalf("%q booked %d, bid %d", s, v, bid)
		}
		lv, lres := parseClearing([]byte(s), bid, false)
		isPlain := plain.MatchString(s) && len(s) <= maxPriceLen
		if isPlain != (lres == clearingOK) {
			t.Fatalf("%q: plain %v, loss result %s", s, isPlain, clearingResultNames[lres])
		}
		if isPlain {
			if fv, err := strconv.ParseFloat(s, 64); err == nil && fv < 1e12 && float64(lv) > fv*1e6*(1+1e-12)+0.5 {
				t.Fatalf("%q parsed to %d micros, more than written", s, lv)
			}
			if res != clearingOK && res != clearingCapped {
				t.Fatalf("%q: plain decimal gave %s", s, clearingResultNames[res])
			}
		}
	})
}
