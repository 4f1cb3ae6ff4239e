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

// rawRecv reads into b and returns, when the kernel gave one, the time
// the last segment read arrived (SO_TIMESTAMPNS, unix ns; 0 if none).
func rawRecv(fd int, b []byte, m *recvState) (int, int64, error) {
	if len(b) == 0 {
		return 0, 0, nil
	}
	m.iov.Base = &b[0]
	m.iov.SetLen(len(b))
	m.msg.Iov = &m.iov
	m.msg.Iovlen = 1
	m.msg.Control = &m.ctl[0]
	m.msg.SetControllen(len(m.ctl))
	m.msg.Flags = 0
	n, _, e := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&m.msg)), 0)
	if e != 0 {
		return 0, 0, e
	}
	var at int64
	hdr := unix.CmsgLen(0)
	if int(m.msg.Controllen) >= hdr+int(unsafe.Sizeof(unix.Timespec{})) {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&m.ctl[0]))
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_TIMESTAMPNS_OLD {
			ts := (*unix.Timespec)(unsafe.Pointer(&m.ctl[hdr]))
			at = ts.Nano()
		}
	}
	return int(n), at, nil
}

// recvState is one connection's recvmsg header and control buffer, kept so
// that a read allocates nothing.
type recvState struct {
	msg unix.Msghdr
	iov unix.Iovec
	ctl [64]byte
}

// epollWaitNs waits up to ns for ready events (epoll_pwait2, Linux 5.11+:
// a nanosecond timeout). Unlike the calls above it may block, so it goes
// through Syscall6: the runtime can then hand the P to the process's other
// goroutines (the collector, the closed loop) while it waits. ts is the
// caller's, so that the call does not allocate it.
func epollWaitNs(epfd int, events []unix.EpollEvent, ns int64, ts *unix.Timespec) (int, error) {
	*ts = unix.NsecToTimespec(ns)
	n, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)),
		uintptr(unsafe.Pointer(ts)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
