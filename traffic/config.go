package traffic

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Config is invalid-traffic filtering at bid time (yaml feedback.traffic).
type Config struct {
	// Window is the period of the per-device caps. Default 1h.
	Window time.Duration `yaml:"window"`
	// IPCap and IFACap are the won impressions per window above which a
	// device ip or id gets no bid. 0 disables the cap. Defaults 0 (off).
	IPCap  int `yaml:"ip_cap"`
	IFACap int `yaml:"ifa_cap"`
	// InvalidTTL is how long a device reported SPAM stays blocked. Default 24h.
	InvalidTTL time.Duration `yaml:"invalid_ttl"`
	// MaxEntries bounds the device-win counts (a ristretto cache) and the
	// table of blocked devices (24 bytes an entry; a full bucket forgets the
	// block that ends first). Default 1e6.
	MaxEntries int64 `yaml:"max_entries"`
	// BlockedRanges are CIDR ranges of raw device IPs that get no bid.
	BlockedRanges []string `yaml:"blocked_ranges"`
}

// SetDefaults fills zero fields.
func (c *Config) SetDefaults() {
	if c.Window == 0 {
		c.Window = time.Hour
	}
	if c.InvalidTTL == 0 {
		c.InvalidTTL = 24 * time.Hour
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 1_000_000
	}
}

// Validate reports every problem with its field path relative to the
// section (window, ip_cap, blocked_ranges[1], …). Zero values are valid.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Window < 0 {
		bad("window: %s must not be negative", c.Window)
	}
	if c.InvalidTTL < 0 {
		bad("invalid_ttl: %s must not be negative", c.InvalidTTL)
	}
	if c.IPCap < 0 {
		bad("ip_cap: %d must not be negative", c.IPCap)
	}
	if c.IFACap < 0 {
		bad("ifa_cap: %d must not be negative", c.IFACap)
	}
	if c.MaxEntries < 0 {
		bad("max_entries: %d must not be negative", c.MaxEntries)
	}
	for i, r := range c.BlockedRanges {
		if _, err := netip.ParsePrefix(r); err != nil {
			bad("blocked_ranges[%d]: %q is not a CIDR range: %w", i, r, err)
		}
	}
	return errors.Join(errs...)
}
