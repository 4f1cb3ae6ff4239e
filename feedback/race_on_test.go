//go:build race

package feedback

// raceEnabled shortens the single-goroutine simulation under -race, where
// it is slow and finds nothing: the μ-only run is left to the normal test.
const raceEnabled = true
