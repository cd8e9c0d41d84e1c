package client

import (
	"context"
	"time"

	"github.com/tongbao/tongbao/httpapi/wire"
)

// SandboxClock reads a sandbox node's clock (central bank key); a node
// not in sandbox mode answers problem sandbox-disabled.
func (c *Client) SandboxClock(ctx context.Context) (wire.SandboxClock, error) {
	return get[wire.SandboxClock](c, ctx, "/v1/sandbox/clock")
}

// AdvanceSandboxClock moves a sandbox node's clock forward by d. A retry
// moves it again: to retry safely, use AdvanceSandboxClockTo.
func (c *Client) AdvanceSandboxClock(ctx context.Context, d time.Duration) (wire.SandboxClock, error) {
	return post[wire.SandboxClock](c, ctx, "/v1/sandbox/clock/advance", "", wire.AdvanceClock{By: d.String()})
}

// AdvanceSandboxClockTo moves a sandbox node's clock to t, which must not
// be before its present (problem sandbox-clock-backwards).
func (c *Client) AdvanceSandboxClockTo(ctx context.Context, t time.Time) (wire.SandboxClock, error) {
	return post[wire.SandboxClock](c, ctx, "/v1/sandbox/clock/advance", "", wire.AdvanceClock{To: &t})
}
