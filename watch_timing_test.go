// Wall-clock assertions, outside the default test run:
//
//	go test -tags timing -count=1 ./capacity ./bench ./

//go:build timing

package callbid

import (
	"testing"
	"time"
)

// TestWatchCoalesces: the rename's events (and the file beside it) come
// within the 20 ms settle of each other, so they make exactly one reload;
// none follows in the next 100 ms.
func TestWatchCoalesces(t *testing.T) {
	reloads := watchRenameOver(t)
	time.Sleep(100 * time.Millisecond) // the assertion is that nothing happens in this window
	if n := reloads.Load(); n != 1 {
		t.Fatalf("reloads = %d, want exactly 1 (coalesced)", n)
	}
}
