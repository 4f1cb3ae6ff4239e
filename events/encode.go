package events

import (
	"math"
	"strconv"
	"time"

	"github.com/callbid/callbid/jsonw"
)

// The Append functions write callbid's own records as JSON into a buffer
// the caller owns, with the escaping of package jsonw: no reflection and no
// allocation beyond growing dst, so the notice handler and the pools can
// write them on their own paths. What they write meets docs/schemas/ (the
// docs tests validate it) and decodes back to an equal value.

// AppendLease appends l as a callbid.leases.v1 value. "o" is written first,
// so a process can recognise its own records by prefix (OwnPrefix) without
// parsing them.
func AppendLease(b []byte, l *Lease) []byte {
	b = OwnPrefix(b, l.Owner)
	b = appendStr(b, "pool", l.Pool)
	b = appendUint(b, "gen", uint64(l.Gen))
	b = appendStr(b, "st", l.State)
	b = appendInt(b, "res", l.ReservedAt)
	b = appendUint(b, "fl", uint64(l.Flags))
	if l.State != LeaseFree {
		b = appendInt(b, "won", l.WonAt)
		b = appendInt(b, "end", l.LeaseEnd)
		b = appendStr(b, "c", l.Campaign)
		b = appendStr(b, "p", l.Publisher)
		b = appendStr(b, "x", l.Exchange)
		b = appendStr(b, "k", l.Skill)
		b = appendBytes(b, "r", l.RequestID)
		b = appendBytes(b, "i", l.ImpID)
		b = appendBytes(b, "b", l.BidID)
		b = appendBytes(b, "sa", l.SiteOrApp)
		b = appendInt(b, "pr", l.PriceMicros)
		b = appendUint(b, "ip", l.IPHash)
		b = appendUint(b, "ifa", l.IFAHash)
		b = appendStr(b, "crid", l.Creative)
		b = appendStr(b, "cur", l.Currency)
		b = appendStr(b, "cc", l.Country)
		b = appendStr(b, "rg", l.Region)
		b = appendUint(b, "dt", uint64(l.DeviceType))
		b = appendInt(b, "cp", l.ClearingMicros)
		if l.ANI != "" {
			b = appendStr(b, "ani", l.ANI)
		}
	}
	return append(b, '}')
}

// OwnPrefix appends how every lease record of instance owner begins
// (`{"o":"<owner>"`): a process following the lease log skips its own
// records by this prefix, before parsing them.
func OwnPrefix(b []byte, owner string) []byte {
	b = append(b, `{"o":`...)
	return jsonw.AppendString(b, owner)
}

// AppendImpression appends im as a callbid.impressions.v1 value (the same
// JSON encoding/json writes for Impression).
func AppendImpression(b []byte, im *Impression) []byte {
	b = append(b, `{"bid_id":`...)
	b = jsonw.AppendString(b, im.BidID)
	b = appendStr(b, "kind", im.Kind)
	b = appendStr(b, "campaign_id", im.CampaignID)
	b = appendStr(b, "publisher_id", im.PublisherID)
	b = appendStr(b, "exchange", im.Exchange)
	b = appendStr(b, "skill", im.Skill)
	b = appendInt(b, "price_micros", im.PriceMicros)
	b = appendStr(b, "currency", im.Currency)
	b = appendTime(b, "at", im.At)
	if im.IPHash != 0 {
		b = appendUint(b, "ip_hash", im.IPHash)
	}
	if im.IFAHash != 0 {
		b = appendUint(b, "ifa_hash", im.IFAHash)
	}
	if im.Channel != "" {
		b = appendStr(b, "channel", im.Channel)
	}
	return append(b, '}')
}

// AppendTally appends t as a callbid.bids.v1 value.
func AppendTally(b []byte, t *Tally) []byte {
	b = OwnPrefix(b, t.Instance)
	b = appendTime(b, "at", t.At)
	b = appendInt(b, "seen", t.Seen)
	b = appendInt(b, "bids", t.Bids)
	if len(t.Rows) > 0 {
		b = append(b, `,"rows":[`...)
		for i := range t.Rows {
			r := &t.Rows[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"h":`...)
			b = strconv.AppendInt(b, r.Hour, 10)
			b = appendStr(b, "c", r.Campaign)
			b = appendStr(b, "p", r.Publisher)
			b = appendStr(b, "x", r.Exchange)
			b = appendInt(b, "b", r.Bids)
			if r.Channel != "" {
				b = appendStr(b, "ch", r.Channel)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(t.Demand) > 0 {
		b = append(b, `,"demand":[`...)
		for i := range t.Demand {
			d := &t.Demand[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"s":`...)
			b = jsonw.AppendString(b, d.Skill)
			b = appendInt(b, "start", d.Start)
			b = appendInt(b, "seen", d.Seen)
			b = appendInt(b, "bids", d.Bids)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// AppendDemand appends d as a callbid.demand.v1 value. A number that is not
// finite (which Check rejects) is written as 0, so the output stays JSON.
func AppendDemand(b []byte, d *Demand) []byte {
	b = append(b, `{"skill":`...)
	b = jsonw.AppendString(b, d.Skill)
	b = appendTime(b, "interval_start", d.IntervalStart)
	b = appendTime(b, "interval_end", d.IntervalEnd)
	b = appendInt(b, "requests_seen", d.RequestsSeen)
	b = appendInt(b, "bids", d.Bids)
	b = appendInt(b, "wins", d.Wins)
	b = append(b, `,"spend":{"amount_micros":`...)
	b = strconv.AppendInt(b, d.Spend.AmountMicros, 10)
	b = appendStr(b, "currency", d.Spend.Currency)
	b = append(b, '}')
	b = appendFloat(b, "projected_calls", d.ProjectedCalls)
	b = appendFloat(b, "projected_qualified_calls", d.ProjectedQualifiedCalls)
	b = appendFloat(b, "committed_calls_per_min", d.CommittedCallsPerMin)
	b = appendFloat(b, "pacing_multiplier", d.PacingMultiplier)
	b = appendInt(b, "records_dropped", d.RecordsDropped)
	if len(d.Projection) > 0 {
		b = append(b, `,"projection":[`...)
		for i := range d.Projection {
			p := &d.Projection[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			if p.Channel != "" {
				b = append(b, `"channel":`...)
				b = jsonw.AppendString(b, p.Channel)
				b = append(b, ',')
			}
			b = append(b, `"interval_start":"`...)
			b = p.IntervalStart.AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
			b = appendTime(b, "interval_end", p.IntervalEnd)
			b = appendFloat(b, "calls", p.Calls)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendKey(b []byte, k string) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

func appendStr(b []byte, k, v string) []byte { return jsonw.AppendString(appendKey(b, k), v) }

func appendBytes(b []byte, k string, v []byte) []byte { return jsonw.AppendBytes(appendKey(b, k), v) }

func appendInt(b []byte, k string, v int64) []byte { return strconv.AppendInt(appendKey(b, k), v, 10) }

func appendUint(b []byte, k string, v uint64) []byte {
	return strconv.AppendUint(appendKey(b, k), v, 10)
}

// appendFloat writes v as encoding/json does (shortest form, exponent for
// very large or small values).
func appendFloat(b []byte, k string, v float64) []byte {
	b = appendKey(b, k)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, '0')
	}
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(b, v, 'e', -1, 64)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// appendTime writes t as RFC 3339 with nanoseconds, as encoding/json does;
// the zero time is written too (it reads back as the zero time).
func appendTime(b []byte, k string, t time.Time) []byte {
	b = append(appendKey(b, k), '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
