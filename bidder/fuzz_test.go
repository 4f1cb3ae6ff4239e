package bidder

import (
	"path/filepath"
	"testing"
)

// FuzzBidHandler feeds arbitrary bodies through Bid (the test handler
// does not inflate: a gzipped body is malformed here; httpapi's
// FuzzBidHandler covers gzip): nothing may panic, and the answer is one of
// the contract's.
func FuzzBidHandler(f *testing.F) {
	files, _ := filepath.Glob("testdata/requests/*/*.json")
	for _, p := range files {
		body := readBody(f, p)
		f.Add(body, false)
		f.Add(gz(body), true)
	}
	f.Add([]byte(`{"id":"x","imp":[{"id":"1","banner":{"w":300,"h":250}}],"site":{"id":"s"}}`), false)
	h, _ := benchSetup(f, newFakeReserver(0, "pool-mortgage", "pool-auto", "pool-legal"))
	f.Fuzz(func(t *testing.T, body []byte, gzipped bool) {
		hdr := []string{}
		if gzipped {
			hdr = []string{"Content-Encoding", "gzip"}
		}
		ctx := serve(h, "POST", "/openrtb2/bid?exchange=nbrx", body, hdr...)
		switch st := ctx.Response.StatusCode(); st {
		case 200, 204, 400, 413:
		default:
			t.Fatalf("status %d", st)
		}
	})
}
