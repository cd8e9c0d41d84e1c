package contract

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// Time triggers are timers in the store: an activation adds each time
// trigger's first occurrence (and the expiry), and each firing adds the
// next in the same transaction that records the invocation and marks the
// timer fired. So timers survive restarts, a timer missed while the node
// was down fires when it starts (RunDue takes everything due), and none
// fires twice: the invocation key derives from the timer, and a timer
// whose invocation was recorded is marked fired by the same commit.
//
// Timers read the service's clock, which a sandbox node lets the central
// bank move: Wake after moving it fires what came due at once.

// DueBatch is the most timers RunDue takes from the store at a time.
const DueBatch = 256

// DefaultSchedulerInterval is how often Run looks for due timers when
// nothing wakes it.
const DefaultSchedulerInterval = time.Second

func timerKey(trigger string, due time.Time) string {
	return fmt.Sprintf("%s@%d", trigger, due.Unix())
}

// timeValue evaluates a time field: an RFC 3339 literal or a CEL
// timestamp over the params.
func timeValue(where, v string, vars *activation) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	prg, err := compile(where, v, expectTimestamp)
	if err != nil {
		return time.Time{}, err
	}
	return evalTime(prg, vars)
}

// firstTimers returns the first occurrence of every time trigger of a
// contract activated at now, and its expiry.
func firstTimers(c Contract, d *Document, vars *activation, now time.Time, loc *time.Location) ([]Timer, error) {
	var out []Timer
	add := func(trigger string, due time.Time) {
		out = append(out, Timer{Contract: c.ID, Key: timerKey(trigger, due), Trigger: trigger, DueAt: due, N: 1})
	}
	for _, t := range d.Triggers {
		where := "trigger " + t.Name
		switch on := t.On; {
		case on.At != "":
			at, err := timeValue(where+" at", on.At, vars)
			if err != nil {
				return nil, err
			}
			add(t.Name, at)
		case on.Every != nil:
			every, _ := duration(on.Every.Interval, EveryMin)
			start := now.Add(every)
			if on.Every.Start != "" {
				var err error
				if start, err = timeValue(where+" start", on.Every.Start, vars); err != nil {
					return nil, err
				}
			}
			add(t.Name, start)
		case on.Calendar != nil:
			start := now
			if on.Calendar.Start != "" {
				var err error
				if start, err = timeValue(where+" start", on.Calendar.Start, vars); err != nil {
					return nil, err
				}
			}
			add(t.Name, calendarAfter(on.Calendar, start, loc))
		}
	}
	if d.ExpiresAt != "" {
		at, err := timeValue("expires_at", d.ExpiresAt, vars)
		if err != nil {
			return nil, err
		}
		add("expire", at)
	}
	return out, nil
}

// calendarAfter returns the first moment on the calendar's day and time
// strictly after t.
func calendarAfter(c *CalendarOn, t time.Time, loc *time.Location) time.Time {
	var hh, mm int
	fmt.Sscanf(c.Time, "%d:%d", &hh, &mm)
	lt := t.In(loc)
	at := time.Date(lt.Year(), lt.Month(), c.Day, hh, mm, 0, 0, loc)
	if !at.After(t) {
		at = time.Date(lt.Year(), lt.Month()+1, c.Day, hh, mm, 0, 0, loc)
	}
	return at
}

// nextOccurrence returns the occurrence after a fired timer, if its
// trigger repeats and has occurrences left.
func nextOccurrence(d *Document, t Timer, loc *time.Location) (Timer, bool) {
	if t.Of != "" {
		return Timer{}, false
	}
	tr := findTrigger(d, t.Trigger)
	if tr == nil {
		return Timer{}, false
	}
	var due time.Time
	switch on := tr.On; {
	case on.Every != nil && t.N < on.Every.Count:
		every, _ := duration(on.Every.Interval, EveryMin)
		due = t.DueAt.Add(every)
	case on.Calendar != nil && t.N < on.Calendar.Count:
		due = calendarAfter(on.Calendar, t.DueAt, loc)
	default:
		return Timer{}, false
	}
	return Timer{Contract: t.Contract, Key: timerKey(t.Trigger, due), Trigger: t.Trigger, DueAt: due, N: t.N + 1}, true
}

