package numbers

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fastjson"
)

// FuzzCallBody: the /v1/calls body parser never panics, accepts only bodies
// that satisfy its checks, and what it accepts gives a JSON answer.
func FuzzCallBody(f *testing.F) {
	for _, s := range []string{
		`{"call_id":"c1","dnis":"+18005550100","ext":"","ani":"+14155550188","started_at":"2026-11-23T12:00:00Z"}`,
		`{"call_id":"c2","dnis":"+18000000000","ext":"42","ani":"anonymous"}`,
		`{"call_id":"c3","dnis":"+18000000001","started_at":"2026-11-23T12:00:00.123456789+02:00"}`,
		`{"call_id":"","dnis":"+1"}`, `{"call_id":"x","dnis":"+18005550100","ext":"1\u0000"}`,
		`[]`, `null`, `{`, `{"call_id":1}`, `{"call_id":"a\"b","dnis":"+18005550100","ani":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	cfg := extPool(100)
	cfg.Pools[0].Numbers = []string{"+18005550100"}
	p := mustNew(f, cfg, nil)
	r, _ := p.Reserve(0, testClaim(1), t0)
	p.Win(r.Ref, false, t0)
	f.Fuzz(func(t *testing.T, body []byte) {
		var ps fastjson.Parser
		var req callReq
		if err := parseCallBody(&ps, body, &req); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if len(req.callID) == 0 || !ValidE164(string(req.dnis)) {
			t.Fatalf("accepted %q: call id %q dnis %q", body, req.callID, req.dnis)
		}
		for _, c := range req.ext {
			if c < '0' || c > '9' {
				t.Fatalf("accepted ext %q", req.ext)
			}
		}
		ans := p.attribute(nil, req.callID, req.dnis, req.ext, req.ani, req.startedAt, t0.UnixNano())
		if !json.Valid(ans) {
			t.Fatalf("answer is not JSON: %s", ans)
		}
		select {
		case <-p.attrQ:
		default:
		}
	})
}
