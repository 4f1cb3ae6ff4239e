package bidder

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/numbers"
	"github.com/cespare/xxhash/v2"
)

// Notice tokens (version 2): base64url(payload) "." base64url(tag), where
//
//	payload = version(2) ref(8) issued(8, unix s) price(uvarint, CPM micros)
//	          cur(3) ipHash(8) ifaHash(8) then length-prefixed (1 byte)
//	          campaign, publisher, exchange, skill, bid id
//	mac     = HMAC-SHA256(secret, payload)       (32 bytes, computed once per bid)
//	tag     = mac[10·k : 10·k+10]                (k = 0 win, 1 bill, 2 loss)
//
// Each notice URL carries only its own kind's tag, so the token of the loss
// URL cannot be replayed as a win or a bill: the other tags are other bytes
// of the MAC, which the holder of one tag cannot compute. A bid pays one HMAC
// and one base64 encoding of the payload, as before the kinds were bound;
// each tag is 80 bits, far beyond what an online forger can guess (every
// try costs a request). Strings longer than 255 bytes are cut.
//
// Version 1 tokens (base64url(payload ‖ mac[:16]), the same token on all
// three URLs) are accepted on the win path only, so bids answered just before
// an upgrade still lease their numbers; on bill and loss they are refused
// (wrong_kind). notice_ttl ends them.
const (
	tokenVersion   = 2
	tokenVersionV1 = 1
	macLen         = 16 // version 1
	tagLen         = 10
	maxTokenLen    = 2048 // base64 characters accepted
)

type noticeToken struct {
	ref       numbers.Ref
	issued    int64
	price     int64
	cur       string
	ipHash    uint64
	ifaHash   uint64
	campaign  string
	publisher string
	exchange  string
	skill     string
	bidID     string
	ch        channel.Channel // the creative's contact channel (channel.go: an optional last byte)
}

// signer signs and verifies tokens with one secret. The HMAC states are
// pooled so signing allocates nothing.
type signer struct {
	pool sync.Pool // *macState
}

type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
	raw [512]byte // payload scratch
}

func newSigner(secret []byte) *signer {
	key := append([]byte(nil), secret...)
	s := &signer{}
	s.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return s
}

func appendStr(dst []byte, s string) []byte {
	if len(s) > 255 {
		s = s[:255]
	}
	dst = append(dst, byte(len(s)))
	return append(dst, s...)
}

func (t *noticeToken) appendPayload(dst []byte, version byte) []byte {
	dst = append(dst, version)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.ref))
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.issued))
	dst = binary.AppendUvarint(dst, uint64(t.price))
	var cur [3]byte
	copy(cur[:], t.cur)
	dst = append(dst, cur[:]...)
	dst = binary.BigEndian.AppendUint64(dst, t.ipHash)
	dst = binary.BigEndian.AppendUint64(dst, t.ifaHash)
	dst = appendStr(dst, t.campaign)
	dst = appendStr(dst, t.publisher)
	dst = appendStr(dst, t.exchange)
	dst = appendStr(dst, t.skill)
	dst = appendStr(dst, t.bidID)
	return appendTokenChannel(dst, t.ch)
}

// tagB64Len is the base64url length of a tag.
const tagB64Len = (tagLen*8 + 5) / 6

// kindTags are the base64url tags of one bid, by notice kind.
type kindTags [numNoticeKinds][tagB64Len]byte

// appendSigned signs t once: it appends the base64url payload to dst and
// returns the tag of each kind. A kind's token is payload "." tags[kind].
func (s *signer) appendSigned(dst []byte, t *noticeToken) ([]byte, kindTags) {
	m := s.pool.Get().(*macState)
	dst, tags := m.appendSigned(dst, t)
	s.pool.Put(m)
	return dst, tags
}

