package bench

import (
	"runtime"
	"syscall"
	"time"
)

// The Go runtime's timers wake at millisecond granularity when the process
// is idle (epoll_wait takes milliseconds), which would add up to 1 ms of
// bench lag to every request at moderate rates. The scheduler therefore
// owns an OS thread with a 1 ns timer slack and finishes each wait with
// nanosleep(2), which wakes within tens of microseconds.

const prSetTimerSlack = 29

func lockScheduler() func() {
	runtime.LockOSThread()
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
	return func() {
		// Restore the default slack before the thread goes back to the pool.
		_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 0, 0)
		runtime.UnlockOSThread()
	}
}

// sleepUntil returns at or just after at (unix nanoseconds), or after at
// most 50 ms so the caller can notice cancellation.
func sleepUntil(at int64) {
	d := time.Duration(at - time.Now().UnixNano())
	switch {
	case d <= 0:
	case d > 3*time.Millisecond:
		time.Sleep(min(d-2*time.Millisecond, 50*time.Millisecond))
	default:
		ts := syscall.NsecToTimespec(int64(d))
		_ = syscall.Nanosleep(&ts, nil) // EINTR: the caller loops
	}
}
