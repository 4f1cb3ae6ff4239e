// Package jsonr reads JSON: a strict parser that indexes a document held in
// a []byte in one pass, and typed accessors over the index. It is the reader
// beside jsonw, the writer; package events decodes the records it reads from
// Kafka with it.
//
// A Parser checks the whole document against RFC 8259 before anything is
// read from it, as encoding/json does: literals spelled exactly, numbers in
// JSON's grammar (no NaN, Infinity, leading zeros or '+'), strings with only
// the escapes JSON defines and no raw control characters, nothing after the
// value. A string's escapes are decoded during the parse, \u surrogate pairs
// joined and a lone surrogate read as U+FFFD (as encoding/json does). Bytes
// that are not valid UTF-8 are kept as they are (encoding/json replaces each
// with U+FFFD): a caller that needs valid text checks it. Containers nest at
// most MaxDepth deep and a document is at most MaxBytes long.
//
// An object may repeat a key; Get returns the first member with the key
// (encoding/json keeps the last) and an Iter visits every member in order.
//
// The index is a flat table the Parser reuses, so parsing a document no
// larger than earlier ones allocates nothing; a Value is an index into it.
// Values, and the bytes their accessors return, are valid until the next
// Parse or Reset of their Parser; the Parser keeps the document's bytes
// until then and never changes them.
//
// Goroutines: a Parser and its Values are for one goroutine at a time; the
// package has no other state.
package jsonr