// state returns the signer's HMAC state for *m, made anew when *m is nil
// or another signer's (a reloaded secret): the bid path keeps one in its
// pooled decision instead of taking it from the signer's pool per bid.
func (s *signer) state(m **macState, of **signer) *macState {
	if *m == nil || *of != s {
		*m, *of = s.pool.New().(*macState), s
	}
	return *m
}

// appendSigned is signer.appendSigned with m, the state of the signer
// (signer.state); m is not safe for concurrent use.
func (m *macState) appendSigned(dst []byte, t *noticeToken) ([]byte, kindTags) {
	var tags kindTags
	raw := t.appendPayload(m.raw[:0], tokenVersion)
	m.h.Reset()
	m.h.Write(raw)
	sum := m.h.Sum(m.sum[:0])
	dst = appendB64URL(dst, raw) // b64.go
	for k := range tags {
		appendB64URL(tags[k][:0], sum[k*tagLen:(k+1)*tagLen])
	}
	return dst, tags
}

var (
	errTokenMalformed = errors.New("notice token is malformed")
	errTokenForged    = errors.New("notice token signature does not match")
	errTokenWrongKind = errors.New("notice token was issued for another notice kind")
)

// verify decodes and authenticates tok for a notice of kind. The returned
// strings are copies. errTokenWrongKind means the signature is genuine but
// belongs to another kind's URL (or is a version 1 token off the win path).
func (s *signer) verify(tok []byte, kind noticeKind) (noticeToken, error) {
	var t noticeToken
	if len(tok) == 0 || len(tok) > maxTokenLen {
		return t, errTokenMalformed
	}
	dot := bytes.IndexByte(tok, '.')
	if dot < 0 {
		return s.verifyV1(tok, kind)
	}
	if len(tok)-dot-1 != tagB64Len {
		return t, errTokenMalformed
	}
	var tag [tagLen]byte
	if n, err := base64.RawURLEncoding.Decode(tag[:], tok[dot+1:]); err != nil || n != tagLen {
		return t, errTokenMalformed
	}
	payload := make([]byte, base64.RawURLEncoding.DecodedLen(dot))
	n, err := base64.RawURLEncoding.Decode(payload, tok[:dot])
	if err != nil || n < 1+8+8+1+3+16+5 {
		return t, errTokenMalformed
	}
	payload = payload[:n]
	m := s.pool.Get().(*macState)
	m.h.Reset()
	m.h.Write(payload)
	sum := m.h.Sum(m.sum[:0])
	ok := hmac.Equal(sum[int(kind)*tagLen:int(kind+1)*tagLen], tag[:])
	other := false
	if !ok {
		for k := noticeKind(0); k < numNoticeKinds; k++ {
			other = other || hmac.Equal(sum[int(k)*tagLen:int(k+1)*tagLen], tag[:])
		}
	}
	s.pool.Put(m)
	switch {
	case other:
		return t, errTokenWrongKind
	case !ok:
		return t, errTokenForged
	}
	return parsePayload(payload, tokenVersion)
}

// verifyV1 checks a version 1 token; genuine ones are accepted for wins only.
func (s *signer) verifyV1(tok []byte, kind noticeKind) (noticeToken, error) {
	var t noticeToken
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(tok)))
	n, err := base64.RawURLEncoding.Decode(raw, tok)
	if err != nil || n < 1+8+8+1+3+16+5+macLen {
		return t, errTokenMalformed
	}
	raw = raw[:n]
	payload, mac := raw[:n-macLen], raw[n-macLen:]
	m := s.pool.Get().(*macState)
	m.h.Reset()
	m.h.Write(payload)
	ok := hmac.Equal(m.h.Sum(m.sum[:0])[:macLen], mac)
	s.pool.Put(m)
	switch {
	case !ok:
		return t, errTokenForged
	case kind != noticeWin:
		return t, errTokenWrongKind
	}
	return parsePayload(payload, tokenVersionV1)
}

