package bidder

// Hooks only tests use; production code signs once for all kinds with
// appendSigned and applies notices through dedupe.apply.

import (
	"encoding/base64"
	"time"
)

// first records key as a win and reports whether it was new (tests).
func (d *dedupe) first(key uint64, now time.Time) bool {
	return d.apply(key, noticeWin, now) == dedupeFirst
}

// appendToken appends the token of kind for t to dst (tests and tools; the
// bid path signs once for all kinds with appendSigned).
func (s *signer) appendToken(dst []byte, t *noticeToken, kind noticeKind) []byte {
	dst, tags := s.appendSigned(dst, t)
	dst = append(dst, '.')
	return append(dst, tags[kind][:]...)
}

// appendTokenV1 appends a version 1 token (tests of the upgrade path).
func (s *signer) appendTokenV1(dst []byte, t *noticeToken) []byte {
	m := s.pool.Get().(*macState)
	raw := t.appendPayload(m.raw[:0], tokenVersionV1)
	m.h.Reset()
	m.h.Write(raw)
	raw = append(raw, m.h.Sum(m.sum[:0])[:macLen]...)
	dst = base64.RawURLEncoding.AppendEncode(dst, raw)
	s.pool.Put(m)
	return dst
}
