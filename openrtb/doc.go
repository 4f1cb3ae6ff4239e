// Package openrtb owns callbid's view of the OpenRTB 2.5/2.6 wire format:
//
//   - Decoder: selective, allocation-free decoding of bid requests with a
//     pooled valyala/fastjson parser (AcquireDecoder, Decode,
//     ReleaseDecoder). It reads only the fields in Request, from both the 2.6
//     top-level and the 2.5 ext locations, and validates them; every error
//     wraps ErrMalformed (the exchange gets 400). Strings in a Request point
//     into the Decoder's copy of the body and are valid until
//     ReleaseDecoder. The fastjson approach was chosen by BenchmarkDecode:
//     about 5–6 times faster than encoding/json into prebid's
//     openrtb2.BidRequest, with no allocations against 70–140 per request.
//   - Deadline: the time to answer, from tmax.
//   - Markup: creative Templates ({{number}}, {{tel_uri}}, …), the default
//     HTML banner, Native 1.2 phone-asset markup, and InsecureURL for
//     secure=1 imps.
//   - NoBidReason: OpenRTB's codes and callbid's 500–504, with metric labels.
//   - Response encoding: AppendResponse / AppendNoBidResponse append JSON
//     to a caller's buffer.
//
// Goroutines: none of its own. A Decoder and the Request it returns belong
// to one request goroutine at a time; they come from a pool and go back to
// it. A Template is immutable after ParseTemplate and safe for concurrent
// use. The Append* functions only write to the buffer they are given.
package openrtb
