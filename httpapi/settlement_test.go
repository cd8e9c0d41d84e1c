package httpapi_test

import (
	"sync"
	"testing"

	"github.com/tongbao/tongbao/client"
)

// TestConcurrentClosesOfOneWindow guards against closing the window after
// the one named: the check that {"window": N} is the current window ran
// outside the settlement lock, so two closes of window 1 sent together
// could close windows 1 and 2.
func TestConcurrentClosesOfOneWindow(t *testing.T) {
	e := newEnv(t)
	e.operator("Bank A", 1_000_000*yuan, 1_000*yuan)
	e.operator("Bank B", 1_000_000*yuan, 1_000*yuan)
	const closers = 16
	var wg sync.WaitGroup
	errs := make([]error, closers)
	for i := range closers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.cb.CloseWindow(e.ctx, client.NewKey(), 1)
		}()
	}
	wg.Wait()
	closed := 0
	for _, err := range errs {
		if err == nil {
			closed++
			continue
		}
		wantProblem(t, "a second close of window 1", err, "conflict")
	}
	if closed != 1 {
		t.Errorf("%d closes of window 1 succeeded; want 1", closed)
	}
	if got := e.svc.CurrentWindow(); got != 2 {
		t.Errorf("current window %d after closing window 1; want 2", got)
	}
	e.supplyOK("closing window 1 from 16 callers at once")
}
