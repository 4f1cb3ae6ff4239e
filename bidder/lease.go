package bidder

import (
	"time"

	"github.com/callbid/callbid/numbers"
)

// billedBefore is what settle returns for a billing notice of a reservation
// billed before (the spend is not counted again).
const billedBefore = numbers.WinResult(255)

// settle applies a win (billed=false) or billing notice to the number pool:
// a reservation the pool lost in a restart is re-created from the token.
// The result is counted; billedBefore replaces it for a repeated bill.
func (b *Bidder) settle(t *noticeToken, billed bool, now time.Time) numbers.WinResult {
	r := b.deps.Reserver
	var res numbers.WinResult
	first := true
	if billed {
		res, first = r.Bill(t.ref, now)
	} else {
		res = r.Win(t.ref, false, now)
	}
	if res == numbers.WinStale {
		c := numbers.Claim{CampaignID: t.campaign, PublisherID: t.publisher, Exchange: t.exchange, Skill: t.skill,
			BidID: t.bidID, PriceMicros: t.price, IPHash: t.ipHash, IFAHash: t.ifaHash}
		res, first = r.Restore(t.ref, &c, time.Unix(t.issued, 0), billed, now)
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
	return b.deps.Reserver.AwaitLease(t.ref) == nil
}
