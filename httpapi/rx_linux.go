package httpapi

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawSocket reads a TCP connection with recvmsg and SO_TIMESTAMPNS, so the
// bid handler knows when a request reached the machine and can tell how long
// it waited for a CPU (queueing that no in-process clock sees), and writes
// its answers. It goes through the runtime's poller (syscall.RawConn), so
// deadlines and blocking behave as on a plain Read and Write, and it
// allocates nothing per call.
//
// Its system calls are raw (unix.RawSyscall): on a non-blocking socket they
// return at once (EAGAIN hands the wait to the poller), so the runtime need
// not be told (entersyscall/exitsyscall). Telling it woke Go's monitor
// thread (sysmon) from its deep sleep at the first read after every idle
// gap, and the monitor then polled every 20 µs on the same core: 10-12 %
// of callbid's CPU at a steady 42,500 req/s (README "Performance",
// session 8). The answer goes out the same way (write).
type rawSocket struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool
	wfn func(fd uintptr) bool
	hdr unix.Msghdr
	iov unix.Iovec
	oob [8]uint64 // one SO_TIMESTAMPNS control message; 8-byte aligned
	p   []byte
	n   int
	err error
	at  int64 // kernel receive time of the last bytes read, unix ns
	// write's state, apart from read's: fasthttp reads and writes a
	// connection on one goroutine, but nothing here relies on it.
	wp   []byte
	wn   int
	werr error
}

func newRawSocket(c net.Conn) (*rawSocket, bool) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return nil, false
	}
	r := &rawSocket{rc: rc}
	r.fn = r.recv
	r.wfn = r.send
	r.hdr.Iov = &r.iov
	r.hdr.SetIovlen(1)
	return r, true
}

func (r *rawSocket) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.err = p, 0, nil
	if err := r.rc.Read(r.fn); err != nil {
		r.p = nil
		return 0, err
	}
	r.p = nil
	if r.err != nil {
		return 0, r.err
	}
	if r.n == 0 {
		return 0, io.EOF
	}
	return r.n, nil
}

// recv is the RawConn callback: false asks the poller to wait for data.
func (r *rawSocket) recv(fd uintptr) bool {
	r.iov.Base = &r.p[0]
	r.iov.SetLen(len(r.p))
	r.hdr.Control = (*byte)(unsafe.Pointer(&r.oob[0]))
	r.hdr.SetControllen(len(r.oob) * 8)
	n, _, errno := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.hdr)), 0)
	r.iov.Base = nil
	switch errno {
	case 0:
	case unix.EAGAIN:
		return false
	case unix.EINTR:
		return r.recv(fd) // bounded: a signal interrupts at most a few times
	default:
		r.err = os.NewSyscallError("recvmsg", errno)
		return true
	}
	r.n = int(n)
	r.at = 0 // the kernel may not have stamped these bytes (see enableRxTimestamps)
	// Walk the control messages for the receive timestamp.
	ctl := int(r.hdr.Controllen)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&r.oob[0])), len(r.oob)*8)
	for off := 0; off+unix.SizeofCmsghdr <= ctl; {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&buf[off]))
		if h.Len < unix.SizeofCmsghdr {
			break
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_TIMESTAMPNS &&
			int(h.Len) >= unix.SizeofCmsghdr+int(unsafe.Sizeof(unix.Timespec{})) &&
			off+unix.SizeofCmsghdr+int(unsafe.Sizeof(unix.Timespec{})) <= len(buf) {
			ts := (*unix.Timespec)(unsafe.Pointer(&buf[off+unix.SizeofCmsghdr]))
			r.at = ts.Nano()
		}
		off += (int(h.Len) + 7) &^ 7
	}
	return true
}

// write writes all of p through the runtime's poller: a full socket buffer
// waits for the socket to drain, a deadline ends the wait, as with a plain
// Write.
func (r *rawSocket) write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.wp, r.wn, r.werr = p, 0, nil
	err := r.rc.Write(r.wfn)
	n := r.wn
	r.wp = nil
	if err != nil {
		return n, err
	}
	return n, r.werr
}

// send is the RawConn callback of write: false asks the poller to wait
// until the socket takes more.
func (r *rawSocket) send(fd uintptr) bool {
	for r.wn < len(r.wp) {
		n, _, errno := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&r.wp[r.wn])), uintptr(len(r.wp)-r.wn))
		switch errno {
		case 0:
			if n == 0 {
				r.werr = io.ErrUnexpectedEOF // as internal/poll: a socket never takes 0 of n > 0 bytes
				return true
			}
			r.wn += int(n)
		case unix.EAGAIN:
			return false
		case unix.EINTR:
		default:
			r.werr = os.NewSyscallError("write", errno)
			return true
		}
	}
	return true
}

// enableRxTimestamps turns receive timestamps on at the listener: accepted
// sockets inherit it, and Linux switches timestamping on for the machine
// asynchronously, so doing it before the first client arrives means the
// first requests are stamped too. Bytes without a stamp leave the arrival
// time unknown (0), which only disables queue-delay shedding for them.
func enableRxTimestamps(ln net.Listener) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	})
}
