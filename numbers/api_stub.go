package numbers

// This file fixes the signatures other packages code against. The numbers
// helper replaces the bodies (and may move them); the signatures stay.

import (
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// Publisher sends an event to a Kafka topic without blocking; it reports false
// when the event was dropped (and counted) because the queue was full.
// *events.Producer implements it.
type Publisher interface {
	Publish(topic string, key, value []byte) bool
}

// Config is the numbers section of the config file (yaml key "numbers").
type Config struct {
	Pools []PoolConfig `yaml:"pools"`
}

// PoolConfig is one tracking-number pool.
type PoolConfig struct {
	ID       string        `yaml:"id"`
	Numbers  []string      `yaml:"numbers"`
	Hold     time.Duration `yaml:"hold"`
	Lease    time.Duration `yaml:"lease"`
	Cooldown time.Duration `yaml:"cooldown"`
}

// Validate reports every problem with its field path relative to "numbers".
func (c *Config) Validate() error { return nil }

// Ref names one reservation of one pool entry (entry index and generation);
// it goes into the signed notice token.
type Ref uint64

// Claim is what a bid knows when it reserves a number. Strings may point into
// a request buffer: Reserve copies what it keeps.
type Claim struct {
	CampaignID  string
	PublisherID string
	SiteOrApp   string
	Exchange    string
	RequestID   string
	ImpID       string
	BidID       string
	Skill       string
	PriceMicros int64  // bid price, CPM micro-units in the bid currency
	IPHash      uint64 // xxhash of device.ip (0 when none)
	IFAHash     uint64 // xxhash of device.ifa (0 when none)
}

// Reservation is a reserved number. E164 and Ext point at pool-owned strings
// that never change.
type Reservation struct {
	Ref      Ref
	E164     string
	Ext      string
	Fallback bool // exhaustion fallback number: attribution at publisher level
}

// WinResult says what a win or billing notice did.
type WinResult uint8

const (
	WinLeased    WinResult = iota + 1 // HELD → LEASED
	WinDuplicate                      // already leased by this same reservation
	WinLate                           // hold had expired; number still free, re-leased
	WinCollision                      // hold had expired and the number was taken meanwhile
	WinUnknown                        // no such entry
)

// Pools owns every tracking-number pool.
type Pools struct{}

// New builds the pools from validated config. pub receives lease and
// attribution events; it may be nil in tests.
func New(cfg Config, pub Publisher, log zerolog.Logger) (*Pools, error) { return &Pools{}, nil }

// PoolIndex resolves a pool id to the index Reserve takes.
func (p *Pools) PoolIndex(id string) (int, bool) { return 0, false }

// Reserve holds the least recently freed number of pool idx for claim c.
// ok is false when the pool is exhausted and its policy is nobid. It never
// blocks on I/O and allocates nothing in steady state.
func (p *Pools) Reserve(idx int, c *Claim, now time.Time) (r Reservation, ok bool) { return }

// Win moves a held number to LEASED on a win (billed=false) or billing
// (billed=true) notice. Idempotent.
func (p *Pools) Win(ref Ref, billed bool, now time.Time) WinResult { return WinUnknown }

// Loss frees a held number at once (it was never shown). Idempotent.
func (p *Pools) Loss(ref Ref, now time.Time) {}

// HandleCalls serves POST /v1/calls (CONTRACTS §2).
func (p *Pools) HandleCalls(ctx *fasthttp.RequestCtx) {}
