package httpapi_test

import (
	"sync"
	"testing"

	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
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

// TestOpenWindowShowsRunningPositions checks that the open window lists
// the positions its cross-operator payments made so far, signed as
// documented: the operator whose holder paid owes (positive).
func TestOpenWindowShowsRunningPositions(t *testing.T) {
	e := newEnv(t)
	a, adminA := e.operator("Bank A", 1_000_000*yuan, 10_000*yuan)
	b, adminB := e.operator("Bank B", 1_000_000*yuan, 10_000*yuan)
	payer, holder := e.wallet(adminA, a, wire.OpenWallet{Category: 2, HolderName: "张三", Phone: "13800000001"})
	payee, _ := e.wallet(adminB, b, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13900000001"})
	_, err := adminA.TopUp(e.ctx, client.NewKey(), payer.ID, 100*yuan)
	must(t, err)
	_, err = holder.Pay(e.ctx, client.NewKey(), wire.Pay{From: payer.ID, To: payee.ID.String(), Amount: wire.Amount(30 * yuan)})
	must(t, err)
	page, err := e.cb.Windows(e.ctx, client.Page{})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].Status != "open" {
		t.Fatalf("windows %+v; want one open", page.Items)
	}
	got := page.Items[0].Positions
	if got[a.String()] != wire.Amount(30*yuan) || got[b.String()] != -wire.Amount(30*yuan) {
		t.Errorf("running positions %v; want %s: 30.00, %s: -30.00", got, a, b)
	}
	own, err := adminB.Windows(e.ctx, client.Page{})
	must(t, err)
	if p := own.Items[0].Positions; len(p) != 1 || p[b.String()] != -wire.Amount(30*yuan) {
		t.Errorf("operator B sees positions %v; want its own only", p)
	}
}
