package openrtb

import (
	"errors"

	"github.com/prebid/openrtb/v20/adcom1"
)

// ErrMalformed is wrapped by every Decode error: the body is not a valid bid
// request and the exchange gets 400 with an empty body.
var ErrMalformed = errors.New("openrtb: malformed bid request")

// Inventory says which of site, app or dooh the request carries.
type Inventory uint8

const (
	InventorySite Inventory = iota + 1
	InventoryApp
	InventoryDOOH
)

// Request is the part of a BidRequest that callbid decides on.
//
// Strings point into the Decoder's buffer: they are valid until the Decoder is
// released (ReleaseDecoder) and must be copied by anything that keeps them.
type Request struct {
	ID    string
	Imps  []Imp
	TMax  int64 // ms; 0 when absent
	AT    int   // auction type; 0 when absent (means 2)
	Test  bool
	Cur   []string // request.cur; empty means USD
	BCat  []string
	BAdv  []string
	BApp  []string
	WSeat []string
	BSeat []string

	Inventory   Inventory
	SiteOrAppID string   // site.id / app.id / dooh.id
	Domain      string   // site.domain, or app.domain
	Bundle      string   // app.bundle
	Page        string   // site.page
	Cats        []string // cat + sectioncat + pagecat of site/app/dooh
	// Keywords joins, with commas, site/app keywords and kwarray, their
	// content's keywords and kwarray, and user keywords and kwarray.
	Keywords    string
	PublisherID string // site/app/dooh .publisher.id

	Device Device
	User   User
	Regs   Regs
	Source Source
}

// Device is the part of request.device callbid reads.
type Device struct {
	Type adcom1.DeviceType // devicetype; 0 when absent or outside int8, as prebid's openrtb2 reads it
	IP   string
	IPv6 string
	IFA  string
	UA   string
	// Geo comes from device.geo, or from user.geo when device.geo is absent.
	Country string // geo.country, ISO-3166-1 alpha-3 as OpenRTB sends it
	Region  string // geo.region
	Metro   string
	City    string
	Zip     string
	LMT     bool
}

// User is the part of request.user callbid reads.
type User struct {
	ID       string
	BuyerUID string
	Consent  string // user.consent (2.6) or user.ext.consent (2.5)
}

// Regs holds privacy signals from both the 2.6 and the 2.5 ext locations.
type Regs struct {
	COPPA     bool
	GDPR      int8 // -1 unknown, 0, 1
	USPrivacy string
	GPP       string
	GPPSID    []int8 // regs.gpp_sid: the sections of GPP that apply
}

// Source holds supply-chain signals.
type Source struct {
	TID            string
	SChainComplete int8 // -1 when there is no schain
	SChainNodes    int
}

// Imp is one impression of a Request.
type Imp struct {
	ID          string
	TagID       string
	BidFloor    float64
	BidFloorCur string // "" means USD
	Secure      bool
	Instl       bool
	Rewarded    bool // imp.rwdd (2.6) or imp.ext.prebid.is_rewarded_inventory (2.5)
	Exp         int  // seconds, 0 when absent

	Banner  bool
	Formats []Format // banner.w/h followed by banner.format[]

	Native bool
	// NativePhoneAssetID is the id of the Native 1.2 data asset of type 8
	// (phone) in imp.native.request; 0 when the request asks for none.
	// Asset ids may legally be 0, so NativeHasPhone is the test to use.
	NativePhoneAssetID int
	NativeTitleAssetID int // 0 when none; see NativeHasTitle
	NativeTitleLen     int // title.len: the most characters the title may have; 0 = no limit
	NativeVer          string
	NativeHasPhone     bool // the native request asks for a phone data asset (type 8)
	NativeHasTitle     bool // the native request asks for a title asset
	NativePhoneLen     int  // data.len of the phone asset; 0 = no limit
	// NativeWrapped is set when the native request came inside a top-level
	// "native" object (the Native 1.0 form); the response then mirrors it.
	NativeWrapped bool

	Video bool
	Audio bool

	PrivateAuction bool
	Deals          []Deal
}

// Format is one banner size.
type Format struct{ W, H int }

// Deal is one imp.pmp.deals[] entry. BidFloorCur does not inherit from the imp.
type Deal struct {
	ID          string
	BidFloor    float64
	BidFloorCur string
	AT          int
	WSeat       []string // seats allowed to bid on the deal; empty means any
	WADomain    []string // advertiser domains allowed on the deal; empty means any
}
