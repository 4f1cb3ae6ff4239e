//go:build unix

package numbers

import "syscall"

// cpuNanos is the CPU time (user+system) this process has used. Benchmarks
// report it per op beside wall time: on a shared, overloaded machine wall
// time per op includes time spent waiting for a core.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
