//go:build !unix

package httpapi

func fileLimit() (uint64, bool) { return 0, false }