func parsePayload(p []byte, version byte) (noticeToken, error) {
	var t noticeToken
	if len(p) < 17 || p[0] != version {
		return t, errTokenMalformed
	}
	t.ref = numbers.Ref(binary.BigEndian.Uint64(p[1:]))
	t.issued = int64(binary.BigEndian.Uint64(p[9:]))
	p = p[17:]
	price, k := binary.Uvarint(p)
	if k <= 0 || price > math.MaxInt64 {
		return t, errTokenMalformed
	}
	t.price = int64(price)
	p = p[k:]
	if len(p) < 3+16 {
		return t, errTokenMalformed
	}
	t.cur = string(p[:3])
	t.ipHash = binary.BigEndian.Uint64(p[3:])
	t.ifaHash = binary.BigEndian.Uint64(p[11:])
	p = p[19:]
	for _, dst := range []*string{&t.campaign, &t.publisher, &t.exchange, &t.skill, &t.bidID} {
		if len(p) < 1 || len(p) < 1+int(p[0]) {
			return t, errTokenMalformed
		}
		*dst = string(p[1 : 1+int(p[0])])
		p = p[1+int(p[0]):]
	}
	if t.ch, p = parseTokenChannel(p); len(p) != 0 {
		return t, errTokenMalformed
	}
	return t, nil
}

// noticeKind is win, bill or loss.
type noticeKind uint8

const (
	noticeWin noticeKind = iota
	noticeBill
	noticeLoss
	numNoticeKinds
)

var noticeKindNames = [numNoticeKinds]string{"win", "bill", "loss"}

// noticeOutcome labels the notice counter.
type noticeOutcome uint8

const (
	noticeApplied   noticeOutcome = iota
	noticeDuplicate               // this kind was applied for this bid already
	noticeMalformed
	noticeForged
	noticeExpired
	noticeWrongKind  // a genuine token of another kind's URL (or version 1 off the win path)
	noticeConflict   // a win or bill after the bid's loss, or a loss after its win or bill
	noticeProbe      // HEAD: answered, never applied
	noticeNotDurable // the lease record is not in Kafka yet: 503, the exchange retries
	noticeTest       // a test=1 bid's notice: authentic, changes nothing
	numNoticeOutcomes
)

var noticeOutcomeNames = [numNoticeOutcomes]string{"applied", "duplicate", "malformed", "forged", "expired",
	"wrong_kind", "conflict", "probe", "not_durable", "test"}

// NoticeKind names a notice route: /notice/win, /notice/bill, /notice/loss.
type NoticeKind uint8

// The notice kinds, in the order of the tags in a token.
const (
	NoticeWin  = NoticeKind(noticeWin)
	NoticeBill = NoticeKind(noticeBill)
	NoticeLoss = NoticeKind(noticeLoss)
)

// NoticeQuery holds a notice URL's parameters: t (the token), p
// (${AUCTION_PRICE}), c (${AUCTION_CURRENCY}) and m (${AUCTION_MIN_TO_WIN}).
// The slices are not retained.
type NoticeQuery struct {
	Token, Price, Currency, MinToWin []byte
}

// Notice applies one notice of kind and returns the HTTP status to answer
// (204 applied or nothing to retry, 400 malformed, 403 forged, expired or
// another kind's token, 503 not durable yet: retry). With probe (HEAD) it
// answers as the notice would, without changing anything.
func (b *Bidder) Notice(kind NoticeKind, probe bool, q *NoticeQuery) int {
	k := noticeKind(kind)
	if k >= numNoticeKinds {
		return http.StatusNotFound
	}
	var outcome noticeOutcome
	var status int
	if probe {
		outcome, status = b.probeNotice(k, q.Token, b.now())
	} else {
		outcome, status = b.applyNoticeFull(k, q.Token, q.Price, q.Currency, q.MinToWin, b.now())
	}
	b.m.notices[k][outcome].Inc()
	return status
}

