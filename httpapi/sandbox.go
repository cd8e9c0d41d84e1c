package httpapi

import (
	"context"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// SandboxOffsetMax bounds how far a sandbox clock may run ahead of the
// machine's: far enough for a decade of quarters, short of the limits of
// time.Duration.
const SandboxOffsetMax = 100 * 366 * 24 * time.Hour

// Sandbox is the clock of a node in sandbox mode, as Stripe's test
// clocks: the machine's clock moved forward by an offset that only grows.
// Everything of the node that tells the time (daily caps, expiries, hold
// timeouts, the periodic jobs) reads it.
type Sandbox interface {
	// Now returns the node's time.
	Now() time.Time
	// Offset returns how far the node's time is ahead of the machine's.
	Offset() time.Duration
	// AdvanceTo moves the clock to the moment next returns (next is
	// given the present, and called under the clock's lock, so two
	// advances cannot interleave), keeping it durably before it is
	// used, and then runs the periodic jobs that came due. Errors:
	// tongbao.ErrClockBackwards if that moment is before the present,
	// EINVALID if it is more than SandboxOffsetMax ahead of the machine.
	AdvanceTo(ctx context.Context, next func(now time.Time) (time.Time, error)) (time.Time, error)
}

func sandboxOut(sb Sandbox) wire.SandboxClock {
	return wire.SandboxClock{Now: sb.Now(), Offset: sb.Offset().String()}
}

func (s *Server) getSandboxClock(c *call) (any, error) {
	if s.sandbox == nil {
		return nil, tongbao.ErrSandboxDisabled
	}
	return sandboxOut(s.sandbox), nil
}

// advanceSandboxClock moves the clock by a duration or to a moment. A
// retry of "to" moves nothing (the clock is past it, so it is refused as
// going backwards); a retry of "by" moves it again, so clients that retry
// send "to".
func (s *Server) advanceSandboxClock(c *call) (any, error) {
	if s.sandbox == nil {
		return nil, tongbao.ErrSandboxDisabled
	}
	var in wire.AdvanceClock
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var by time.Duration
	switch {
	case (in.By == "") == (in.To == nil):
		return nil, tongbao.Errorf(tongbao.EINVALID, "give by (a duration such as 24h or 90m) or to (an RFC 3339 time), one of them")
	case in.By != "":
		d, err := time.ParseDuration(in.By)
		if err != nil || d <= 0 {
			return nil, tongbao.Errorf(tongbao.EINVALID, "by must be a positive duration such as 24h, 90m or 1h30m, not %q", in.By)
		}
		by = d
	}
	_, err := s.sandbox.AdvanceTo(c.ctx, func(now time.Time) (time.Time, error) {
		if in.To != nil {
			if in.To.Before(now) {
				return time.Time{}, &tongbao.Error{Code: tongbao.ECONFLICT, Err: tongbao.ErrClockBackwards,
					Message: "the clock is at " + now.UTC().Format(time.RFC3339Nano) + "; " + in.To.UTC().Format(time.RFC3339Nano) + " is before it"}
			}
			return *in.To, nil
		}
		return now.Add(by), nil
	})
	if err != nil {
		return nil, err
	}
	if c.contracts != nil {
		// Timers the move made due fire now, not at the next tick.
		c.contracts.Wake()
	}
	return sandboxOut(s.sandbox), nil
}
