// Package openrtb owns callbid's view of the OpenRTB 2.5/2.6 wire format:
// selective decoding of bid requests (both 2.5 ext and 2.6 top-level
// locations), validation, the deadline from tmax, substitution macros, ad
// markup rendering (HTML banner and Native 1.2 phone asset), no-bid reasons and
// response encoding.
//
// Goroutines: none of its own. A Decoder and the Request it returns belong to
// one request goroutine at a time; they come from a pool and go back to it.
package openrtb
