//go:build !unix

package bidder

func fileLimit() (uint64, bool) { return 0, false }
