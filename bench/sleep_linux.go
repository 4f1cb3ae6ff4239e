package bench

import (
	"os"
	"runtime"
	"strconv"
	"strings"
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

// cpuSeconds is the CPU time (user+system) this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// pidCPUSeconds reads another process's CPU time from /proc/PID/stat
// (fields 14 and 15, in clock ticks of 1/100 s on Linux); -1 if unreadable.
func pidCPUSeconds(pid int) float64 {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return -1
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return (u + st) / 100
}
