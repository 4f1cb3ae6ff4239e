// Package bridge owns cmd/ccbridge's HTTP: the webhook listener (Twilio
// Event Streams and TaskRouter callbacks with X-Twilio-Signature, EventBridge
// API destinations and Genesys relays with an API key) and the admin
// listener (/healthz, /metrics). The ccbridge package maps the bodies
// (HandleJSON, TwilioForm) and imports no fasthttp.
//
// Goroutines: handlers run on fasthttp's worker goroutines and call the
// Bridge, which serialises them.
package bridge
