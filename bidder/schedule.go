package bidder

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Campaign controls a campaign manager sets by hand: status, flight dates,
// a total budget, the campaign's own time zone and a day × hour grid of
// multipliers. They are compiled into the snapshot; the bid path reads a
// [7][24] array and two instants.

// FlightTime is a campaign's start or end: RFC 3339 ("2026-12-01T08:00:00Z"),
// or a local date-time / date ("2026-12-01 08:00", "2026-12-01") read in the
// campaign's time zone. Empty means open.
type FlightTime string

var flightLayouts = []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"}

// parse resolves t in loc; zero time when empty.
func (t FlightTime) parse(loc *time.Location) (time.Time, error) {
	s := strings.TrimSpace(string(t))
	if s == "" {
		return time.Time{}, nil
	}
	if v, err := time.Parse(time.RFC3339, s); err == nil {
		return v, nil
	}
	for _, l := range flightLayouts {
		if v, err := time.ParseInLocation(l, s, loc); err == nil {
			return v, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (RFC 3339, \"2006-01-02 15:04\" or \"2006-01-02\")", s)
}

// validateControls checks status, flight, total budget, time zone and the
// new multiplier maps of one campaign.
func validateControls(p string, cc *CampaignConfig, add func(path, format string, args ...any)) {
	switch cc.Status {
	case "", "active", "paused":
	default:
		add(p+".status", "%q must be active or paused", cc.Status)
	}
	loc := time.UTC
	if cc.TimeZone != "" {
		l, err := time.LoadLocation(cc.TimeZone)
		if err != nil {
			add(p+".time_zone", "%q is not a known time zone", cc.TimeZone)
		} else {
			loc = l
		}
	}
	start, err1 := cc.Start.parse(loc)
	if err1 != nil {
		add(p+".start", "%v", err1)
	}
	end, err2 := cc.End.parse(loc)
	if err2 != nil {
		add(p+".end", "%v", err2)
	}
	if err1 == nil && err2 == nil && !start.IsZero() && !end.IsZero() && !end.After(start) {
		add(p+".end", "must be after start (%s)", cc.Start)
	}
	if cc.TotalBudget < 0 {
		add(p+".total_budget", "must not be negative")
	}
	if cc.BudgetReserveWindow > time.Minute {
		add(p+".budget_reserve_window", "must be at most 1m")
	}
	if cc.TotalBudget > 0 && cc.DailyBudget > cc.TotalBudget {
		add(p+".daily_budget", "is above total_budget (%s)", cc.TotalBudget)
	}
	m := &cc.Multipliers
	checkMult := func(path string, v float64) {
		if !(v >= 0) || v > 100 {
			add(path, "multiplier must be in [0, 100], not %g", v)
		}
	}
	if _, err := compileSchedule(m.Schedule); err != nil {
		add(p+".multipliers.schedule", "%v", err)
	}
	for _, k := range sortedKeys(m.Schedule) {
		checkMult(p+".multipliers.schedule."+k, m.Schedule[k])
	}
	for _, k := range sortedKeys(m.Exchange) {
		checkMult(p+".multipliers.exchange."+k, m.Exchange[k])
	}
	for _, k := range sortedKeys(m.Domain) {
		checkMult(p+".multipliers.domain."+k, m.Domain[k])
	}
	for _, k := range sortedKeys(m.AppBundle) {
		checkMult(p+".multipliers.app_bundle."+k, m.AppBundle[k])
	}
	for _, k := range sortedKeys(m.Size) {
		if _, _, ok := parseSize(k); !ok {
			add(p+".multipliers.size."+k, "size must be WxH like 300x250")
			continue
		}
		checkMult(p+".multipliers.size."+k, m.Size[k])
	}
}

// parseSize reads "300x250".
func parseSize(s string) (int, int, bool) {
	ws, hs, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "x")
	if !ok {
		return 0, 0, false
	}
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil || w <= 0 || h <= 0 || w > 10000 || h > 10000 {
		return 0, 0, false
	}
	return w, h, true
}

// scheduleGrid is the day × hour multiplier; index [weekday][hour].
type scheduleGrid [7][24]float64

// compileSchedule turns keys like "mon-fri 8-11", "sat,sun", "* 20-23",
// "fri-mon 22-2" (ranges wrap) into a grid. Days: mon…sun, a range, a
// comma list, or "*"; hours: 0-23, an inclusive range, a comma list, "*" or
// nothing (the whole day). A cell named by two keys is an error, so a
// manager never has to guess which wins.
func compileSchedule(m map[string]float64) (*scheduleGrid, error) {
	if len(m) == 0 {
		return nil, nil
	}
	g := &scheduleGrid{}
	var owner [7][24]string
	for d := range g {
		for h := range g[d] {
			g[d][h] = 1
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		days, hours, err := parseCell(k)
		if err != nil {
			return nil, err
		}
		for _, d := range days {
			for _, h := range hours {
				if o := owner[d][h]; o != "" {
					return nil, fmt.Errorf("%q and %q both set %s %d:00", o, k, time.Weekday(d).String()[:3], h)
				}
				owner[d][h] = k
				g[d][h] = m[k]
			}
		}
	}
	return g, nil
}

func parseCell(k string) (days, hours []int, err error) {
	f := strings.Fields(strings.ToLower(k))
	if len(f) == 0 || len(f) > 2 {
		return nil, nil, fmt.Errorf("%q must be \"<days> [<hours>]\" like \"mon-fri 8-11\"", k)
	}
	days, err = parseList(f[0], 7, func(s string) (int, bool) {
		d, ok := weekdays[s]
		return int(d), ok
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%q: days: %v (mon…sun, a range or *)", k, err)
	}
	hs := "*"
	if len(f) == 2 {
		hs = f[1]
	}
	hours, err = parseList(hs, 24, func(s string) (int, bool) {
		v, err := strconv.Atoi(s)
		return v, err == nil && v >= 0 && v <= 23
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%q: hours: %v (0-23, an inclusive range or *)", k, err)
	}
	return days, hours, nil
}

// parseList reads "*", "a", "a-b" (wrapping modulo n) and comma lists of them.
func parseList(s string, n int, one func(string) (int, bool)) ([]int, error) {
	if s == "*" {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	var out []int
	seen := make([]bool, n)
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok := one(a)
		if !ok {
			return nil, fmt.Errorf("%q is not valid", a)
		}
		to := from
		if isRange {
			if to, ok = one(b); !ok {
				return nil, fmt.Errorf("%q is not valid", b)
			}
		}
		for i := from; ; i = (i + 1) % n {
			if !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
			if i == to {
				break
			}
		}
	}
	return out, nil
}

// sizeKey packs a creative size for the size multiplier.
func sizeKey(w, h int) uint32 { return uint32(w)<<16 | uint32(h)&0xffff }
