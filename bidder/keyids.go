package bidder

import (
	"slices"
)

// Request keys as small ids. Campaign sets and multipliers keyed by
// publisher, site, domain, bundle, country and region are compiled into
// sorted id lists against two snapshot dictionaries (lower and upper case
// keys); a request looks each of its keys up once (reqKeys.intern), and a
// campaign then searches a few integers instead of hashing the key into its
// own map: with configs/bench.yaml's targeting that was seven string-map
// lookups per campaign and request.

// keyDict numbers the folded keys of a snapshot's campaigns from 1; 0 is
// a key no campaign names.
type keyDict map[string]uint32

func (d keyDict) id(k string) uint32 {
	if k == "" || len(d) == 0 {
		return 0
	}
	return d[k]
}

func (d keyDict) add(k string) uint32 {
	id, ok := d[k]
	if !ok {
		id = uint32(len(d) + 1)
		d[k] = id
	}
	return id
}

// idSet is a set of key ids; on says it was configured (a nil map before).
type idSet struct {
	ids []uint32 // sorted
	on  bool
}

func newIDSet(d keyDict, m map[string]struct{}) idSet {
	if m == nil {
		return idSet{}
	}
	s := idSet{on: true, ids: make([]uint32, 0, len(m))}
	for k := range m {
		s.ids = append(s.ids, d.add(k))
	}
	slices.Sort(s.ids)
	return s
}

func (s *idSet) has(id uint32) bool {
	if id == 0 {
		return false
	}
	return searchID(s.ids, id) >= 0
}

// idMults are multipliers by key id.
type idMults struct {
	ids  []uint32 // sorted
	vals []float64
	on   bool // configured (a non-empty map before)
}

func newIDMults(d keyDict, m map[string]float64) idMults {
	if len(m) == 0 {
		return idMults{}
	}
	r := idMults{on: true, ids: make([]uint32, 0, len(m))}
	for k := range m {
		r.ids = append(r.ids, d.add(k))
	}
	slices.Sort(r.ids)
	r.vals = make([]float64, len(r.ids))
	for k, v := range m {
		i := searchID(r.ids, d[k])
		r.vals[i] = v
	}
	return r
}

func (m *idMults) get(id uint32) (float64, bool) {
	if id == 0 {
		return 0, false
	}
	if i := searchID(m.ids, id); i >= 0 {
		return m.vals[i], true
	}
	return 0, false
}

// searchID is the index of id in sorted ids, or -1.
func searchID(ids []uint32, id uint32) int {
	if len(ids) <= 8 {
		for i, x := range ids {
			if x == id {
				return i
			}
		}
		return -1
	}
	if i, ok := slices.BinarySearch(ids, id); ok {
		return i
	}
	return -1
}

// keyIDs are a campaign's keyed sets and multipliers by id (internKeys).
type keyIDs struct {
	pubAllow, pubBlock, countries, regions                   idSet
	pubMult, domainMult, bundleMult, countryMult, regionMult idMults
}

// internKeys numbers every campaign's keys into the snapshot's two
// dictionaries and compiles each campaign's id lists.
func (s *snapshot) internKeys() {
	s.lowerKeys, s.upperKeys = keyDict{}, keyDict{}
	lo, up := s.lowerKeys, s.upperKeys
	for _, c := range s.campaigns {
		c.ids = keyIDs{pubAllow: newIDSet(lo, c.pubAllow), pubBlock: newIDSet(lo, c.pubBlock),
			countries: newIDSet(up, c.countries), regions: newIDSet(up, c.regions),
			pubMult: newIDMults(lo, c.pubMult), domainMult: newIDMults(lo, c.domainMult), bundleMult: newIDMults(lo, c.bundleMult),
			countryMult: newIDMults(up, c.countryMult), regionMult: newIDMults(up, c.regionMult)}
	}
}

// reqIDs are the request's keys as ids of the snapshot's dictionaries.
type reqIDs struct {
	pub, site, domain, bundle, country, region uint32
}

func (k *reqKeys) intern(s *snapshot) reqIDs {
	lo, up := s.lowerKeys, s.upperKeys
	return reqIDs{pub: lo.id(k.pub), site: lo.id(k.site), domain: lo.id(k.domain), bundle: lo.id(k.bundle),
		country: up.id(k.country), region: up.id(k.region)}
}

// pubHit: the publisher, site, domain or bundle is in set.
func (r *reqIDs) pubHit(set *idSet) bool {
	return set.has(r.pub) || set.has(r.site) || set.has(r.domain) || set.has(r.bundle)
}
