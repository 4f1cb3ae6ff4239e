//go:build race

package hitrate

const raceEnabled = true
