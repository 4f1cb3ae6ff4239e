package numbers

import (
	"bytes"
	"errors"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// Lease records on events.TopicLeases (compacted, keyed by number or
// number;ext=N) carry the entry's whole state (events.Lease, written by
// events.AppendLease), so the latest record per key is enough to rebuild it.
// Holds are recorded off the bid path by LogHolds, a few ms after the bid.

// publishLease publishes entry i's current state; the caller holds the
// entry's shard lock (the shard's scratch buffers are reused).
func (p *Pools) publishLease(s *shard, i int32, ani string) {
	if p.pub == nil && p.leases == nil {
		return
	}
	if p.leases != nil && p.leaseSeq[i] == holdBatched {
		// Its hold sits in a batch LogHolds has not written yet: that goes
		// first, so this record stays after it in the log.
		p.flushHoldBatches()
	}
	e164, ext := p.numberOf(i)
	s.key = appendLeaseKey(s.key[:0], e164, ext)
	var l events.Lease
	p.leaseRecord(i, ani, &l)
	b := events.AppendLease(s.scratch[:0], &l)
	s.scratch = b
	if p.leases != nil {
		seq := p.leases.Append(s.key, b)
		if seq == 0 {
			seq = unwritten
			p.leaseDrops.Add(1)
		}
		p.leaseSeq[i] = seq
		return
	}
	if !p.pub.Publish(events.TopicLeases, s.key, b) {
		p.leaseDrops.Add(1)
	}
}

// leaseRecord fills l with entry i's current state; the caller holds the
// entry's shard lock.
func (p *Pools) leaseRecord(i int32, ani string, l *events.Lease) {
	e := &p.entries[i]
	*l = events.Lease{Owner: p.instance, Pool: p.poolOf(i).id, Gen: e.gen, State: stateNames[e.state],
		ReservedAt: e.reservedAt, Flags: e.flags}
	if e.state == stParked {
		l.State = events.LeaseFree // parked is a free entry another instance owns
	}
	if l.State != events.LeaseFree {
		l.WonAt, l.LeaseEnd = e.wonAt, e.leaseEnd
		l.Campaign, l.Publisher = p.ids.name(e.campaign), p.ids.name(e.publisher)
		l.Exchange, l.Skill = p.small.name(uint32(e.exchange)), p.small.name(uint32(e.skill))
		l.RequestID, l.ImpID, l.BidID, l.SiteOrApp = e.ids(p.shardOf(p.poolOf(i), i).buf(e))
		l.PriceMicros, l.IPHash, l.IFAHash = e.price, e.ipHash, e.ifaHash
		p.leaseExtra(l, e)
		l.ANI = ani
	}
}

func appendLeaseKey(b []byte, e164, ext string) []byte {
	b = append(b, e164...)
	if ext != "" {
		b = append(b, ";ext="...)
		b = append(b, ext...)
	}
	return b
}

// entryOf finds the entry of a number and extension ("" for none); ext is
// ignored for a plain number.
func (p *Pools) entryOf(num, ext []byte) (int32, bool) {
	ni, ok := p.byNumber[string(num)]
	if !ok {
		return -1, false
	}
	var x int64 = -1
	if len(ext) > 0 {
		if len(ext) > 9 {
			return -1, false
		}
		x = 0
		for _, c := range ext {
			if c < '0' || c > '9' {
				return -1, false
			}
			x = x*10 + int64(c-'0')
		}
	}
	for _, ri := range ni.ranges {
		r := &p.ranges[ri]
		if r.from < 0 {
			return r.lo, true
		}
		if x >= r.from && x < r.from+int64(r.n) {
			return r.lo + int32(x-r.from), true
		}
	}
	return -1, false
}

var errLeaseRecord = errors.New("lease record is malformed")

// ApplyLeaseEvent replays one events.TopicLeases record (the latest per key
// wins; ended leases are ignored). The lead's consumer replays the topic with
// it before /readyz turns ready. Records this process published itself are
// skipped, so following the topic after replay changes nothing. Bad records
// are counted and skipped.
func (p *Pools) ApplyLeaseEvent(msg kafkaio.Message) {
	if err := p.applyLease(msg.Key, msg.Value, p.clockNow()); err != nil {
		p.badLeaseEvent.Add(1)
	}
}

func (p *Pools) applyLease(key, val []byte, now time.Time) error {
	if events.IsHoldBatchKey(key) {
		return p.applyHoldBatch(key, val, now)
	}
	if bytes.HasPrefix(val, p.ownPrefix) {
		// This process's own record: skipped before parsing, since the
		// topic is followed at the bid rate.
		p.leaseIgnored.Add(1)
		return nil
	}
	p.leaseDecMu.Lock()
	defer p.leaseDecMu.Unlock()
	if p.leaseDec == nil {
		p.leaseDec = events.NewDecoder[events.Lease]()
	}
	v, err := p.leaseDec.Decode(val, events.Limits{})
	if err != nil {
		return errLeaseRecord
	}
	return p.applyLeaseRecord(key, v, now)
}

// entryOfKey finds the entry of a lease key (number or number;ext=N).
func (p *Pools) entryOfKey(key []byte) (int32, bool) {
	num, ext := key, []byte(nil)
	if k := bytes.Index(key, []byte(";ext=")); k >= 0 {
		num, ext = key[:k], key[k+5:]
	}
	return p.entryOf(num, ext)
}

// applyLeaseRecord applies decoded lease record v of key (a record of its
// own, or an item of a hold batch). v's strings need only live until it
// returns.
func (p *Pools) applyLeaseRecord(key []byte, v *events.Lease, now time.Time) error {
	i, ok := p.entryOfKey(key)
	if !ok {
		return errLeaseRecord // number no longer configured
	}
	if v.Owner == p.instance {
		p.leaseIgnored.Add(1)
		return nil
	}
	p.otherHold(v, now)
	st, gen := v.State, v.Gen
	t := now.UnixNano()
	pl := p.poolOf(i)
	s := p.shardOf(pl, i)
	res, fl := v.ReservedAt, v.Flags
	var sticky *attribution
	var ani string
	s.mu.Lock()
	e := &p.entries[i]
	if p.own.Load() != nil && p.staleShared(i, gen, st) {
		s.mu.Unlock()
		p.leaseIgnored.Add(1)
		return nil
	}
	if !p.Replaying() && !p.previousProcess(e.gen) {
		// A number this process reserves. (While replaying, every record
		// comes from the log: a later one replaces it.)
		ignore := false
		if o := p.own.Load(); o == nil {
			// One instance: its live hold settles by notice or expiry.
			ignore = e.state == stHeld
		} else if o.has(i) {
			// Shared pools: another instance that took a notice for this
			// very reservation (same generation) logs the outcome here: a
			// lease (or its cooldown), or the loss of a hold; never back
			// from a lease. A record of an older generation is a late
			// notice; generations of an owned number only move forward.
			// A newer reservation (held, leased, cooldown) replaces a hold:
			// the hold may be the previous owner's, replicated before this
			// instance gained the partition and freed there without a
			// record (a loss at the owner), and the newer one is what the
			// previous owner did next, written before it gave the partition
			// up; kept back, the number would go to a second impression once
			// the stale hold ended (takeover_test.go). Only a newer free
			// record leaves a hold alone: the hold ends by itself.
			sameLater := gen == e.gen && (st == "leased" || st == "cooldown" || (st == "free" && e.state == stHeld))
			ignore = int32(gen-e.gen) < 0 || (gen == e.gen && !sameLater) || (e.state == stHeld && gen != e.gen && st == events.LeaseFree)
		}
		if ignore {
			s.mu.Unlock()
			p.leaseIgnored.Add(1)
			return nil
		}
	}
	// Shared pools: another instance leased this instance's live hold. Its
	// lease record may sit before this instance's hold record in the
	// partition, and compaction keeps only the last record of a key, so the
	// owner writes the lease again, after its hold record (one producer
	// writes in order).
	relog := p.own.Load() != nil && e.state == stHeld && gen == e.gen && (st == "leased" || st == "cooldown") &&
		p.owns(i) && !p.Replaying()
	s.remove(p.entries, i)
	e.gen = gen
	p.noteReplayedGen(i, gen, res, t)
	p.replayed[i/64] |= 1 << (i % 64)
	end := v.LeaseEnd
	switch {
	case st == "held":
		// A hold of an earlier process: a win for it after the restart
		// leases it; if the hold has ended, the number is free but keeps
		// the generation and attribution, as an expired hold does.
		e.reservedAt, e.wonAt, e.leaseEnd = res, 0, 0
		e.flags = fl&fData | fHoldLogged // no data: a quarantine hold
		p.replayClaim(s, e, v)
		if t < res+pl.hold {
			s.insertSorted(p.entries, stHeld, i)
		} else {
			s.pushTail(p.entries, stFree, i)
		}
	case (st == "leased" || st == "cooldown") && t < end+pl.cooldown:
		e.reservedAt, e.wonAt, e.leaseEnd = res, v.WonAt, end
		e.flags = fl | fData | fLeased | fHoldLogged
		p.replayClaim(s, e, v)
		if t < end {
			s.insertSorted(p.entries, stLeased, i)
		} else {
			s.insertSorted(p.entries, stCooldown, i)
		}
		if v.ANI != "" && e.flags&fCalled != 0 {
			ani = v.ANI
			sticky = p.snapshot(i)
		}
	default:
		// free, or a lease that has ended its cooldown: the number is free.
		// It remembers whether this generation was leased, so a repeated
		// win for it is a duplicate, not a late lease.
		e.flags = fl & (fLeased | fBilled)
		s.pushTail(p.entries, stFree, i)
	}
	if relog {
		p.publishLease(s, i, ani)
	}
	s.mu.Unlock()
	p.leaseApplied.Add(1)
	if sticky != nil {
		p.calls.mu.Lock()
		p.calls.addSticky(i, ani, sticky, end+pl.lease+pl.cooldown)
		p.calls.mu.Unlock()
	}
	return nil
}

// replayClaim copies a lease record's attribution into e; the caller holds
// the entry's shard lock.
func (p *Pools) replayClaim(s *shard, e *entry, v *events.Lease) {
	e.campaign = p.ids.id(v.Campaign)
	e.publisher = p.ids.id(v.Publisher)
	e.exchange = uint16(p.small.id(v.Exchange))
	e.skill = uint16(p.small.id(v.Skill))
	req, imp, bid, site := v.RequestID, v.ImpID, v.BidID, v.SiteOrApp
	req, imp, bid = req[:min(len(req), 1024)], imp[:min(len(imp), 1024)], bid[:min(len(bid), 1024)]
	site = site[:min(len(site), 1024)]
	setBuf(s, e, req, imp, bid, site)
	e.price = v.PriceMicros
	e.ipHash, e.ifaHash = v.IPHash, v.IFAHash
	p.replayClaimExtra(e, v)
}

// keyString renders an entry's lease key (tests and admin).
func (p *Pools) keyString(i int32) string {
	e164, ext := p.numberOf(i)
	return string(appendLeaseKey(nil, e164, ext))
}
