//go:build unix

package httpapi

import "syscall"

// fileLimit is the process's soft limit on open files (ulimit -n).
func fileLimit() (uint64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	cur := uint64(r.Cur) // int64 on some BSDs; RLIM_INFINITY is then negative
	return cur, r.Cur > 0 && cur != ^uint64(0) && cur < 1<<62
}
