package tongbao

import (
	"sync"
	"time"
)

// Clock tells the time. Everything that depends on the time of day (hold
// timeouts, daily and yearly caps, settlement windows) takes a Clock, so
// tests can move time across midnight or New Year without sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock is the machine's wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that moves only when told to. Safe for concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a ManualClock stopped at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// UnixNanos returns t as Unix nanoseconds, the zero time as 0: how stores
// keep an optional moment in an integer column.
func UnixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromUnixNanos is the inverse of UnixNanos.
func FromUnixNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// The sandbox clock's errors: a node started in sandbox mode lets the
// central bank move its clock forward (see docs/sandbox.md).
var (
	// ErrSandboxDisabled refuses reading or moving the sandbox clock on a
	// node not started in sandbox mode.
	ErrSandboxDisabled = Sentinel(ECONFLICT, "sandbox-disabled", "the node is not in sandbox mode: start it with --sandbox to move its clock")
	// ErrClockBackwards refuses moving the sandbox clock to a moment
	// before its present: a node's clock never goes backwards.
	ErrClockBackwards = Sentinel(ECONFLICT, "sandbox-clock-backwards", "the sandbox clock never goes backwards")
)
