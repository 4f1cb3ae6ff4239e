package bidder

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/callbid/callbid/numbers"
)

// recordingPools is the real numbers.Pools, keeping every reservation a
// bid made so the test can call its number afterwards.
type recordingPools struct {
	*numbers.Pools
	res []numbers.Reservation
}

func (r *recordingPools) Reserve(idx int, c *numbers.Claim, now time.Time) (numbers.Reservation, bool) {
	res, ok := r.Pools.Reserve(idx, c, now)
	if ok {
		r.res = append(r.res, res)
	}
	return res, ok
}

// TestReservationsOwnTheirStrings: a reservation keeps the bid's
// attribution (request, imp, site and publisher ids, exchange, geo, bid
// id) until a call comes, long after the request. The claim's strings view
// the decoder's copy of the body, the pooled decision's buffer (the bid id)
// and the query string (the exchange), all reused by the next request; the
// pools must copy them, or a call is attributed to whatever a later request
// left in those bytes. Every round changes each value without changing
// the body's length, so a kept view would read the last round's bytes.
func TestReservationsOwnTheirStrings(t *testing.T) {
	pools := &recordingPools{Pools: realPools(t)}
	h, _ := benchSetup(t, pools)
	body := readBody(t, "testdata/requests/own/realistic-2kb.json")
	ctx := newBidCtx(body, "/openrtb2/bid?exchange=fpx")
	type want struct {
		RequestID string `json:"request_id"`
		ImpID     string `json:"imp_id"`
		Site      string `json:"site_or_app"`
		Publisher string `json:"publisher_id"`
		Exchange  string `json:"exchange"`
		Country   string `json:"country"`
		Region    string `json:"region"`
		BidID     string `json:"bid_id"`
	}
	var wants []want
	for i, v := range []struct{ ex, country, region string }{{"fpa", "USA", "CA"}, {"fpb", "CAN", "ON"}, {"fpc", "MEX", "JA"}} {
		n := strconv.Itoa(i)
		w := want{RequestID: "7f3c2a90-5b1e-4d2a-9c61-2f8e4b7a1d0" + n, ImpID: n, Site: "site-4821" + n,
			Publisher: "pub-77" + n, Exchange: v.ex, Country: v.country, Region: v.region}
		b := body
		q := func(s string) string { return `"` + s + `"` }
		for _, r := range [][2]string{{q("7f3c2a90-5b1e-4d2a-9c61-2f8e4b7a1d03"), q(w.RequestID)}, {`"id":"1"`, `"id":` + q(n)},
			{q("site-48213"), q(w.Site)}, {q("pub-771"), q(w.Publisher)}, {q("USA"), q(w.Country)}, {`"region":"CA"`, `"region":` + q(w.Region)}} {
			if !bytes.Contains(b, []byte(r[0])) {
				t.Fatalf("the request has no %s", r[0])
			}
			b = bytes.Replace(b, []byte(r[0]), []byte(r[1]), 1)
		}
		if len(b) != len(body) {
			t.Fatalf("round %d: body of %d bytes, want %d (the same length overwrites every byte)", i, len(b), len(body))
		}
		// SetBody and SetRequestURI overwrite the same buffers, as a
		// keep-alive connection's next request does.
		ctx.Request.SetBody(b)
		ctx.Request.SetRequestURI("/openrtb2/bid?exchange=" + v.ex)
		runBid(h, ctx)
		if code := ctx.Response.StatusCode(); code != 200 {
			t.Fatalf("round %d: status %d, want a bid", i, code)
		}
		var resp struct {
			SeatBid []struct {
				Bid []struct {
					ID string `json:"id"`
				} `json:"bid"`
			} `json:"seatbid"`
		}
		if err := json.Unmarshal(ctx.Response.Body(), &resp); err != nil || len(resp.SeatBid) != 1 || len(resp.SeatBid[0].Bid) != 1 {
			t.Fatalf("round %d: want one bid, got %s (%v)", i, ctx.Response.Body(), err)
		}
		w.BidID = resp.SeatBid[0].Bid[0].ID
		wants = append(wants, w)
	}
	if len(pools.res) != len(wants) {
		t.Fatalf("%d reservations for %d bids", len(pools.res), len(wants))
	}
	for i, res := range pools.res {
		ans := pools.Attribute(&numbers.CallRequest{CallID: []byte("call-" + strconv.Itoa(i)), DNIS: []byte(res.E164), Ext: []byte(res.Ext)}, nil)
		var got struct {
			Match       string `json:"match"`
			Attribution want   `json:"attribution"`
		}
		if err := json.Unmarshal(ans.JSON, &got); err != nil {
			t.Fatalf("call %d: %v: %s", i, err, ans.JSON)
		}
		if got.Match != numbers.MatchExact || got.Attribution != wants[i] {
			t.Errorf("call to the number of bid %d: match %s, attribution\n%+v\nwant\n%+v", i, got.Match, got.Attribution, wants[i])
		}
	}
}
