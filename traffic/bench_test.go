package traffic

import "testing"

var sinkB bool

func benchFilter(b *testing.B) *Filter {
	b.Helper()
	f, err := New(Config{IPCap: 10, IFACap: 10,
		BlockedRanges: []string{"10.0.0.0/8", "192.168.0.0/16", "100.64.0.0/10", "2001:db8::/32"}}, zeroLog)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.Close)
	return f
}

func BenchmarkAllowed(b *testing.B) {
	f := benchFilter(b)
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		i++
		sinkB = f.Allowed(i&1023+1, i&4095+1)
	}
}

func BenchmarkAllowedIP(b *testing.B) {
	f := benchFilter(b)
	b.ReportAllocs()
	for b.Loop() {
		sinkB = f.AllowedIP("203.0.113.45")
	}
}

// BenchmarkAllowedWithBlocks: the bid path's check once devices are
// blocked (the table is not empty, so it reads the clock and two slots).
func BenchmarkAllowedWithBlocks(b *testing.B) {
	f := benchFilter(b)
	for d := uint64(1); d <= 1000; d++ {
		f.Spam(d*7919, 0)
	}
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		i++
		sinkB = f.Allowed(i&4095+1, i&8191+1)
	}
}
