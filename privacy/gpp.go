package privacy

import "strings"

// GPP section ids (IAB GPP section list).
const (
	GPPSectionTCFEU    = 2
	GPPSectionUSPV1    = 6
	GPPSectionUSNat    = 7
	GPPSectionUSCA     = 8
	GPPSectionUSVA     = 9
	GPPSectionUSCO     = 10
	GPPSectionUSUT     = 11
	GPPSectionUSCT     = 12
	maxGPPSections     = 32
	maxGPPSectionIDVal = 1 << 12
)

// GPP is a parsed GPP string: its section ids and, for each, the section's
// text. Strings point into the parsed string. The zero value has no
// sections.
type GPP struct {
	n    int
	ids  [maxGPPSections]uint16
	secs [maxGPPSections]string
}

// Parse reads s (header~section~…); it keeps up to 32 sections, more is
// ErrMalformed. After an error g has no sections.
func (g *GPP) Parse(s string) error {
	err := g.parse(s)
	if err != nil {
		g.n = 0
	}
	return err
}

func (g *GPP) parse(s string) error {
	g.n = 0
	head, rest, _ := strings.Cut(s, "~")
	b, err := newBits(head)
	if err != nil {
		return err
	}
	typ, ok1 := b.uint(0, 6)
	ver, ok2 := b.uint(6, 6)
	n, ok3 := b.uint(12, 12)
	if !ok1 || !ok2 || !ok3 {
		return ErrMalformed
	}
	if typ != 3 || ver != 1 {
		return ErrUnsupported
	}
	off, last := 24, 0
	for i := 0; i < int(n); i++ {
		r, ok := b.bit(off)
		if !ok {
			return ErrMalformed
		}
		start, next, ok := b.fibonacci(off + 1)
		if !ok {
			return ErrMalformed
		}
		start += last // ids are offsets from the previous one
		end := start
		off = next
		if r {
			var d int
			if d, off, ok = b.fibonacci(off); !ok {
				return ErrMalformed
			}
			end = start + d
		}
		for id := start; id <= end; id++ {
			if g.n == maxGPPSections || id >= maxGPPSectionIDVal {
				return ErrMalformed
			}
			g.ids[g.n] = uint16(id)
			g.n++
		}
		last = end
	}
	// Sections follow in the order of their ids; a missing one reads as
	// absent, extra ones are ignored.
	for i := 0; i < g.n; i++ {
		sec := rest
		if j := strings.IndexByte(rest, '~'); j >= 0 {
			sec, rest = rest[:j], rest[j+1:]
		} else {
			rest = ""
		}
		g.secs[i] = sec
	}
	return nil
}

// Len is the number of sections.
func (g *GPP) Len() int { return g.n }

// Section returns the text of section id; false when the string has none.
func (g *GPP) Section(id int) (string, bool) {
	for i := 0; i < g.n; i++ {
		if int(g.ids[i]) == id {
			return g.secs[i], g.secs[i] != ""
		}
	}
	return "", false
}

// usOptOutFields returns the bit offsets of a US section's 2-bit opt-out
// fields (sale, sharing, targeted advertising; -1 when the section has
// none), following each section's core segment layout.
func usOptOutFields(id int) ([3]int, bool) {
	switch id {
	case GPPSectionUSNat: // version(6) 6 notices(2 each), then the opt-outs
		return [3]int{18, 20, 22}, true
	case GPPSectionUSCA: // version(6) 3 notices
		return [3]int{12, 14, -1}, true
	case GPPSectionUSVA, GPPSectionUSCO, GPPSectionUSCT: // version(6) 3 notices
		return [3]int{12, -1, 14}, true
	case GPPSectionUSUT: // version(6) 4 notices
		return [3]int{14, -1, 16}, true
	}
	return [3]int{}, false
}

// IsUSSection reports whether id is a US section USOptOut reads.
func IsUSSection(id int) bool {
	_, ok := usOptOutFields(id)
	return ok || id == GPPSectionUSPV1
}

// USOptOut reports whether a US GPP section (uspv1, usnat or a state's)
// says the user opted out of the sale or sharing of personal data or of
// targeted advertising (a field value of 1; 2 is "did not opt out", 0
// "not applicable"). Other section ids give ErrUnsupported.
func USOptOut(id int, section string) (bool, error) {
	if id == GPPSectionUSPV1 {
		return USPrivacyOptOut(section)
	}
	f, ok := usOptOutFields(id)
	if !ok {
		return false, ErrUnsupported
	}
	section, _, _ = strings.Cut(section, ".") // the optional GPC subsection
	b, err := newBits(section)
	if err != nil {
		return false, err
	}
	for _, off := range f {
		if off < 0 {
			continue
		}
		v, ok := b.uint(off, 2)
		if !ok {
			return false, ErrMalformed
		}
		if v == 1 {
			return true, nil
		}
	}
	return false, nil
}

// USPrivacyOptOut reads a US Privacy string: version, notice, opt-out of
// sale, LSPA ("1YYN" opted out; "1---" does not apply). Any four
// characters are read, whatever the version character.
func USPrivacyOptOut(s string) (bool, error) {
	if len(s) != 4 {
		return false, ErrMalformed
	}
	return s[2] == 'Y' || s[2] == 'y', nil
}
