package numbers

import (
	"fmt"
	"strconv"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
)

// KeysConfig generates the tracking keys of a pool for a chat, sms or
// callback channel (PoolConfig.Channel): Count keys, Prefix followed by a
// zero-padded index ("CH" and 500: CH000 … CH499). A key pool works like a
// number pool — holds, leases, cooldown, the lease log, attribution — with
// the key in place of the number: a cc.call.v1 event whose dnis is the key
// (and channel chat, sms or callback) attributes the session.
type KeysConfig struct {
	Prefix string `yaml:"prefix"`
	Count  int    `yaml:"count"`
}

// setChannel names, on an attribution to pool, the channel of the pool's
// keys (callbid.attribution.v1 "channel"), so the contact counts in that
// channel's hit rates and reports; a pool of numbers leaves it empty.
func (p *Pools) setChannel(ev *events.Attribution, pool int32) {
	if pool >= 0 && int(pool) < len(p.pools) && p.pools[pool].cfg.keyPool() {
		ev.Channel = p.pools[pool].cfg.Channel
	}
}

// maxKeyBytes fits keys in a cc.call.v1 dnis.
const maxKeyBytes = 32

// keyPool reports whether p holds tracking keys rather than numbers.
func (p *PoolConfig) keyPool() bool { return p.Channel != "" && p.Channel != "voice" }

// entries is the pool's configured numbers, or for a key pool its keys
// (listed in numbers, plus the generated ones).
func (p *PoolConfig) entries() []string {
	if !p.keyPool() || p.Keys.Count <= 0 || p.Keys.Count > maxEntries {
		return p.Numbers
	}
	out := make([]string, 0, len(p.Numbers)+p.Keys.Count)
	out = append(out, p.Numbers...)
	width := len(strconv.Itoa(p.Keys.Count - 1))
	for i := range p.Keys.Count {
		s := strconv.Itoa(i)
		for len(s) < width {
			s = "0" + s
		}
		out = append(out, p.Keys.Prefix+s)
	}
	return out
}

// badEntry says why n cannot be an entry of p ("" when it can).
func (p *PoolConfig) badEntry(n string) string {
	if !p.keyPool() {
		if !ValidE164(n) {
			return "is not an E.164 number"
		}
		return ""
	}
	if !ValidKey(n) {
		return fmt.Sprintf("is not a tracking key (1-%d letters, digits, '-' or '_')", maxKeyBytes)
	}
	return ""
}

// ValidKey reports whether s can be a tracking key: 1–32 letters, digits,
// '-' or '_'. Keys go into URLs and sms bodies unescaped, and must never be
// mistaken for a number (no '+').
func ValidKey(s string) bool {
	if len(s) == 0 || len(s) > maxKeyBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validateChannel checks the channel fields of pool pp.
func (p *PoolConfig) validateChannel(pp string, add func(string, ...any)) {
	if p.Channel != "" {
		if _, ok := channel.Parse(p.Channel); !ok {
			add("%s.channel: %q is not %s", pp, p.Channel, channel.Names)
			return
		}
	}
	switch {
	case !p.keyPool() && (p.Keys.Count != 0 || p.Keys.Prefix != ""):
		add("%s.keys: only a chat, sms or callback pool (channel) holds keys", pp)
	case p.keyPool() && len(p.Extensions) > 0:
		add("%s.extensions: a %s pool holds keys, not numbers with extensions", pp, p.Channel)
	case p.keyPool() && len(p.Fallback) > 0:
		add("%s.fallback: a %s pool has no fallback numbers", pp, p.Channel)
	case p.Keys.Count < 0 || p.Keys.Count > maxEntries:
		add("%s.keys.count: %d must be between 0 and %d", pp, p.Keys.Count, maxEntries)
	}
}
