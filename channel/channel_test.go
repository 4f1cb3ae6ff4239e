package channel

import "testing"

func TestParseString(t *testing.T) {
	for c := Channel(0); c < Count; c++ {
		got, ok := Parse(c.String())
		if !ok || got != c {
			t.Errorf("Parse(%q) = %v, %v", c.String(), got, ok)
		}
	}
	if _, ok := Parse("email"); ok {
		t.Error(`Parse("email") accepted`)
	}
	if Channel(9).String() != "unknown" {
		t.Error("out-of-range channel has a name")
	}
}