// RunDue fires every timer due by the service's clock and returns how
// many it fired. A timer whose invocation the contract's rules refuse is
// recorded as a failed invocation; one that meets an unavailable ledger
// stays due.
func (s *Service) RunDue(ctx context.Context) (int, error) {
	now := s.clock.Now()
	fired := 0
	for {
		ts, err := s.store.DueTimers(ctx, now, DueBatch)
		if err != nil {
			return fired, err
		}
		for _, t := range ts {
			if err := s.fire(ctx, t); err != nil {
				return fired, fmt.Errorf("contract %s timer %s: %w", t.Contract, t.Key, err)
			}
			fired++
		}
		// A firing adds the next occurrence, which may be due as well
		// (a node down for days catches up): look again until nothing is.
		if len(ts) == 0 || fired >= RunDueMax {
			return fired, nil
		}
	}
}

// RunDueMax bounds the timers one RunDue fires; the rest wait for the
// next.
const RunDueMax = 100_000

func (s *Service) fire(ctx context.Context, t Timer) error {
	unlock := s.lock(t.Contract)
	defer unlock()
	c, err := s.fresh(ctx, t.Contract)
	if err != nil {
		return err
	}
	switch c.Status {
	case StatusPaused:
		return nil // it waits for the contract to resume
	case StatusActive:
	default:
		return s.store.FireTimer(ctx, t, nil)
	}
	d, err := s.Document(c)
	if err != nil {
		return err
	}
	cl := call{key: "timer:" + t.Key, trigger: t.Trigger, timer: &t, recordRefusal: true,
		event: map[string]any{"due": t.DueAt.UTC(), "n": int64(t.N), "trigger": t.Trigger}}
	switch {
	case strings.HasPrefix(t.Key, "failure:"):
		if cl, err = s.failureCall(ctx, c, d, t); err != nil {
			return err
		}
	case t.Trigger == "expire":
		cl.end, cl.reason = StatusCompleted, "expired"
	case t.Of != "":
		cl.key = t.Key
		cl.t = findTrigger(d, t.Trigger)
		orig, err := s.store.Invocation(ctx, c.ID, t.Of)
		if err != nil {
			return err
		}
		if cl.event, err = decodeInput(orig.Input); err != nil {
			return err
		}
	default:
		cl.t = findTrigger(d, t.Trigger)
	}
	if t.Trigger != "expire" && cl.t == nil && cl.actions == nil {
		return s.store.FireTimer(ctx, t, nil)
	}
	inv, err := s.invokeLocked(ctx, c, cl)
	if err != nil {
		if errors.Is(err, ErrPaused) || errors.Is(err, ErrEnded) {
			return nil
		}
		return err
	}
	if inv.Fired != t.Key {
		// Answered from an invocation recorded before: make sure the
		// timer is marked.
		return s.store.FireTimer(ctx, t, nil)
	}
	return nil
}

// Run finishes the invocations left pending, then fires due timers every
// interval and whenever Wake is called, until ctx ends. Only the node
// that writes the ledger runs it. Errors go to report and the loop goes
// on.
func (s *Service) Run(ctx context.Context, interval time.Duration, report func(error)) {
	if interval <= 0 {
		interval = DefaultSchedulerInterval
	}
	if report == nil {
		report = func(error) {}
	}
	if _, err := s.Recover(ctx); err != nil && ctx.Err() == nil {
		report(err)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if _, err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			report(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.wakeChan():
		}
	}
}

// Wake makes Run look for due timers now: after a sandbox clock moved.
func (s *Service) Wake() {
	select {
	case s.wakeChan() <- struct{}{}:
	default:
	}
}

func (s *Service) wakeChan() chan struct{} {
	s.wakeOnce.Do(func() { s.wake = make(chan struct{}, 1) })
	return s.wake
}

// Timers returns a contract's timers not fired yet.
func (s *Service) Timers(ctx context.Context, id tongbao.ID) ([]Timer, error) {
	return s.store.Timers(ctx, id)
}
