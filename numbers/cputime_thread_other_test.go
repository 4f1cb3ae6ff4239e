//go:build !linux

package numbers

func threadCPUNanos() int64 { return 0 }
