//go:build !linux

package bench

import "time"

type precisionTimer struct{}

func newPrecisionTimer() *precisionTimer { return nil }

func (t *precisionTimer) close() {}

func (t *precisionTimer) sleepUntil(at int64) {
	if d := time.Duration(at - time.Now().UnixNano()); d > 0 {
		time.Sleep(min(d, 50*time.Millisecond))
	}
}

func cpuSeconds() float64 { return 0 }

func pidCPUSeconds(int) float64 { return -1 }
