//go:build !linux

package httpapi

import "net"

// rxReader needs Linux's SO_TIMESTAMPNS; elsewhere connections are read
// plainly and queueing is not measured (admission still bounds requests in
// flight).
type rxReader struct{ at int64 }

func newRxReader(net.Conn) (*rxReader, bool) { return nil, false }

func (r *rxReader) read([]byte) (int, error) { return 0, nil }

func (r *rxReader) write([]byte) (int, error) { return 0, nil }

func enableRxTimestamps(net.Listener) {}
