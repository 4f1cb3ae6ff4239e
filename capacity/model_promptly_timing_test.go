// Wall-clock assertions, outside the default test run:
//
//	go test -tags timing -count=1 ./capacity ./bench ./

//go:build timing && !race

package capacity

import (
	"testing"
	"time"
)

// TestRunReflectsChangePromptly: a state change reaches View within
// rebuild_interval (20 ms) plus rebuild time, with room for a loaded machine.
func TestRunReflectsChangePromptly(t *testing.T) {
	for i, d := range reflectChanges(t) {
		if d > 100*time.Millisecond {
			t.Errorf("change %d took %v", i, d)
		}
	}
}
