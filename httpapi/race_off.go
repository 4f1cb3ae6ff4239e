//go:build !race

package httpapi

// raceBuild: see race_on.go.
const raceBuild = false
