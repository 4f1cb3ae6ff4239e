//go:build !race

package ccsim

const raceEnabled = false
