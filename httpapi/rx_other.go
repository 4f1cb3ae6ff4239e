//go:build !linux

package httpapi

import "net"

// rawSocket needs Linux's SO_TIMESTAMPNS; elsewhere connections are read
// plainly and queueing is not measured (admission still bounds requests in
// flight).
type rawSocket struct{ at int64 }

func newRawSocket(net.Conn) (*rawSocket, bool) { return nil, false }

func (r *rawSocket) read([]byte) (int, error) { return 0, nil }

func (r *rawSocket) write([]byte) (int, error) { return 0, nil }

func enableRxTimestamps(net.Listener) {}
