package bidder

import "time"

// localClock is the hour, weekday and budget day (days since 1970-01-01 of
// the local date, as dayIndex) of t in loc, from one zone lookup. The bid
// path needs all three per request (and per campaign with its own time
// zone); t.In(loc).Hour(), .Weekday() and dayIndex looked the zone up three
// times and built a time.Date for the day (TestLocalClock checks they agree).
func localClock(t time.Time, loc *time.Location) (hour int, dow time.Weekday, day int64) {
	_, off := t.In(loc).Zone()
	s := t.Unix() + int64(off)
	day = floorDiv(s, 86400)
	hour = int((s - day*86400) / 3600)
	dow = time.Weekday((day%7 + 7 + 4) % 7) // 1970-01-01 was a Thursday
	return hour, dow, day
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
