package bidder

import (
	"errors"
	"time"

	"github.com/callbid/callbid/numbers"
)

// billedBefore is what settle returns for a billing notice of a reservation
// billed before (the spend is not counted again).
const billedBefore = numbers.WinResult(255)

// ClearingRecorder is the optional part of a Reserver that keeps the
// clearing price a notice reported for the call attribution
// (*numbers.Pools); a Reserver without it is not told. Optional so the
// Reserver interface, and every fake of it, stays as it was.
type ClearingRecorder interface {
	// SetClearing records micros for ref (a billing notice's price wins
	// over a win notice's) and reports whether ref is the number's current
	// reservation; called before Win or Bill so their lease record has it.
	SetClearing(ref numbers.Ref, micros int64, billed bool) bool
}

// settle applies a win (billed=false) or billing notice to the number pool:
// a reservation the pool lost in a restart is re-created from the token.
// clearing is the notice's clearing price (CPM micros), kept with the
// reservation for the call attribution. The result is counted;
// billedBefore replaces it for a repeated bill.
func (b *Bidder) settle(t *noticeToken, billed bool, clearing int64, now time.Time) numbers.WinResult {
	r := b.deps.Reserver
	cr, _ := r.(ClearingRecorder)
	recorded := cr != nil && cr.SetClearing(t.ref, clearing, billed)
	var res numbers.WinResult
	first := true
	if billed {
		res, first = r.Bill(t.ref, now)
	} else {
		res = r.Win(t.ref, false, now)
	}
	if res == numbers.WinStale {
		c := numbers.Claim{CampaignID: t.campaign, PublisherID: t.publisher, Exchange: t.exchange, Skill: t.skill,
			BidID: t.bidID, PriceMicros: t.price, IPHash: t.ipHash, IFAHash: t.ifaHash, Currency: t.cur}
		res, first = r.Restore(t.ref, &c, time.Unix(t.issued, 0), billed, now)
	}
	if cr != nil && !recorded {
		cr.SetClearing(t.ref, clearing, billed) // restored: the lease record went out without it
	}
	b.countWin(res)
	if billed && !first {
		return billedBefore
	}
	return res
}

// leaseDurable waits (bounded by numbers.durable_timeout) until the
// reservation's lease record is acknowledged by Kafka: a win is answered
// 204 only once its lease would survive a crash.
func (b *Bidder) leaseDurable(t *noticeToken) bool {
	err := b.deps.Reserver.AwaitLease(t.ref)
	// Not held: the number moved on (a collision, counted) and there is no
	// lease of this ref to wait for.
	return err == nil || errors.Is(err, numbers.ErrNotHeld)
}

// leaseHeld is leaseDurable for a repeated win or bill: when this process
// does not hold the reservation, the first notice may have been applied by
// an earlier process that died before its lease record was durable (its
// impression record, which fills the dedupe set on replay, did reach
// Kafka), so the lease is settled again from the token: restored when that
// is safe, a collision otherwise.
func (b *Bidder) leaseHeld(t *noticeToken, kind noticeKind, clearing int64, now time.Time) bool {
	err := b.deps.Reserver.AwaitLease(t.ref)
	if errors.Is(err, numbers.ErrNotHeld) {
		b.settle(t, kind == noticeBill, clearing, now)
		return b.leaseDurable(t)
	}
	return err == nil
}
