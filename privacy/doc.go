// Package privacy decodes the consent strings of a bid request: the core
// segment of a TCF v2 TC string (user.consent), the header and the US
// sections of a GPP string (regs.gpp), and the US Privacy string.
//
// It owns only decoding: what to do with a signal is the bidder's policy
// (bidder/policy.go). Every function reads its string in place, bit by bit
// from the base64url text, and allocates nothing, so the bid path can call
// it on every request that carries a signal. Errors are sentinel values
// (ErrMalformed, ErrUnsupported) for the same reason. The package has no
// state; any goroutine may call it.
//
// Bit layouts: a TC string's core segment is version(6) created(36)
// updated(36) cmp_id(12) cmp_version(12) screen(6) language(12)
// vendor_list_version(12) policy_version(6) service_specific(1)
// non_standard_stacks(1) special_features(12) purpose_consents(24)
// purpose_li(24) purpose_one_treatment(1) publisher_cc(12), then the vendor
// consents: max_vendor_id(16) is_range(1) and either a bitfield of
// max_vendor_id bits or num_entries(12) entries of is_range(1) start(16)
// [end(16)]. A GPP string is header~section~section…; the header is
// type(6)=3 version(6) and the section ids as a Range(Fibonacci), and the
// sections follow in the order of their ids.
package privacy
