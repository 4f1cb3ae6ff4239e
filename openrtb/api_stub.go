package openrtb

// This file fixes the signatures other packages code against. The openrtb
// helper replaces the bodies (and may move them into other files); the
// signatures stay.

// Decoder parses bid requests without allocating in steady state.
type Decoder struct {
	req Request
}

// AcquireDecoder takes a Decoder from the pool.
func AcquireDecoder() *Decoder { return &Decoder{} }

// ReleaseDecoder returns d to the pool; the Request it returned is invalid after.
func ReleaseDecoder(d *Decoder) {}

// Decode parses and validates body. A returned error wraps ErrMalformed.
// The Request is valid until ReleaseDecoder(d).
func (d *Decoder) Decode(body []byte) (*Request, error) { return &d.req, nil }

// Bid is one bid to encode. AdM is the markup, already rendered (not yet JSON-escaped).
type Bid struct {
	ID      string
	ImpID   string
	Price   float64 // CPM in the response currency
	AdM     []byte
	ADomain string
	CID     string
	CrID    string
	DealID  string
	MType   int // 1 banner, 4 native
	W, H    int
	NURL    string
	BURL    string
	LURL    string
	Exp     int
}

// AppendResponse appends a BidResponse JSON with one seatbid to dst.
func AppendResponse(dst []byte, requestID, bidID, cur, seat string, bids []Bid) []byte { return dst }

// AppendNoBidResponse appends {"id":…,"nbr":…} to dst.
func AppendNoBidResponse(dst []byte, requestID string, nbr NoBidReason) []byte { return dst }

// Template is a creative template compiled once at config load. Placeholders:
// {{number}} (display form), {{number_e164}}, {{tel_uri}} (tel:+1…;ext=…),
// {{ext}}, {{campaign}}, {{click_url}}.
type Template struct{ src string }

// ParseTemplate compiles a creative template; errors name the bad placeholder.
func ParseTemplate(src string) (Template, error) { return Template{src: src}, nil }

// TemplateVars are the values rendered into a Template.
type TemplateVars struct {
	E164       string // +18005550123
	Ext        string // "" when none
	CampaignID string
}

// Append renders t with v into dst.
func (t *Template) Append(dst []byte, v *TemplateVars) []byte { return dst }

// AppendNativeMarkup renders a Native 1.2 response whose phone data asset
// (type 8) carries the number, plus the title asset when requested.
func AppendNativeMarkup(dst []byte, imp *Imp, title string, v *TemplateVars) []byte { return dst }
