package bidder

import (
	"time"

	"github.com/callbid/callbid/numbers"
)

// reservationKnower is the optional part of a Reserver that tells whether
// it has a reservation (*numbers.Pools); optional so the Reserver interface,
// and every fake of it, stays as it was.
type reservationKnower interface {
	Knows(ref numbers.Ref) bool
}

// settleDuplicate applies again to the number pool a win or billing notice
// the dedupe has seen before, when the pool does not know its reservation.
// The dedupe is rebuilt at start from callbid.impressions.v1, so after a
// crash it can know a win whose lease never reached the lease log: the
// process published the impression, then died before the lease record was
// acknowledged, and the exchange's tries got no answer. Answering the retry
// 204 as a mere duplicate acknowledged a lease nobody had (AwaitLease has
// nothing to wait for on a reservation the pool does not know); settling
// restores it (or counts a collision), and the caller then waits for its
// lease record.
func (b *Bidder) settleDuplicate(t *noticeToken, kind noticeKind, price []byte, now time.Time) {
	k, ok := b.deps.Reserver.(reservationKnower)
	if kind == noticeLoss || !ok || k.Knows(t.ref) {
		return
	}
	cp, _ := parseClearing(price, t.price, true)
	b.settle(t, kind == noticeBill, cp, now)
}
