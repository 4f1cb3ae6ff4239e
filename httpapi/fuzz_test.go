package httpapi

import (
	"path/filepath"
	"testing"
)

// FuzzBidHandler feeds arbitrary bodies (optionally as gzip) through the
// whole bid route: nothing may panic, and the answer is one of the
// contract's.
func FuzzBidHandler(f *testing.F) {
	files, _ := filepath.Glob(testdata + "requests/*/*.json")
	for _, p := range files {
		body := readBody(f, p)
		f.Add(body, false)
		f.Add(gz(body), true)
	}
	f.Add([]byte(`{"id":"x","imp":[{"id":"1","banner":{"w":300,"h":250}}],"site":{"id":"s"}}`), false)
	r, _ := bidSetup(f, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
	f.Fuzz(func(t *testing.T, body []byte, gzipped bool) {
		ctx := newBidCtx(body, "/openrtb2/bid?exchange=nbrx")
		if gzipped {
			ctx.Request.Header.Set("Content-Encoding", "gzip")
		}
		runBid(r, ctx)
		switch st := ctx.Response.StatusCode(); st {
		case 200, 204, 400, 413:
		default:
			t.Fatalf("status %d", st)
		}
	})
}
