//go:build !unix

package main

// lockDataDir is a no-op where flock does not exist; run one callbid per
// data directory there.
func lockDataDir(string) (func(), error) { return func() {}, nil }
