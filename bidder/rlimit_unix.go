//go:build unix

package bidder

import "syscall"

// fileLimit is the process's soft limit on open files (ulimit -n).
func fileLimit() (uint64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	return r.Cur, r.Cur != ^uint64(0)
}
