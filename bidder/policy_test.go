package bidder

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/callbid/callbid/openrtb"
)

type debugResp struct {
	ID      string `json:"id"`
	NBR     *int   `json:"nbr"`
	SeatBid []struct {
		Bid []struct {
			ID     string   `json:"id"`
			AdM    string   `json:"adm"`
			CID    string   `json:"cid"`
			Cat    []string `json:"cat"`
			CatTax int      `json:"cattax"`
			Bundle string   `json:"bundle"`
			AdID   string   `json:"adid"`
			CrID   string   `json:"crid"`
			BURL   string   `json:"burl"`
			NURL   string   `json:"nurl"`
		} `json:"bid"`
	} `json:"seatbid"`
	Ext struct {
		Debug *struct {
			Result    string `json:"result"`
			Campaigns []struct {
				ID     string  `json:"id"`
				Result string  `json:"result"`
				Price  float64 `json:"price"`
			} `json:"campaigns"`
		} `json:"callbid_debug"`
	} `json:"ext"`
}

func decodeResp(t *testing.T, body []byte) debugResp {
	t.Helper()
	var r debugResp
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, body)
	}
	return r
}

// TestTestRequestsTouchNothing: test=1 traffic gets no bid by default; with
// test_requests.mode bid it gets a priced bid showing the test number, and
// neither the bid nor its win and bill notices reserve a pool number,
// charge a budget or reach feedback, participation or reports.
func TestTestRequestsTouchNothing(t *testing.T) {
	cfg := baseConfig()
	cfg.Campaigns[0].DailyBudget = 100_000_000
	e := newEnv(t, cfg, 0)
	req := banner300()
	req.Test = true
	if r := e.b.Decide(req, "default", e.now); r.Cause != CauseTest {
		t.Fatalf("default policy: cause %s, want test", r.Cause)
	}
	cfg.TestRequests = TestRequestsConfig{Mode: "bid", Number: "+18005550199"}
	if err := e.b.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	h := e.b.Handler(nil)
	body := strings.Replace(string(bidRequest(1)), `{"id":"r",`, `{"id":"r","test":1,`, 1)
	ctx := serve(h, "POST", "/openrtb2/bid?exchange=exA", []byte(body))
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("test bid: status %d", ctx.Response.StatusCode())
	}
	resp := decodeResp(t, ctx.Response.Body())
	b := resp.SeatBid[0].Bid[0]
	if !strings.Contains(b.AdM, "+18005550199") || !strings.HasPrefix(b.ID, testBidPrefix) {
		t.Fatalf("test bid should show the test number with a test- bid id: %s %s", b.ID, b.AdM)
	}
	for _, u := range []struct {
		path string
		url  string
	}{{"win", b.NURL}, {"bill", b.BURL}} {
		pu, _ := url.Parse(u.url)
		q := pu.Query()
		ctx := serve(h, "GET", "/notice/"+u.path+"?t="+url.QueryEscape(q.Get("t"))+"&p=2.5&c=USD", nil)
		if ctx.Response.StatusCode() != 204 {
			t.Fatalf("%s notice: %d", u.path, ctx.Response.StatusCode())
		}
	}
	if n := e.res.used[0].Load(); n != 0 {
		t.Fatalf("test traffic reserved %d pool numbers", n)
	}
	if len(e.res.wins)+len(e.res.bills) != 0 {
		t.Fatal("test notices leased a number")
	}
	if got := e.b.budgets.get("mortgage").spentOn(dayIndex(e.now)); got != 0 {
		t.Fatalf("test bill spent %d", got)
	}
	if e.fb.bids.Load() != 0 || e.fb.seen.Load() != 0 {
		t.Fatalf("test traffic reached feedback: %d bids, %d seen", e.fb.bids.Load(), e.fb.seen.Load())
	}
	if len(e.pub.msgs) != 0 {
		t.Fatalf("test notices published %d impression events", len(e.pub.msgs))
	}
	if v := counterValue(e.b.m.notices[noticeBill][noticeTest]); v != 1 {
		t.Fatalf("test bill notices counted %g, want 1", v)
	}
	// The same request without test=1 does all of it.
	ctx = serve(h, "POST", "/openrtb2/bid?exchange=exA", bidRequest(1))
	if ctx.Response.StatusCode() != 200 || e.res.used[0].Load() != 1 || e.fb.bids.Load() != 1 {
		t.Fatal("a real request should reserve and record")
	}
}

