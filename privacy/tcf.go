package privacy

import "strings"

// TCF v2 core segment offsets (see doc.go).
const (
	tcfVersion          = 0
	tcfPurposeConsents  = 152
	tcfMaxVendorID      = 213
	tcfVendorIsRange    = 229
	tcfVendorFirstField = 230
)

// MaxPurpose is the highest purpose id a TC string's purpose consents
// field can hold.
const MaxPurpose = 24

// TCFConsent reports whether the core segment of the TCF v2 TC string tc
// records consent for vendor and for every purpose whose bit is set in
// purposes (bit p-1 for purpose p). Legitimate interest is not read:
// callbid asks for consent. Anything after the first '.' (the optional
// segments) is ignored. An error means the string could not be read; the
// caller treats it as absent consent.
func TCFConsent(tc string, vendor int, purposes uint32) (bool, error) {
	tc, _, _ = strings.Cut(tc, ".")
	b, err := newBits(tc)
	if err != nil {
		return false, err
	}
	v, ok := b.uint(tcfVersion, 6)
	if !ok {
		return false, ErrMalformed
	}
	if v != 2 {
		return false, ErrUnsupported
	}
	pc, ok := b.uint(tcfPurposeConsents, MaxPurpose)
	if !ok {
		return false, ErrMalformed
	}
	// Purpose 1 is the field's first (most significant) bit.
	var have uint32
	for p := 0; p < MaxPurpose; p++ {
		if pc>>(MaxPurpose-1-p)&1 == 1 {
			have |= 1 << p
		}
	}
	maxV, ok := b.uint(tcfMaxVendorID, 16)
	if !ok {
		return false, ErrMalformed
	}
	isRange, ok := b.bit(tcfVendorIsRange)
	if !ok {
		return false, ErrMalformed
	}
	granted := false
	if !isRange {
		if int(maxV) > b.n-tcfVendorFirstField {
			return false, ErrMalformed
		}
		if vendor >= 1 && vendor <= int(maxV) {
			granted, _ = b.bit(tcfVendorFirstField + vendor - 1)
		}
	} else {
		n, ok := b.uint(tcfVendorFirstField, 12)
		if !ok {
			return false, ErrMalformed
		}
		off := tcfVendorFirstField + 12
		for i := 0; i < int(n); i++ {
			r, ok1 := b.bit(off)
			start, ok2 := b.uint(off+1, 16)
			off += 17
			end := start
			ok3 := true
			if r {
				end, ok3 = b.uint(off, 16)
				off += 16
			}
			if !ok1 || !ok2 || !ok3 {
				return false, ErrMalformed
			}
			if uint64(vendor) >= start && uint64(vendor) <= end && vendor >= 1 && vendor <= int(maxV) {
				granted = true
			}
		}
	}
	return granted && have&purposes == purposes, nil
}
