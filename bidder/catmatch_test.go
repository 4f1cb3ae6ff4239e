package bidder

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// catMatchRef is catMatch as first written, on strings.EqualFold.
func catMatchRef(cat, group string) bool {
	if len(cat) < len(group) || !strings.EqualFold(cat[:len(group)], group) {
		return false
	}
	return len(cat) == len(group) || cat[len(group)] == '-'
}

// TestCatMatchAgreesWithEqualFold: the inline ASCII folding answers as
// strings.EqualFold does, Unicode folds (K, ſ) and odd bytes included.
func TestCatMatchAgreesWithEqualFold(t *testing.T) {
	alphabet := []string{"I", "i", "A", "a", "B", "b", "1", "3", "-", "K", "k", "\u212a", "S", "s", "\u017f", "@", "[", "`", "{", "\xff", ""}
	r := rand.New(rand.NewPCG(3, 4))
	word := func() string {
		var b strings.Builder
		for n := r.IntN(6); n > 0; n-- {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	fixed := [][2]string{{"IAB13-7", "IAB13"}, {"iab13-7", "IAB13"}, {"IAB13", "IAB13-7"}, {"IAB130", "IAB13"},
		{"IAB25", "IAB2"}, {"IAB13-7", "iab13-7"}, {"\u212a1", "k1"}, {"k1", "\u212a1"}, {"", ""}, {"-x", ""}}
	for _, f := range fixed {
		if got, want := catMatch(f[0], f[1]), catMatchRef(f[0], f[1]); got != want {
			t.Errorf("catMatch(%q, %q) = %v, want %v", f[0], f[1], got, want)
		}
	}
	for range 200000 {
		cat, group := word(), word()
		if r.IntN(3) == 0 {
			group = cat[:r.IntN(len(cat)+1)]
		}
		if got, want := catMatch(cat, group), catMatchRef(cat, group); got != want {
			t.Fatalf("catMatch(%q, %q) = %v, want %v", cat, group, got, want)
		}
	}
}

// TestInListFoldAgreesWithEqualFold: the first-byte shortcut answers as
// strings.EqualFold on the trimmed entries does.
func TestInListFoldAgreesWithEqualFold(t *testing.T) {
	alphabet := []string{"a", "A", "k", "K", "\u212a", "s", "\u017f", ".", " ", "\xff", "@", "`"}
	r := rand.New(rand.NewPCG(5, 6))
	word := func() string {
		var b strings.Builder
		for n := r.IntN(5); n > 0; n-- {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 100000 {
		l := []string{word(), word()}
		v := word()
		want := false
		for _, x := range l {
			want = want || strings.EqualFold(strings.TrimSpace(x), v)
		}
		if got := inListFold(l, v); got != want {
			t.Fatalf("inListFold(%q, %q) = %v, want %v", l, v, got, want)
		}
	}
}
