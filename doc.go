// Package callbid composes the configuration of the whole bidder: one YAML
// file whose sections belong to the packages that use them (campaigns and
// the server to bidder, numbers, capacity, feedback, kafka, simulator), the
// environment overrides deployments use, validation with field paths, and
// the reload watcher. The default configuration, configs/callbid.yaml, is
// embedded so `go run ./cmd/callbid` works on a fresh machine.
//
// Goroutines: Watch runs one goroutine that watches the config file; every
// other function is called from main's goroutine.
package callbid
