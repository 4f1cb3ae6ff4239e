package callrecords

import (
	"errors"
	"fmt"
	"time"
)

// Defaults.
const (
	DefaultRetention  = 168 * time.Hour
	DefaultMaxRecords = 100_000
)

// Config bounds the call records (YAML section call_records).
type Config struct {
	// Retention is how long a call is remembered after it started, in event
	// time (the latest call time seen, never past the clock): a repeated
	// call_id gets the same answer and late outcomes revise the counters
	// within it. Default 168h.
	Retention time.Duration `yaml:"retention"`
	// MaxRecords caps the records kept (default 100000): beyond it the
	// oldest are evicted before their retention, so memory is bounded by
	// configuration whatever the call volume.
	MaxRecords int `yaml:"max_records"`
}

// SetDefaults fills zero fields.
func (c *Config) SetDefaults() {
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = DefaultMaxRecords
	}
}

// Validate reports every problem, each named by its field path within the
// section.
func (c *Config) Validate() error {
	var errs []error
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("retention: %s is negative", c.Retention))
	}
	if c.MaxRecords < 0 || c.MaxRecords > 100_000_000 {
		errs = append(errs, fmt.Errorf("max_records: %d must be 0 (default %d) to 100000000", c.MaxRecords, DefaultMaxRecords))
	}
	return errors.Join(errs...)
}
