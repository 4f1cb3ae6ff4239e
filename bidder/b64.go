package bidder

import "encoding/binary"

// b64URL is the base64url alphabet (RFC 4648 §5).
const b64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// appendB64URL appends src in unpadded base64url, as
// base64.RawURLEncoding.AppendEncode does, but 6 bytes per 8-byte load
// where src allows: the bid path encodes each notice payload (about 100
// bytes) and three tags, and the standard encoder's 3-bytes-at-a-time loop
// and per-call setup were about 75 ns of a bid (notice.go).
func appendB64URL(dst, src []byte) []byte {
	for len(src) >= 8 {
		v := binary.BigEndian.Uint64(src)
		dst = append(dst, b64URL[v>>58], b64URL[v>>52&63], b64URL[v>>46&63], b64URL[v>>40&63],
			b64URL[v>>34&63], b64URL[v>>28&63], b64URL[v>>22&63], b64URL[v>>16&63])
		src = src[6:]
	}
	for len(src) >= 3 {
		v := uint(src[0])<<16 | uint(src[1])<<8 | uint(src[2])
		dst = append(dst, b64URL[v>>18], b64URL[v>>12&63], b64URL[v>>6&63], b64URL[v&63])
		src = src[3:]
	}
	switch len(src) {
	case 2:
		v := uint(src[0])<<16 | uint(src[1])<<8
		dst = append(dst, b64URL[v>>18], b64URL[v>>12&63], b64URL[v>>6&63])
	case 1:
		v := uint(src[0]) << 16
		dst = append(dst, b64URL[v>>18], b64URL[v>>12&63])
	}
	return dst
}
