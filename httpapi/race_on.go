//go:build race

package httpapi

// raceBuild: the race detector learns that a socket write happens before
// the peer's read only from the net package's annotations (internal/poll),
// which a raw write skips; under -race answers go out through net.Conn so
// that tests reading state after an answer see the edge.
const raceBuild = true
