// Package creative owns the ad markup callbid answers with: creative
// Templates ({{number}}, {{tel_uri}}, …) compiled once at config load, the
// default HTML banner, Native 1.2 phone-asset markup, and InsecureURL for
// secure=1 imps.
//
// Goroutines: none of its own. A Template is immutable after ParseTemplate
// and safe for concurrent use. The Append* functions only write to the
// buffer they are given and do not allocate in steady state
// (TestRenderAllocs).
package creative
