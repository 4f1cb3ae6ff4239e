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
	matches := 0
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
		// evalCampaign's filter before it (firstKeys) never hides a match
		if want && !listFirstKeys(l).meets(firstKey(v)) {
			t.Fatalf("inListFold(%q, %q) matches, but their first-byte keys share no bit", l, v)
		}
		if want {
			matches++
		}
	}
	if matches < 1000 {
		t.Fatalf("only %d matches: the test does not exercise the first-byte filter", matches)
	}
	for _, c := range [][2]string{{"example-competitor.com", "mortgage.example"}, {"spam-ads.net", "legal.example"}} {
		if listFirstKeys([]string{c[0]}).meets(firstKey(c[1])) {
			t.Errorf("badv %s and adomain %s share a key", c[0], c[1])
		}
	}
}

// TestCatKeysNeverHideABlock: whenever catBlocked blocks, the request's
// bcat keys and the campaign's ad category keys share a bit, so the
// filter in evalCampaign only skips comparisons that cannot match
// (Unicode folds, odd bytes, '-' and empty codes included).
func TestCatKeysNeverHideABlock(t *testing.T) {
	alphabet := []string{"I", "i", "A", "a", "B", "b", "1", "3", "7", "-", "K", "k", "\u212a", "S", "s", "\u017f", "@", "\xff", "Z", "z"}
	r := rand.New(rand.NewPCG(7, 8))
	word := func() string {
		var b strings.Builder
		for n := r.IntN(7); n > 0; n-- {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	list := func(max int) []string {
		l := make([]string, r.IntN(max+1))
		for i := range l {
			l[i] = word()
		}
		return l
	}
	blocked := 0
	for range 200000 {
		bcat, ads := list(4), upperList(list(3))
		if r.IntN(3) == 0 && len(ads) > 0 {
			// a prefix of an ad category, cased at random
			a := ads[r.IntN(len(ads))]
			p := a[:r.IntN(len(a)+1)]
			if r.IntN(2) == 0 {
				p = strings.ToLower(p)
			}
			bcat = append(bcat, p)
		}
		if !catBlocked(bcat, ads) {
			continue
		}
		blocked++
		if bcatKeys(bcat)&adCatKeys(ads) == 0 {
			t.Fatalf("bcat %q blocks ad categories %q, but their keys share no bit", bcat, ads)
		}
	}
	if blocked < 1000 {
		t.Fatalf("only %d blocked cases: the test does not exercise the filter", blocked)
	}
	for _, c := range [][2]string{{"IAB25", "IAB13-7"}, {"IAB26", "IAB13-5"}, {"IAB7-39", "IAB11-2"}, {"IAB8-5", "IAB13-7"}} {
		if bcatKeys([]string{c[0]})&adCatKeys([]string{c[1]}) != 0 {
			t.Errorf("bcat %s and ad category %s share a key: the IAB codes should not collide", c[0], c[1])
		}
	}
}
