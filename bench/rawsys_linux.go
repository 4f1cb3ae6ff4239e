package bench

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The raw client's system calls on its non-blocking descriptors go
// through RawSyscall: they never block, so the runtime's syscall
// bookkeeping (entersyscall/exitsyscall) buys nothing, and it costs more
// than that: each entersyscall wakes sysmon from its deep sleep whenever
// the process was idle a moment before, and a woken sysmon polls every
// 20 µs for a while. On the 2-vCPU VM that cycle was about a tenth of
// the bench's CPU (perf, 42,500 req/s against the ceiling).

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func rawWrite(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawRead(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawEpollPoll takes the ready events without waiting.
func rawEpollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawTimerfdSet(fd int, spec *unix.ItimerSpec) error {
	_, _, e := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(fd), 0, uintptr(unsafe.Pointer(spec)), 0, 0, 0)
	return errnoErr(e)
}
