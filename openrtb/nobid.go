package openrtb

// NoBidReason is why callbid did not bid. Values below 500 are OpenRTB's own
// codes (OpenRTB 3.0 "No-Bid Reason Codes", referenced by 2.6); 500–504 are
// callbid's, agreed with exchanges that take nbr responses (README, "No-bid reasons").
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

// More OpenRTB no-bid reason codes (OpenRTB 3.0 list, referenced by 2.6).
const (
	NBRDailyUserCap           NoBidReason = 9
	NBRDailyDomainCap         NoBidReason = 10
	NBRAdsTxtUnavailable      NoBidReason = 11
	NBRAdsTxtViolation        NoBidReason = 12
	NBRAdsCertUnavailable     NoBidReason = 13
	NBRAdsCertViolation       NoBidReason = 14
	NBRIncompleteSupplyChain  NoBidReason = 16
	NBRBlockedSupplyChainNode NoBidReason = 17
)

// String returns a snake_case label for metrics and logs. Codes without a
// name give "other", so a label set stays bounded whatever the value.
func (r NoBidReason) String() string {
	switch r {
	case NBRUnknown:
		return "unknown"
	case NBRTechnicalError:
		return "technical_error"
	case NBRInvalidRequest:
		return "invalid_request"
	case NBRKnownWebCrawler:
		return "known_web_crawler"
	case NBRSuspectedNonHuman:
		return "suspected_non_human"
	case NBRCloudDataCenter:
		return "cloud_data_center"
	case NBRUnsupportedDevice:
		return "unsupported_device"
	case NBRBlockedPublisher:
		return "blocked_publisher"
	case NBRUnmatchedUser:
		return "unmatched_user"
	case NBRDailyUserCap:
		return "daily_user_cap"
	case NBRDailyDomainCap:
		return "daily_domain_cap"
	case NBRAdsTxtUnavailable:
		return "ads_txt_unavailable"
	case NBRAdsTxtViolation:
		return "ads_txt_violation"
	case NBRAdsCertUnavailable:
		return "ads_cert_unavailable"
	case NBRAdsCertViolation:
		return "ads_cert_violation"
	case NBRInsufficientTime:
		return "insufficient_time"
	case NBRIncompleteSupplyChain:
		return "incomplete_supply_chain"
	case NBRBlockedSupplyChainNode:
		return "blocked_supply_chain_node"
	case NBRNoHeadroom:
		return "no_headroom"
	case NBRCapacityStale:
		return "capacity_stale"
	case NBRPoolExhausted:
		return "pool_exhausted"
	case NBRBelowFloor:
		return "below_floor"
	case NBRBlockedTraffic:
		return "blocked_traffic"
	}
	return "other"
}