func TestPrivacyPolicy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		privacy PrivacyConfig
		mut     func(*openrtb.Request)
		want    Cause
	}{
		{"gdpr applies without consent", PrivacyConfig{}, func(r *openrtb.Request) { r.Regs.GDPR = 1 }, CausePrivacy},
		{"gdpr applies with consent", PrivacyConfig{}, func(r *openrtb.Request) { r.Regs.GDPR = 1; r.User.Consent = "CPx" }, CauseNone},
		{"gdpr unknown", PrivacyConfig{}, func(r *openrtb.Request) { r.Regs.GDPR = -1 }, CauseNone},
		{"gdpr no_bid", PrivacyConfig{GDPR: "no_bid"}, func(r *openrtb.Request) { r.Regs.GDPR = 1; r.User.Consent = "CPx" }, CausePrivacy},
		{"gdpr ignore", PrivacyConfig{GDPR: "ignore"}, func(r *openrtb.Request) { r.Regs.GDPR = 1 }, CauseNone},
		{"us privacy opt-out", PrivacyConfig{}, func(r *openrtb.Request) { r.Regs.USPrivacy = "1YYN" }, CausePrivacy},
		{"us privacy no opt-out", PrivacyConfig{}, func(r *openrtb.Request) { r.Regs.USPrivacy = "1YNN" }, CauseNone},
		{"us privacy not applicable", PrivacyConfig{}, func(r *openrtb.Request) { r.Regs.USPrivacy = "1---" }, CauseNone},
		{"us privacy ignored", PrivacyConfig{USPrivacyOptOut: "ignore"}, func(r *openrtb.Request) { r.Regs.USPrivacy = "1YYN" }, CauseNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.Privacy = tc.privacy
			e := newEnv(t, cfg, 0)
			req := banner300()
			req.Regs.GDPR = -1
			tc.mut(req)
			r := e.b.Decide(req, "default", e.now)
			if r.Cause != tc.want {
				t.Fatalf("cause %s, want %s", r.Cause, tc.want)
			}
		})
	}
	cfg := baseConfig()
	cfg.Privacy = PrivacyConfig{GDPR: "maybe", USPrivacyOptOut: "sometimes"}
	cfg.TestRequests = TestRequestsConfig{Mode: "bid", Number: "555"}
	err := cfg.Validate()
	for _, want := range []string{`privacy.gdpr: "maybe" must be`, `privacy.us_privacy_opt_out: "sometimes" must be`,
		`test_requests.number: "555" must be an E.164 number`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

// TestBidCarriesCategoriesAndCurrencyMacro: bid.cat/cattax/bundle/adid come
// from the campaign, and a bill whose ${AUCTION_CURRENCY} differs from the
// bid's is converted before it is booked.
func TestBidCarriesCategoriesAndCurrencyMacro(t *testing.T) {
	cfg := baseConfig()
	cfg.Campaigns[0].AppBundle = "com.acme.Mortgage"
	cfg.Campaigns[0].DailyBudget = 100_000_000
	e := newEnv(t, cfg, 0)
	h := e.b.Handler(nil)
	ctx := serve(h, "POST", "/openrtb2/bid", bidRequest(1))
	b := decodeResp(t, ctx.Response.Body()).SeatBid[0].Bid[0]
	if strings.Join(b.Cat, ",") != "IAB13-7" || b.CatTax != 1 || b.Bundle != "com.acme.Mortgage" || b.AdID != "m-300x250" {
		t.Fatalf("cat %v cattax %d bundle %q adid %q", b.Cat, b.CatTax, b.Bundle, b.AdID)
	}
	if !strings.Contains(b.BURL, "c=${AUCTION_CURRENCY}") {
		t.Fatalf("burl has no currency macro: %s", b.BURL)
	}
	// The exchange cleared at 1.25 EUR (rate 1.25 USD per EUR): 1.5625 USD.
	burl := strings.NewReplacer("${AUCTION_PRICE}", "1.25", "${AUCTION_CURRENCY}", "EUR").Replace(b.BURL)
	pu, _ := url.Parse(burl)
	if ctx := serve(h, "GET", pu.RequestURI(), nil); ctx.Response.StatusCode() != 204 {
		t.Fatalf("bill: %d", ctx.Response.StatusCode())
	}
	if got := e.b.budgets.get("mortgage").spentOn(dayIndex(e.now)); got != 1_562_500 {
		t.Fatalf("spend %d CPM micros, want 1562500 (1.25 EUR in USD)", got)
	}
	// An unknown currency books the bid price (4.00), as a malformed price does.
	ctx = serve(h, "POST", "/openrtb2/bid", bidRequest(1))
	b = decodeResp(t, ctx.Response.Body()).SeatBid[0].Bid[0]
	burl = strings.NewReplacer("${AUCTION_PRICE}", "1", "${AUCTION_CURRENCY}", "XXX").Replace(b.BURL)
	pu, _ = url.Parse(burl)
	serve(h, "GET", pu.RequestURI(), nil)
	if got := e.b.budgets.get("mortgage").spentOn(dayIndex(e.now)); got != 1_562_500+4_000_000 {
		t.Fatalf("spend %d, want the bid price added for an unknown currency", got)
	}
}

// TestDebugAnswer: with the admin token in X-Callbid-Debug the response
// says, per campaign, whether it bid and why not; without it (or with a
// wrong token) the answer is the ordinary one.
func TestDebugAnswer(t *testing.T) {
	cfg := baseConfig()
	cfg.Server.AdminToken = "debug-token-0123456789"
	cfg.Campaigns[2].Targeting.Countries = []string{"CAN"}
	e := newEnv(t, cfg, 0)
	h := e.b.Handler(nil)
	ctx := serve(h, "POST", "/openrtb2/bid", bidRequest(1), DebugHeader, "debug-token-0123456789")
	r := decodeResp(t, ctx.Response.Body())
	if r.Ext.Debug == nil || r.Ext.Debug.Result != "bid" || len(r.Ext.Debug.Campaigns) != 3 {
		t.Fatalf("debug ext: %s", ctx.Response.Body())
	}
	got := map[string]string{}
	for _, c := range r.Ext.Debug.Campaigns {
		got[c.ID] = c.Result
	}
	if got["mortgage"] != "bid" || got["auto"] != "outbid" || got["legal"] != "no_match" {
		t.Fatalf("reasons %v", got)
	}
	if r.Ext.Debug.Campaigns[0].Price != 4 {
		t.Fatalf("mortgage price %g, want 4", r.Ext.Debug.Campaigns[0].Price)
	}
	ctx = serve(h, "POST", "/openrtb2/bid", bidRequest(1), DebugHeader, "wrong-token-0123456789")
	if strings.Contains(string(ctx.Response.Body()), "callbid_debug") {
		t.Fatal("a wrong token got the debug answer")
	}
	// A no-bid is answered 200 with nbr and the reasons, even for an exchange without nbr.
	body := strings.Replace(string(bidRequest(1)), `"country":"USA"`, `"country":"MEX"`, 1)
	cfg.Campaigns[0].Targeting.Countries = []string{"USA"}
	cfg.Campaigns[1].Status = "paused"
	if err := e.b.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	ctx = serve(h, "POST", "/openrtb2/bid", []byte(body), DebugHeader, "debug-token-0123456789")
	r = decodeResp(t, ctx.Response.Body())
	if ctx.Response.StatusCode() != 200 || r.NBR == nil || r.Ext.Debug == nil || r.Ext.Debug.Result != "no_match" {
		t.Fatalf("no-bid debug: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if r.Ext.Debug.Campaigns[1].Result != "inactive" {
		t.Fatalf("paused campaign reason %q", r.Ext.Debug.Campaigns[1].Result)
	}
	// Without a configured token the header does nothing.
	cfg.Server.AdminToken = ""
	if err := e.b.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if ctx = serve(h, "POST", "/openrtb2/bid", []byte(body), DebugHeader, ""); ctx.Response.StatusCode() != 204 {
		t.Fatalf("no token configured: status %d", ctx.Response.StatusCode())
	}
}
