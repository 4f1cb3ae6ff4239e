package openrtb

import "github.com/prebid/openrtb/v20/openrtb3"

// NoBidReason is why callbid did not bid: OpenRTB's own codes are
// openrtb3's (OpenRTB 3.0 "No-Bid Reason Codes", referenced by 2.6), and
// 500–504 are callbid's, agreed with exchanges that take nbr responses
// (README, "No-bid reasons"). A no-bid is a result, never an error.
type NoBidReason = openrtb3.NoBidReason

// callbid's no-bid reason codes (the 500+ range OpenRTB leaves to the
// parties).
const (
	NBRNoHeadroom     NoBidReason = 500 // no skilled-agent headroom
	NBRCapacityStale  NoBidReason = 501 // capacity feed stale
	NBRPoolExhausted  NoBidReason = 502 // tracking-number pool exhausted
	NBRBelowFloor     NoBidReason = 503 // price after scaling below floor
	NBRBlockedTraffic NoBidReason = 504 // invalid-traffic list, bcat/badv/bapp, coppa
)

// NoBidLabel returns a snake_case label for r for metrics and logs. Codes
// without a name give "other", so a label set stays bounded whatever the
// value.
func NoBidLabel(r NoBidReason) string {
	switch r {
	case openrtb3.NoBidUnknownError:
		return "unknown"
	case openrtb3.NoBidTechnicalError:
		return "technical_error"
	case openrtb3.NoBidInvalidRequest:
		return "invalid_request"
	case openrtb3.NoBidCrawler:
		return "known_web_crawler"
	case openrtb3.NoBidNonHuman:
		return "suspected_non_human"
	case openrtb3.NoBidProxy:
		return "cloud_data_center"
	case openrtb3.NoBidUnsupportedDevice:
		return "unsupported_device"
	case openrtb3.NoBidBlockedPublisher:
		return "blocked_publisher"
	case openrtb3.NoBidUnmatchedUser:
		return "unmatched_user"
	case openrtb3.NoBidDailyUserCap:
		return "daily_user_cap"
	case openrtb3.NoBidDailyDomainCap:
		return "daily_domain_cap"
	case openrtb3.NoBidAuthorizationUnavailable:
		return "ads_txt_unavailable"
	case openrtb3.NoBidAuthorizationViolation:
		return "ads_txt_violation"
	case openrtb3.NoBidAuthenticationUnavailable:
		return "ads_cert_unavailable"
	case openrtb3.NoBidAuthenticationViolation:
		return "ads_cert_violation"
	case openrtb3.NoBidInsufficientTime:
		return "insufficient_time"
	case openrtb3.NoBidIncompleteSupplyChain:
		return "incomplete_supply_chain"
	case openrtb3.NoBidBlockedSupplyChainNode:
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
