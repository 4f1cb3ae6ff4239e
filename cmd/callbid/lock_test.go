//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLockDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kafka")
	release, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file, so a second open in this same
	// process conflicts just as another process would.
	if _, err := lockDataDir(dir); err == nil || !strings.Contains(err.Error(), "in use by another callbid") {
		t.Fatalf("second lock: %v", err)
	}
	release()
	release2, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	release2()
}
