// Package openrtb owns callbid's view of the OpenRTB 2.5/2.6 wire format:
//
//   - Decoder: selective, allocation-free decoding of bid requests
//     (AcquireDecoder, Decode, ReleaseDecoder): one pass over the bytes
//     that reads only the fields in Request, from both the 2.6 top-level
//     and the 2.5 ext locations, validates them, and skips everything else
//     without building values (skipped parts are still validated as JSON,
//     fully: structure, escapes, numbers, literals; NaN/Inf tokens lex as
//     numbers as they did under fastjson, and UTF-8 is not checked). Every
//     error wraps
//     ErrMalformed (the exchange gets 400). Strings in a Request point into
//     the Decoder's copy of the body and are valid until ReleaseDecoder.
//     BenchmarkDecode compares it with encoding/json into prebid's
//     openrtb2.BidRequest, which FuzzDecodeOracle uses as the oracle.
//   - Deadline: the time to answer, from tmax.
//   - NoBidReason: OpenRTB's codes and callbid's 500–504, with metric labels.
//   - Response encoding: AppendResponse / AppendNoBidResponse append JSON
//     to a caller's buffer.
//
// Goroutines: none of its own. A Decoder and the Request it returns belong
// to one request goroutine at a time; they come from a pool and go back to
// it. The Append* functions only write to the buffer they are given.
package openrtb