// checkNotice authenticates tok for kind and checks its age. On failure it
// returns the outcome and status to answer.
func (b *Bidder) checkNotice(s *snapshot, kind noticeKind, tok []byte, now time.Time) (noticeToken, noticeOutcome, int) {
	t, err := s.signer.verify(tok, kind)
	if errors.Is(err, errTokenForged) {
		if prev := b.prevSig.Load(); prev != nil {
			t, err = prev.verify(tok, kind)
		}
	}
	switch {
	case errors.Is(err, errTokenForged):
		return t, noticeForged, http.StatusForbidden
	case errors.Is(err, errTokenWrongKind):
		return t, noticeWrongKind, http.StatusForbidden
	case err != nil:
		return t, noticeMalformed, http.StatusBadRequest
	}
	issued := time.Unix(t.issued, 0)
	if now.Sub(issued) > s.cfg.Server.NoticeTTL || issued.Sub(now) > time.Minute {
		return t, noticeExpired, http.StatusForbidden
	}
	return t, noticeApplied, http.StatusNoContent
}

// probeNotice answers a HEAD: the status a GET would get for the token, and
// no state change (no lease, no spend, no dedupe entry, no event).
func (b *Bidder) probeNotice(kind noticeKind, tok []byte, now time.Time) (noticeOutcome, int) {
	if _, o, st := b.checkNotice(b.snap.Load(), kind, tok, now); o != noticeApplied {
		return o, st
	}
	return noticeProbe, http.StatusNoContent
}

// applyNotice verifies and applies one notice; it returns the outcome and
// the HTTP status. Nothing changes unless the token is authentic, of this
// kind, fresh, not seen before and not contradicted by an earlier notice of
// the same bid (a loss, then a win: the loss freed the number, which may be
// another impression's by now).
func (b *Bidder) applyNotice(kind noticeKind, tok, price []byte, now time.Time) (noticeOutcome, int) {
	return b.applyNoticeCur(kind, tok, price, nil, now)
}

// applyNoticeCur is applyNotice with the notice's ${AUCTION_CURRENCY}
// (cur): a clearing price in another currency than the bid's is converted
// into the bid's before it is capped and booked.
func (b *Bidder) applyNoticeCur(kind noticeKind, tok, price, cur []byte, now time.Time) (noticeOutcome, int) {
	return b.applyNoticeFull(kind, tok, price, cur, nil, now)
}

// applyNoticeFull is applyNoticeCur with the notice's
// ${AUCTION_MIN_TO_WIN} (mtw), which bid shading learns from.
func (b *Bidder) applyNoticeFull(kind noticeKind, tok, price, cur, mtw []byte, now time.Time) (noticeOutcome, int) {
	s := b.snap.Load()
	t, o, st := b.checkNotice(s, kind, tok, now)
	if o != noticeApplied {
		return o, st
	}
	if len(t.bidID) >= len(testBidPrefix) && t.bidID[:len(testBidPrefix)] == testBidPrefix {
		return noticeTest, http.StatusNoContent // test=1: no lease, spend, dedupe entry or event
	}
	if kind != noticeLoss && b.deps.Reserver.Replaying() {
		// Leases read back from the log could overwrite this one: retry later.
		return noticeNotDurable, http.StatusServiceUnavailable
	}
	price = b.convertClearing(s, kind, price, cur, t.cur)
	if len(mtw) > 0 && mtw[0] != '$' {
		mtw = b.convertClearing(s, kind, mtw, cur, t.cur)
	}
	switch b.dedupe.apply(bidKey(t.bidID), kind, now) {
	case dedupeDuplicate:
		if kind != noticeLoss && !b.leaseHeld(&t, kind, b.clearing(kind, price, t.price), now) {
			return noticeNotDurable, http.StatusServiceUnavailable
		}
		return noticeDuplicate, http.StatusNoContent
	case dedupeConflict:
		// 204: the exchange has nothing to retry; the counter shows it.
		return noticeConflict, http.StatusNoContent
	}
	b.observeNotice(s, &t, kind, price, mtw)
	switch kind {
	case noticeWin:
		clearing := b.clearing(kind, price, t.price)
		b.settle(&t, false, clearing, now)
		b.publishImpression(&t, "win", clearing, now)
		if !b.leaseDurable(&t) {
			return noticeNotDurable, http.StatusServiceUnavailable
		}
	case noticeBill:
		cp, _ := parseClearing(price, t.price, true) // counted below, once per bill
		if b.settle(&t, true, cp, now) != billedBefore {
			clearing := b.clearing(kind, price, t.price)
			b.addSpend(s, &t, clearing, now)
			b.publishImpression(&t, "bill", clearing, now)
		}
		if !b.leaseDurable(&t) {
			return noticeNotDurable, http.StatusServiceUnavailable
		}
	case noticeLoss:
		b.deps.Reserver.Loss(t.ref, now)
		b.publishImpression(&t, "loss", b.clearing(kind, price, t.price), now) // the winning price, when the exchange tells
	}
	return noticeApplied, http.StatusNoContent
}

