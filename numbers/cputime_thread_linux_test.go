//go:build linux

package numbers

import "golang.org/x/sys/unix"

// threadCPUNanos is the CPU time of the calling OS thread (lock the
// goroutine to it): the cost of one piece of work alone, whatever else the
// machine runs.
func threadCPUNanos() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return ts.Nano()
}
