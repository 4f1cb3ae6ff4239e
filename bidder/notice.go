package bidder

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/numbers"
	"github.com/cespare/xxhash/v2"
	"github.com/valyala/fasthttp"
)

// Notice tokens: base64url(payload ‖ HMAC-SHA256(secret, payload)[:16]).
//
// payload = version(1) ref(8) issued(8, unix s) price(uvarint, CPM micros)
// cur(3) ipHash(8) ifaHash(8) then length-prefixed (1 byte) campaign,
// publisher, exchange, skill, bid id. Strings longer than 255 bytes are cut.
// The same token goes into nurl, burl and lurl; the path names the notice.
const (
	tokenVersion = 1
	macLen       = 16
	maxTokenLen  = 2048 // base64 characters accepted
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
	b64 [1024]byte
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

func (t *noticeToken) appendPayload(dst []byte) []byte {
	dst = append(dst, tokenVersion)
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
	return appendStr(dst, t.bidID)
}

// appendToken appends the signed, base64url token of t to dst.
func (s *signer) appendToken(dst []byte, t *noticeToken) []byte {
	m := s.pool.Get().(*macState)
	raw := t.appendPayload(m.raw[:0])
	m.h.Reset()
	m.h.Write(raw)
	sum := m.h.Sum(m.sum[:0])
	raw = append(raw, sum[:macLen]...)
	n := base64.RawURLEncoding.EncodedLen(len(raw))
	if n <= len(m.b64) {
		base64.RawURLEncoding.Encode(m.b64[:n], raw)
		dst = append(dst, m.b64[:n]...)
	} else {
		dst = base64.RawURLEncoding.AppendEncode(dst, raw)
	}
	s.pool.Put(m)
	return dst
}

var (
	errTokenMalformed = errors.New("notice token is malformed")
	errTokenForged    = errors.New("notice token signature does not match")
)

// verify decodes and authenticates tok. The returned strings are copies.
func (s *signer) verify(tok []byte) (noticeToken, error) {
	var t noticeToken
	if len(tok) == 0 || len(tok) > maxTokenLen {
		return t, errTokenMalformed
	}
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
	if !ok {
		return t, errTokenForged
	}
	return parsePayload(payload)
}

func parsePayload(p []byte) (noticeToken, error) {
	var t noticeToken
	if len(p) < 17 || p[0] != tokenVersion {
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
	if len(p) != 0 {
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
	noticeApplied noticeOutcome = iota
	noticeDuplicate
	noticeMalformed
	noticeForged
	noticeExpired
	noticeNotDurable // the lease record is not in Kafka yet: 503, the exchange retries
	numNoticeOutcomes
)

var noticeOutcomeNames = [numNoticeOutcomes]string{"applied", "duplicate", "malformed", "forged", "expired", "not_durable"}

// handleNotice serves /notice/{win|bill|loss}?t=…&p=….
func (b *Bidder) handleNotice(ctx *fasthttp.RequestCtx, kind noticeKind) {
	if !ctx.IsGet() && !ctx.IsPost() && !ctx.IsHead() {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return
	}
	outcome, status := b.applyNotice(kind, ctx.QueryArgs().Peek("t"), ctx.QueryArgs().Peek("p"), b.now())
	b.m.notices[kind][outcome].Inc()
	ctx.SetStatusCode(status)
}

// applyNotice verifies and applies one notice; it returns the outcome and
// the HTTP status. Nothing changes unless the token is authentic, fresh and
// not seen before.
func (b *Bidder) applyNotice(kind noticeKind, tok, price []byte, now time.Time) (noticeOutcome, int) {
	s := b.snap.Load()
	t, err := s.signer.verify(tok)
	if errors.Is(err, errTokenForged) {
		if prev := b.prevSig.Load(); prev != nil {
			t, err = prev.verify(tok)
		}
	}
	switch {
	case errors.Is(err, errTokenForged):
		return noticeForged, fasthttp.StatusForbidden
	case err != nil:
		return noticeMalformed, fasthttp.StatusBadRequest
	}
	issued := time.Unix(t.issued, 0)
	if now.Sub(issued) > s.cfg.Server.NoticeTTL || issued.Sub(now) > time.Minute {
		return noticeExpired, fasthttp.StatusForbidden
	}
	if kind != noticeLoss && b.deps.Reserver.Replaying() {
		// Leases read back from the log could overwrite this one: retry later.
		return noticeNotDurable, fasthttp.StatusServiceUnavailable
	}
	key := xxhash.Sum64String(t.bidID) ^ uint64(kind+1)*0x9e3779b97f4a7c15
	if !b.dedupe.first(key, now) {
		if kind != noticeLoss && !b.leaseDurable(&t) {
			return noticeNotDurable, fasthttp.StatusServiceUnavailable
		}
		return noticeDuplicate, fasthttp.StatusNoContent
	}
	switch kind {
	case noticeWin:
		b.settle(&t, false, now)
		b.publishImpression(&t, "win", parseClearing(price, t.price), now)
		if !b.leaseDurable(&t) {
			return noticeNotDurable, fasthttp.StatusServiceUnavailable
		}
	case noticeBill:
		if b.settle(&t, true, now) != billedBefore {
			clearing := parseClearing(price, t.price)
			b.addSpend(s, &t, clearing, now)
			b.publishImpression(&t, "bill", clearing, now)
		}
		if !b.leaseDurable(&t) {
			return noticeNotDurable, fasthttp.StatusServiceUnavailable
		}
	case noticeLoss:
		b.deps.Reserver.Loss(t.ref, now)
		b.publishImpression(&t, "loss", parseClearing(price, 0), now) // the winning price, when the exchange tells
	}
	return noticeApplied, fasthttp.StatusNoContent
}

func (b *Bidder) countWin(r numbers.WinResult) {
	if int(r) >= numWinResults {
		r = 0
	}
	b.m.winResults[r].Inc()
}

// parseClearing reads ${AUCTION_PRICE} as CPM micros; the bid price when the
// macro was not substituted, is encrypted, or is out of range.
func parseClearing(p []byte, bidPrice int64) int64 {
	if len(p) == 0 || p[0] == '$' {
		return bidPrice
	}
	v, err := strconv.ParseFloat(string(p), 64)
	if err != nil || !(v >= 0) || v > 1e6 {
		return bidPrice
	}
	return int64(math.Round(v * 1e6))
}

// addSpend counts a billed impression against its campaign's daily budget,
// converted from the bid currency into the campaign currency.
func (b *Bidder) addSpend(s *snapshot, t *noticeToken, cpmMicros int64, now time.Time) {
	b.spend(s, t.campaign, t.cur, cpmMicros, dayIndex(now.In(s.loc)))
}

// spend counts cpmMicros (in currency cur) against campaign's budget of day,
// converted into the campaign currency.
func (b *Bidder) spend(s *snapshot, campaign, cur string, cpmMicros, day int64) {
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
		// spent is kept in CPM micros, i.e. micro-units × 1000 per impression.
		c.budget.add(day, int64(math.Round(v)))
		return
	}
	// A campaign removed by a reload: keep counting under its id.
	b.budgets.get(campaign).add(day, cpmMicros)
}

func (b *Bidder) publishImpression(t *noticeToken, kind string, price int64, now time.Time) {
	if b.deps.Publisher == nil {
		return
	}
	v, err := json.Marshal(events.Impression{BidID: t.bidID, Kind: kind, CampaignID: t.campaign,
		PublisherID: t.publisher, Exchange: t.exchange, Skill: t.skill, PriceMicros: price,
		Currency: t.cur, At: now.UTC(), IPHash: t.ipHash, IFAHash: t.ifaHash})
	if err != nil {
		return
	}
	if !b.deps.Publisher.Publish(events.TopicImpressions, []byte(t.bidID), v) {
		b.m.publishDropped.Inc()
	}
}