// bidKey is the dedupe key of a bid id.
func bidKey(bidID string) uint64 { return xxhash.Sum64String(bidID) }

func (b *Bidder) countWin(r numbers.WinResult) {
	if int(r) >= numWinResults {
		r = 0
	}
	b.m.winResults[r].Inc()
}

// clearingResult labels the clearing-price counter.
type clearingResult uint8

const (
	clearingOK        clearingResult = iota
	clearingCapped                   // above the bid price: booked at the bid price
	clearingMalformed                // not a plain decimal: the bid price (win, bill) or 0 (loss)
	clearingMissing                  // empty or the macro left unsubstituted
	numClearingResults
)

var clearingResultNames = [numClearingResults]string{"ok", "capped", "malformed", "missing"}

// clearing reads the notice's ${AUCTION_PRICE} and counts what it found. For
// a win or bill the price is capped at the bid price: a second-price or
// first-price auction never clears above the bid, so anything higher is an
// exchange bug or a forgery and must not inflate spend. Missing or malformed
// prices book the bid price. For a loss the price is the winner's and only
// informational: parsed as strictly, never capped, 0 when unusable.
func (b *Bidder) clearing(kind noticeKind, p []byte, bidPrice int64) int64 {
	v, r := parseClearing(p, bidPrice, kind != noticeLoss)
	b.m.clearing[kind][r].Inc()
	return v
}

// maxPriceLen bounds the ${AUCTION_PRICE} text parsed.
const maxPriceLen = 32

// parseClearing reads a CPM as CPM micros. Only plain decimals are accepted:
// digits, optionally a point and more digits ("12", "12.5", "0.000001");
// no sign, exponent, hex float, underscore, space, inf or nan. Digits after
// the sixth decimal are dropped (rounded toward zero, so parsing never adds
// money). With capAtBid, a price above bidPrice returns bidPrice (capped),
// and an unusable price returns bidPrice; otherwise an unusable one returns 0.
func parseClearing(p []byte, bidPrice int64, capAtBid bool) (int64, clearingResult) {
	fallback := int64(0)
	if capAtBid {
		fallback = bidPrice
	}
	if len(p) == 0 || p[0] == '$' {
		return fallback, clearingMissing
	}
	v, ok := parseDecimalMicros(p)
	if !ok {
		return fallback, clearingMalformed
	}
	if capAtBid && v > bidPrice {
		return bidPrice, clearingCapped
	}
	return v, clearingOK
}

// parseDecimalMicros parses a plain non-negative decimal into micro-units,
// truncating past six decimals; values past 10^12 saturate (they are far
// above any bid price, and capped).
func parseDecimalMicros(p []byte) (int64, bool) {
	if len(p) == 0 || len(p) > maxPriceLen {
		return 0, false
	}
	const limit = 1_000_000_000_000 // CPM; keeps v*10 and v×10^6 inside int64
	var v int64
	i := 0
	for ; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		if v < limit {
			v = v*10 + int64(p[i]-'0')
		}
	}
	if i == 0 {
		return 0, false // no integer digit: ".5", "-1", "+1", "inf", "nan"
	}
	v = min(v, limit) * 1_000_000
	if i == len(p) {
		return v, true
	}
	if p[i] != '.' || i+1 == len(p) {
		return 0, false // "1e6", "0x1p19", "1_000", "5."
	}
	scale := int64(100_000)
	for i++; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v += int64(c-'0') * scale
		scale /= 10
	}
	return v, true
}

