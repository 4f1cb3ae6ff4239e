package bidder

import (
	"errors"
	"net/netip"
	"time"

	"github.com/callbid/callbid/openrtb"
)

// The bid call without its transport: the HTTP layer (httpapi) checks the
// method and size, applies admission control, inflates gzip and writes the
// answer; Bid decodes, decides and encodes. Nothing here allocates in steady
// state (httpapi's alloc guards run through it).

// ErrMalformed is Bid's answer to a body that is not a bid request (400).
var ErrMalformed = errors.New("the body is not an OpenRTB bid request")

// Call is one bid request's view of the running config: the snapshot is
// loaded once, so a reload in the middle of a request cannot mix two
// configs. The zero Call is not usable; get one from Begin.
type Call struct {
	s  *snapshot
	ex *exchangeRT
}

// Begin loads the running config for one request from exchange (the
// ?exchange= parameter; empty names the default exchange). exchange is not
// retained.
func (b *Bidder) Begin(exchange []byte) Call {
	s := b.snap.Load()
	return Call{s: s, ex: s.exchange(exchange)}
}

// Server is the running server config (limits, admin token, deadlines).
func (c Call) Server() *ServerConfig { return &c.s.cfg.Server }

// ExchangeTerms are what the HTTP layer needs of an exchange before the
// body is decoded: how to answer a no-bid and how to bound the deadline.
type ExchangeTerms struct {
	// NBR: the exchange wants {"id","nbr"} no-bid bodies instead of 204.
	NBR bool
	// Allowance is subtracted from tmax for the network; DefaultTMax is
	// used when a request has none (see openrtb.Deadline).
	Allowance, DefaultTMax time.Duration
}

// Exchange returns the terms of the request's exchange.
func (c Call) Exchange() ExchangeTerms {
	return ExchangeTerms{NBR: c.ex.nbr, Allowance: c.ex.allowance, DefaultTMax: c.ex.defaultTMax}
}

// BidInput is one bid request as the HTTP layer read it. Its slices belong
// to the caller and are not retained after Bid returns.
type BidInput struct {
	Body   []byte     // the JSON request, inflated
	Client netip.Addr // the TCP peer (hold budgets per client)
	Now    time.Time  // when the deadline started counting
	Debug  []byte     // the value of DebugHeader, if any
}

// Bid decides in and appends the JSON answer to dst. An answer of no bytes
// is a no-bid without a body (204); ErrMalformed means the body could not
// be decoded (400).
func (b *Bidder) Bid(c Call, in *BidInput, dst []byte) ([]byte, error) {
	s, ex := c.s, c.ex
	now := in.Now
	if b.pinnedClock {
		now = b.now()
	}
	dec := openrtb.AcquireDecoder()
	defer openrtb.ReleaseDecoder(dec)
	req, err := dec.Decode(in.Body)
	if err != nil {
		return dst, ErrMalformed
	}
	d := b.getDecision()
	defer b.putDecision(d)
	d.client, d.hasClient = clientKey(in.Client), true
	b.decide(d, s, req, ex, now)
	// An operator's debug request (the admin token in DebugHeader) gets
	// each campaign's reason in the response ext; others pay one compare.
	dbg := debugAllowed(in.Debug, &s.cfg.Server)
	if len(d.Bids) == 0 {
		b.m.noBids[d.Cause].Inc()
		if e := b.debugLog.Debug(); e != nil {
			e.Str("request_id", req.ID).Str("exchange", ex.name).Str("reason", d.Cause.String()).
				Uint16("nbr", uint16(d.Cause.NBR())).Msg("no bid")
		}
		if ex.nbr || dbg {
			dst = openrtb.AppendNoBidResponse(dst, req.ID, d.Cause.NBR())
			if dbg {
				dst = appendDebugExt(dst, d, s)
			}
		}
		return dst, nil
	}
	b.m.bids.Add(float64(len(d.Bids)))
	if d.head != "" {
		dst = openrtb.AppendResponseHead(dst, req.ID, d.Bids[0].ID, d.head, d.Bids)
	} else {
		dst = openrtb.AppendResponse(dst, req.ID, d.Bids[0].ID, d.Cur, s.cfg.Server.Seat, d.Bids)
	}
	if dbg {
		dst = appendDebugExt(dst, d, s)
	}
	return dst, nil
}
