//go:build !race

package events

import (
	"testing"
	"time"
)

// The producers' paths write own records into reused buffers: nothing
// allocates.
func TestAppendOwnRecordsAllocateNothing(t *testing.T) {
	l := sampleLease()
	im := Impression{BidID: "b1", Kind: ImpressionWin, CampaignID: "c", At: time.Now().UTC(), IPHash: 3}
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(1000, func() {
		buf = AppendLease(buf[:0], &l)
		buf = AppendImpression(buf[:0], &im)
	}); n != 0 {
		t.Errorf("%v allocs per run, want 0", n)
	}
	d := NewDecoder[Lease]()
	b := AppendLease(nil, &l)
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := d.Decode(b, Limits{}); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("decoding a lease: %v allocs, want at most 1 (its strings)", n)
	}
}
