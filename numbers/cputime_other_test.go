//go:build !unix

package numbers

func cpuNanos() int64 { return 0 }
