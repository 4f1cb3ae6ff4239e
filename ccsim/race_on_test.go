//go:build race

package ccsim

const raceEnabled = true
