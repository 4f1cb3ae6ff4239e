// Package prebidserver holds no Go code that callbid runs: it is the Prebid
// Server integration (a bidder-info alias file for Prebid Server Go, a
// generic-alias snippet for Prebid Server Java, the host page README.md and
// run-real-prebid-server.sh), and its tests check those files.
package prebidserver
