package bidder

import "time"

// settleDuplicate applies again to the number pool a win or billing notice
// the dedupe has seen before. The dedupe is rebuilt at start from
// callbid.impressions.v1, so after a crash it can know a win whose lease
// never reached the lease log: the process published the impression, then
// died before the lease record was acknowledged, and the exchange's tries
// got no answer. Answering the retry 204 as a mere duplicate acknowledged a
// lease nobody had (the pool's AwaitLease has nothing to wait for when it
// does not know the reservation). Settling again is a no-op for a
// reservation the pool has (WinDuplicate, no record written) and restores
// one it lost, whose lease record the caller then waits for.
func (b *Bidder) settleDuplicate(t *noticeToken, kind noticeKind, price []byte, now time.Time) {
	if kind == noticeLoss {
		return
	}
	cp, _ := parseClearing(price, t.price, true)
	b.settle(t, kind == noticeBill, cp, now)
}
