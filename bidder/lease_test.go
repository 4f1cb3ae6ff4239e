package bidder

import (
	"errors"
	"testing"
	"time"

	"github.com/callbid/callbid/numbers"
)

// An exchange's win and bill notices are answered 204 only once the lease
// record is durable: 503 meanwhile, for the first notice and for its
// retries, and the spend is counted once.
func TestNoticeWaitsForDurableLease(t *testing.T) {
	cfg := baseConfig()
	cfg.Campaigns[0].DailyBudget = 100_000_000
	e := newEnv(t, cfg, 0)
	r := e.b.Decide(banner300(), "exA", e.now)
	if len(r.Bids) != 1 {
		t.Fatalf("no bid: %v", r.Cause)
	}
	tok := []byte(tokenOf(t, r.Bids[0].NURL))
	toks := map[noticeKind][]byte{noticeWin: tok, noticeBill: []byte(tokenOf(t, r.Bids[0].BURL)),
		noticeLoss: []byte(tokenOf(t, r.Bids[0].LURL))}
	later := e.now.Add(10 * time.Second)

	// While the pools replay the lease log nothing is applied.
	e.res.replaying = true
	if o, st := e.b.applyNotice(noticeWin, tok, nil, later); o != noticeNotDurable || st != 503 || len(e.res.wins) != 0 {
		t.Fatalf("win while replaying: %s %d, wins %v", noticeOutcomeNames[o], st, e.res.wins)
	}
	e.res.replaying = false

	e.res.awaitErr = numbers.ErrLeaseNotDurable
	for _, k := range []noticeKind{noticeWin, noticeWin, noticeBill, noticeBill} {
		if o, st := e.b.applyNotice(k, toks[k], []byte("2.5"), later); o != noticeNotDurable || st != 503 {
			t.Fatalf("%s with the lease record not durable: %s %d, want not_durable 503", noticeKindNames[k], noticeOutcomeNames[o], st)
		}
	}
	e.res.awaitErr = nil
	for _, k := range []noticeKind{noticeWin, noticeBill} {
		if o, st := e.b.applyNotice(k, toks[k], []byte("2.5"), later); o != noticeDuplicate || st != 204 {
			t.Fatalf("%s retried once durable: %s %d, want duplicate 204", noticeKindNames[k], noticeOutcomeNames[o], st)
		}
	}
	if got := e.b.budgets.get("mortgage").spentOn(dayIndex(later)); got != 2_500_000 {
		t.Fatalf("spend %d CPM micros after a bill and its retries, want 2500000", got)
	}
	// A loss does not wait for anything (after this bid's win it is a
	// conflict and changes nothing).
	e.res.awaitErr = errors.New("not durable")
	if o, st := e.b.applyNotice(noticeLoss, toks[noticeLoss], nil, later); o != noticeConflict || st != 204 {
		t.Fatalf("loss: %s %d", noticeOutcomeNames[o], st)
	}
}

// A win for a reservation the pool lost in a restart is restored from what
// the token carries.
func TestNoticeRestoresStaleReservation(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	r := e.b.Decide(banner300(), "exA", e.now)
	if len(r.Bids) != 1 {
		t.Fatalf("no bid: %v", r.Cause)
	}
	bidID := string([]byte(r.Bids[0].ID))
	e.res.stale = true
	if o, st := e.b.applyNotice(noticeWin, []byte(tokenOf(t, r.Bids[0].NURL)), nil, e.now.Add(time.Second)); o != noticeApplied || st != 204 {
		t.Fatalf("win: %s %d", noticeOutcomeNames[o], st)
	}
	if len(e.res.restored) != 1 {
		t.Fatalf("Restore called %d times", len(e.res.restored))
	}
	c := e.res.restored[0]
	if c.BidID != bidID || c.CampaignID != "mortgage" || c.PublisherID != "pub-1" || c.Exchange != "exA" || c.Skill != "mortgage" || c.PriceMicros <= 0 {
		t.Fatalf("restored claim %+v", c)
	}
}

// A process that replayed a win from callbid.impressions.v1 (so the retry
// is a duplicate) but never saw its lease record, because the earlier
// process died before the record was durable, restores the lease on the
// retried win instead of answering 204 with no lease behind it.
func TestDuplicateWinWithoutLeaseRestores(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	r := e.b.Decide(banner300(), "exA", e.now)
	if len(r.Bids) != 1 {
		t.Fatalf("no bid: %v", r.Cause)
	}
	tok := []byte(tokenOf(t, r.Bids[0].NURL))
	at := e.now.Add(time.Second)
	if o, _ := e.b.applyNotice(noticeWin, tok, nil, at); o != noticeApplied {
		t.Fatalf("first win: %s", noticeOutcomeNames[o])
	}
	// The restart: the pool no longer holds the reservation, the dedupe set
	// (rebuilt from the impression record) still has the win.
	e.res.stale = true
	e.res.awaitErr = numbers.ErrNotHeld
	if o, st := e.b.applyNotice(noticeWin, tok, nil, at.Add(time.Second)); o != noticeDuplicate || st != 204 {
		t.Fatalf("retried win: %s %d, want duplicate 204", noticeOutcomeNames[o], st)
	}
	if len(e.res.restored) != 1 {
		t.Fatalf("Restore called %d times on the retried win, want 1", len(e.res.restored))
	}
	// While the restored lease is not durable the retry is refused, so the
	// exchange retries again.
	e.res.awaitErr = numbers.ErrLeaseNotDurable
	if o, st := e.b.applyNotice(noticeWin, tok, nil, at.Add(2*time.Second)); o != noticeNotDurable || st != 503 {
		t.Fatalf("retried win, lease not durable: %s %d, want 503", noticeOutcomeNames[o], st)
	}
}
