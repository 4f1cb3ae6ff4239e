package openrtb

// NoBidReason is why callbid did not bid. Values below 500 are OpenRTB's own
// codes (OpenRTB 3.0 "No-Bid Reason Codes", referenced by 2.6); 500–504 are
// callbid's, agreed with exchanges that take nbr responses (CONTRACTS §1).
// A no-bid is a result, never an error.
type NoBidReason uint16

// OpenRTB no-bid reason codes.
const (
	NBRUnknown           NoBidReason = 0
	NBRTechnicalError    NoBidReason = 1
	NBRInvalidRequest    NoBidReason = 2
	NBRKnownWebCrawler   NoBidReason = 3
	NBRSuspectedNonHuman NoBidReason = 4
	NBRCloudDataCenter   NoBidReason = 5
	NBRUnsupportedDevice NoBidReason = 6
	NBRBlockedPublisher  NoBidReason = 7
	NBRUnmatchedUser     NoBidReason = 8
	NBRInsufficientTime  NoBidReason = 15
	NBRNoHeadroom        NoBidReason = 500 // no skilled-agent headroom
	NBRCapacityStale     NoBidReason = 501 // capacity feed stale
	NBRPoolExhausted     NoBidReason = 502 // tracking-number pool exhausted
	NBRBelowFloor        NoBidReason = 503 // price after scaling below floor
	NBRBlockedTraffic    NoBidReason = 504 // invalid-traffic list, bcat/badv/bapp, coppa
)
