package httpapi

import (
	"bufio"
	"strings"
	"testing"

	"github.com/callbid/callbid/bidder"
	"github.com/valyala/fasthttp"
)

// TestPeekCanonical: a header sent in any case is found by its canonical
// name, and the header normalizes keys again afterwards.
func TestPeekCanonical(t *testing.T) {
	var req fasthttp.Request
	raw := "POST /openrtb2/bid HTTP/1.1\r\nHost: x\r\nx-CALLBID-debug: tok\r\nContent-Length: 0\r\n\r\n"
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	if got := string(peekCanonical(&req.Header, bidder.DebugHeader)); got != "tok" {
		t.Fatalf("peekCanonical = %q, want tok", got)
	}
	if got := string(req.Header.Peek("x-callbid-DEBUG")); got != "tok" {
		t.Fatalf("Peek after peekCanonical = %q, want tok (normalizing left off)", got)
	}
}
