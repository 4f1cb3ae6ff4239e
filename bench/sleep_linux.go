package bench

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The Go runtime's timers wake at millisecond granularity when the process
// is idle (epoll_wait takes milliseconds), which would add up to 1 ms of
// bench lag to every request at moderate rates. The scheduler waits on a
// timerfd instead: it sits in the same epoll set as the connections, so
// the kernel wakes the netpoller within microseconds, with no extra thread
// and no extra P (GOMAXPROCS=1 stays cheap on a single pinned core).
type precisionTimer struct {
	f   *os.File
	fd  int
	buf [8]byte
}

func newPrecisionTimer() *precisionTimer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil // fall back to time.Sleep
	}
	return &precisionTimer{f: os.NewFile(uintptr(fd), "bench-timerfd"), fd: fd}
}

func (t *precisionTimer) close() {
	if t != nil {
		_ = t.f.Close()
	}
}

// sleepUntil returns at or just after at (unix nanoseconds), or after at
// most 50 ms so the caller can notice cancellation.
func (t *precisionTimer) sleepUntil(at int64) {
	d := time.Duration(at - time.Now().UnixNano())
	if d <= 0 {
		return
	}
	d = min(d, 50*time.Millisecond)
	if t == nil {
		time.Sleep(d)
		return
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if unix.TimerfdSettime(t.fd, 0, &spec, nil) != nil {
		time.Sleep(d)
		return
	}
	_, _ = t.f.Read(t.buf[:]) // blocks in the netpoller until the timer fires
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
