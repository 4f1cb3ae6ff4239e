package events

import (
	"math"

	"github.com/callbid/callbid/jsonr"
)

// lease decodes a callbid.leases.v1 value with jsonr: the log is
// followed at the bid rate when several instances share the pools. The
// strings are copied in one allocation; the []byte fields point into d.raw.
func (d *decoder) lease(b []byte, ev *Lease, l Limits) error {
	*ev = Lease{}
	v, err := parseObject(&d.p, b)
	if err != nil {
		return err
	}
	f := &d.f
	f.reset()
	f.str(v, "o", &ev.Owner)
	f.str(v, "pool", &ev.Pool)
	f.str(v, "st", &ev.State, LeaseHeld, LeaseLeased, LeaseCooldown, LeaseFree)
	var gen, fl, dt, ip, ifa uint64
	unsigned(f, v, "gen", math.MaxUint32, &gen)
	unsigned(f, v, "fl", math.MaxUint8, &fl)
	unsigned(f, v, "dt", math.MaxUint8, &dt)
	unsigned(f, v, "ip", math.MaxUint64, &ip)
	unsigned(f, v, "ifa", math.MaxUint64, &ifa)
	ev.Gen, ev.Flags, ev.DeviceType, ev.IPHash, ev.IFAHash = uint32(gen), uint8(fl), uint8(dt), ip, ifa
	f.int64(v, "res", &ev.ReservedAt)
	f.int64(v, "won", &ev.WonAt)
	f.int64(v, "end", &ev.LeaseEnd)
	f.int64(v, "pr", &ev.PriceMicros)
	f.int64(v, "cp", &ev.ClearingMicros)
	f.str(v, "c", &ev.Campaign)
	f.str(v, "p", &ev.Publisher)
	f.str(v, "x", &ev.Exchange)
	f.str(v, "k", &ev.Skill)
	f.str(v, "crid", &ev.Creative)
	f.str(v, "cur", &ev.Currency)
	f.str(v, "cc", &ev.Country)
	f.str(v, "rg", &ev.Region)
	f.str(v, "ani", &ev.ANI)
	// r, i, b, sa: bytes the pools copy into the entry, so not strings.
	var spans [4][2]int
	d.raw = d.raw[:0]
	for k, name := range [4]string{"r", "i", "b", "sa"} {
		x := get(v, name)
		if !x.Exists() {
			continue
		}
		s, ok := x.StringBytes()
		if !ok {
			f.fail(name, "a string")
			continue
		}
		s = s[:min(len(s), MaxIDBytes*4)]
		spans[k] = [2]int{len(d.raw), len(d.raw) + len(s)}
		d.raw = append(d.raw, s...)
	}
	if f.err != nil {
		return f.err
	}
	f.strs()
	ev.RequestID = d.raw[spans[0][0]:spans[0][1]:spans[0][1]]
	ev.ImpID = d.raw[spans[1][0]:spans[1][1]:spans[1][1]]
	ev.BidID = d.raw[spans[2][0]:spans[2][1]:spans[2][1]]
	ev.SiteOrApp = d.raw[spans[3][0]:spans[3][1]:spans[3][1]]
	return ev.Check(l)
}

// impression decodes a callbid.impressions.v1 value with jsonr: the
// topic is replayed at start by two readers (hit rates and budgets).
func (d *decoder) impression(b []byte, ev *Impression, l Limits) error {
	*ev = Impression{}
	v, err := parseObject(&d.p, b)
	if err != nil {
		return err
	}
	f := &d.f
	f.reset()
	f.str(v, "bid_id", &ev.BidID)
	f.str(v, "kind", &ev.Kind, ImpressionWin, ImpressionBill, ImpressionLoss)
	f.str(v, "campaign_id", &ev.CampaignID)
	f.str(v, "publisher_id", &ev.PublisherID)
	f.str(v, "exchange", &ev.Exchange)
	f.str(v, "skill", &ev.Skill)
	f.int64(v, "price_micros", &ev.PriceMicros)
	f.str(v, "currency", &ev.Currency)
	f.time(v, "at", &ev.At)
	unsigned(f, v, "ip_hash", math.MaxUint64, &ev.IPHash)
	unsigned(f, v, "ifa_hash", math.MaxUint64, &ev.IFAHash)
	f.str(v, "channel", &ev.Channel, "voice", "chat", "sms", "callback")
	if f.err != nil {
		return f.err
	}
	f.strs()
	return ev.Check(l)
}

// unsigned reads a non-negative integer no larger than hi.
func unsigned(f *fields, v jsonr.Value, name string, hi uint64, dst *uint64) {
	x := get(v, name)
	if !x.Exists() {
		return
	}
	n, ok := x.Uint64()
	if !ok || n > hi {
		f.fail(name, "an integer in range")
		return
	}
	*dst = n
}

func (ev *Lease) decode(d *decoder, b []byte, l Limits) error { return d.lease(b, ev, l) }
func (ev *Tally) decode(_ *decoder, b []byte, l Limits) error {
	*ev = Tally{}
	return jsonRecord(b, ev, l)
}
func (ev *Demand) decode(_ *decoder, b []byte, l Limits) error {
	*ev = Demand{}
	return jsonRecord(b, ev, l)
}

func (*Lease) topic() string  { return TopicLeases }
func (*Tally) topic() string  { return TopicBids }
func (*Demand) topic() string { return TopicDemand }

// DecodeLease parses and checks one callbid.leases.v1 value; the []byte
// fields get their own copy.
func DecodeLease(b []byte, ev *Lease) error {
	return decodeWith(b, func(d *decoder) error { return d.lease(b, ev, Limits{}) })
}

// DecodeTally parses and checks one callbid.bids.v1 value.
func DecodeTally(b []byte, ev *Tally) error { return ev.decode(nil, b, Limits{}) }

// DecodeDemand parses and checks one callbid.demand.v1 value.
func DecodeDemand(b []byte, ev *Demand) error { return ev.decode(nil, b, Limits{}) }
