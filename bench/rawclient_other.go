//go:build !linux

package bench

import (
	"context"
	"errors"
)

// rawClient exists on Linux only (epoll); elsewhere the general client runs.
type rawClient struct{}

type schedule struct {
	base     int64
	interval float64
	warmN    int64
	totalN   int64
	seqBase  uint64
	batch    int64
	timeout  int64
	maxLag   int64
}

func newRawClient(*engine) (*rawClient, error) {
	return nil, errors.New("the raw client needs Linux (epoll)")
}

func (c *rawClient) close() {}

func (c *rawClient) runPhase(context.Context, *schedule, *sender) (int64, bool) { return 0, true }