// addSpend counts a billed impression against its campaign's budgets,
// converted from the bid currency into the campaign currency.
func (b *Bidder) addSpend(s *snapshot, t *noticeToken, cpmMicros int64, now time.Time) {
	b.spend(s, t.campaign, t.cur, cpmMicros, now, now, false)
}

// spend counts cpmMicros (in currency cur) billed at `at` against campaign's
// budgets, converted into the campaign currency. The budget day is the
// campaign's (its time_zone, else server.time_zone). A replayed bill of
// another day than today counts in the total budget only.
func (b *Bidder) spend(s *snapshot, campaign, cur string, cpmMicros int64, at, now time.Time, replay bool) {
	for _, c := range s.campaigns {
		if c.id != campaign {
			continue
		}
		v := float64(cpmMicros)
		if cur != c.currency {
			r, ok := s.rates[cur]
			if !ok {
				r = 1
			}
			v = v * r / c.rate
		}
		loc := s.loc
		if c.loc != nil {
			loc = c.loc
		}
		day := dayIndex(at.In(loc))
		// spent is kept in CPM micros, i.e. micro-units × 1000 per impression.
		if replay && day != dayIndex(now.In(loc)) {
			c.budget.total.Add(int64(math.Round(v)))
			return
		}
		c.budget.add(day, int64(math.Round(v)))
		return
	}
	// A campaign removed by a reload: keep counting under its id.
	day := dayIndex(at.In(s.loc))
	if replay && day != dayIndex(now.In(s.loc)) {
		b.budgets.get(campaign).total.Add(cpmMicros)
		return
	}
	b.budgets.get(campaign).add(day, cpmMicros)
}

func (b *Bidder) publishImpression(t *noticeToken, kind string, price int64, now time.Time) {
	if b.deps.Publisher == nil {
		return
	}
	im := events.Impression{BidID: t.bidID, Kind: kind, CampaignID: t.campaign,
		PublisherID: t.publisher, Exchange: t.exchange, Skill: t.skill, PriceMicros: price,
		Currency: t.cur, At: now.UTC(), IPHash: t.ipHash, IFAHash: t.ifaHash, Channel: channelField(t.ch)}
	// The producer copies the record, so a stack buffer does.
	var buf [512]byte
	v := events.AppendImpression(buf[:0], &im)
	if !b.deps.Publisher.Publish(events.TopicImpressions, []byte(t.bidID), v) {
		b.m.publishDropped.Inc()
	}
}

// convertClearing rewrites a clearing price given in currency cur (the
// notice's ${AUCTION_CURRENCY}) into bidCur. An absent, unsubstituted or
// equal currency leaves the price as it is; an unknown one makes the price
// unusable (booked as malformed: the bid price for a win or bill).
func (b *Bidder) convertClearing(s *snapshot, kind noticeKind, price, cur []byte, bidCur string) []byte {
	if len(cur) == 0 || cur[0] == '$' || string(cur) == bidCur || len(price) == 0 || price[0] == '$' {
		return price
	}
	from, ok1 := s.rates[string(cur)]
	to, ok2 := s.rates[bidCur]
	v, ok3 := parseDecimalMicros(price)
	if !ok1 || !ok2 || !ok3 || !(to > 0) {
		return []byte("?") // malformed
	}
	conv := int64(float64(v) * from / to)
	return strconv.AppendFloat(nil, float64(conv)/1e6, 'f', 6, 64)
}
