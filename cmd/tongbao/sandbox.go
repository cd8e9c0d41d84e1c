package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi"
)

// nodeSandboxFile keeps a sandbox node's clock offset in its data folder.
const nodeSandboxFile = "sandbox-clock.json"

// sandboxClock is the clock of a node started with --sandbox: the
// machine's clock moved forward by an offset that the central bank
// advances through the API. It implements tongbao.Clock, for everything
// of the node that tells the time, and httpapi.Sandbox.
//
// The clock never goes backwards, also across a restart: an advance
// writes the new offset to the data folder (and syncs it) before any
// reading of the clock can see it, and a restart reads it back. A node
// started without --sandbox on a folder whose clock was advanced refuses
// to start rather than go back in time (see nodeClock).
type sandboxClock struct {
	path string
	// jobs runs the periodic jobs that an advance may have made due; set
	// by the node once it serves.
	jobs func(ctx context.Context)

	mu     sync.Mutex   // serialises advances
	offset atomic.Int64 // nanoseconds ahead of the machine's clock
}

// sandboxFile is the content of nodeSandboxFile.
type sandboxFile struct {
	OffsetNanos int64 `json:"offset_ns"`
	// At is the clock's time when it was last advanced, for people.
	At time.Time `json:"advanced_to"`
}

// readSandboxFile reads the offset kept in dir; 0 if there is none.
func readSandboxFile(dir string) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(dir, nodeSandboxFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sandbox clock: %w", err)
	}
	var f sandboxFile
	if err := json.Unmarshal(b, &f); err != nil || f.OffsetNanos < 0 {
		return 0, fmt.Errorf("sandbox clock: %s is damaged; its clock cannot be restored", filepath.Join(dir, nodeSandboxFile))
	}
	return time.Duration(f.OffsetNanos), nil
}

// nodeClock returns the clock of a node on the data folder dir: a
// sandbox clock at the offset kept in dir when sandbox is set (nil
// otherwise), else the machine's, which is refused if dir's sandbox
// clock was ever advanced: the node's clock would go back.
func nodeClock(dir string, sandbox bool) (tongbao.Clock, *sandboxClock, error) {
	offset, err := readSandboxFile(dir)
	if err != nil {
		return nil, nil, err
	}
	if !sandbox {
		if offset > 0 {
			return nil, nil, fmt.Errorf("%s was served with --sandbox and its clock advanced %v: start it with --sandbox again (a node's clock never goes back), or use another --data", dir, offset)
		}
		return tongbao.SystemClock{}, nil, nil
	}
	c := &sandboxClock{path: filepath.Join(dir, nodeSandboxFile)}
	c.offset.Store(int64(offset))
	return c, c, nil
}

// Now returns the machine's time plus the offset.
func (c *sandboxClock) Now() time.Time { return time.Now().Add(c.Offset()) }

// Offset returns how far the clock is ahead of the machine's.
func (c *sandboxClock) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// AdvanceTo implements httpapi.Sandbox.
func (c *sandboxClock) AdvanceTo(ctx context.Context, next func(now time.Time) (time.Time, error)) (time.Time, error) {
	c.mu.Lock()
	now := c.Now()
	to, err := next(now)
	if err != nil {
		c.mu.Unlock()
		return time.Time{}, err
	}
	if to.Before(now) {
		c.mu.Unlock()
		return time.Time{}, tongbao.ErrClockBackwards
	}
	offset := c.Offset() + to.Sub(now)
	if offset > httpapi.SandboxOffsetMax {
		c.mu.Unlock()
		return time.Time{}, tongbao.Errorf(tongbao.EINVALID, "the sandbox clock may run at most %v ahead of the machine's", httpapi.SandboxOffsetMax)
	}
	if err := c.save(offset, to); err != nil {
		c.mu.Unlock()
		return time.Time{}, err
	}
	c.offset.Store(int64(offset))
	c.mu.Unlock()
	if c.jobs != nil {
		c.jobs(ctx)
	}
	return c.Now(), nil
}

// save writes the offset durably: to a temporary file, synced, renamed
// over the old one, and the folder synced.
func (c *sandboxClock) save(offset time.Duration, at time.Time) error {
	b, err := json.Marshal(sandboxFile{OffsetNanos: int64(offset), At: at.UTC()})
	if err != nil {
		return err
	}
	tmp := c.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("sandbox clock: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, c.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(c.path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sandbox clock: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable. Windows cannot sync a folder,
// and needs not: its renames are durable once they return.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
