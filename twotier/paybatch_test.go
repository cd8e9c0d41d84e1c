package twotier_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/twotier"
)

// TestPayBatchMixed sends one batch of payments within and across
// operators, with invalid ones, failing ones and repeated ids, on a ledger
// whose requests are small enough that the batch takes several: each
// payment gets its own result, only the successful ones move money, the
// records say what happened, and the same batch again changes nothing.
func TestPayBatchMixed(t *testing.T) {
	e := newEnv(t, time.Date(2026, 10, 1, 10, 0, 0, 0, shanghai))
	e.batchMax = 5 // a linked chain must never be split between requests
	e.restart()
	e.fund(1_000_000*yuan, 1_000_000*yuan)
	a1 := e.wallet(e.a, twotier.Category1, "")
	a2 := e.wallet(e.a, twotier.Category1, "")
	b1 := e.wallet(e.b, twotier.Category1, "")
	e.topUp(a1, 1_000*yuan)
	e.topUp(b1, 500*yuan)
	cw := e.svc.CurrentWindow()
	ca, cb := twotier.ClearingAccount(e.a, cw), twotier.ClearingAccount(e.b, cw)
	before := e.snapshot(a1.ID, a2.ID, b1.ID)

	id := func() tongbao.ID { return tongbao.NewID() }
	within, across, across2, failing := id(), id(), id(), id()
	ps := []twotier.Payment{
		{ID: within, From: a1.ID, To: a2.ID, Amount: 100 * yuan},          // 0: within A
		{ID: across, From: a1.ID, To: b1.ID, Amount: 200 * yuan},          // 1: A to B
		{ID: across2, From: b1.ID, To: a2.ID, Amount: 50 * yuan},          // 2: B to A
		{ID: id(), From: a1.ID, To: b1.ID, Amount: 0},                     // 3: invalid amount
		{ID: across, From: a1.ID, To: b1.ID, Amount: 200 * yuan},          // 4: repeats 1
		{ID: across2, From: b1.ID, To: a2.ID, Amount: 51 * yuan},          // 5: 2's id, other content
		{ID: id(), From: a2.ID, To: a1.ID, Amount: 10_000 * yuan},         // 6: within, too much
		{ID: failing, From: a1.ID, To: b1.ID, Amount: 10_000 * yuan},      // 7: across, too much
		{ID: within, From: a1.ID, To: a2.ID, Amount: 100 * yuan},          // 8: repeats 0
		{ID: id(), From: a1.ID, To: tongbao.NewID(), Amount: yuan},        // 9: no such payee
		{ID: tongbao.ID{}, From: a1.ID, To: a2.ID, Amount: yuan},          // 10: no id
		{ID: id(), From: a2.ID, To: b1.ID, Amount: yuan, Currency: "USD"}, // 11: wrong currency
		{ID: id(), From: b1.ID, To: b1.ID, Amount: yuan},                  // 12: to itself
		{ID: id(), From: a1.ID, To: a2.ID, Amount: 3 * yuan},              // 13: within A
		{ID: id(), From: b1.ID, To: a1.ID, Amount: 7 * yuan},              // 14: B to A
	}
	check := func(round int, out []twotier.PaymentOutcome) {
		t.Helper()
		if len(out) != len(ps) {
			t.Fatalf("round %d: %d outcomes for %d payments", round, len(out), len(ps))
		}
		ok := map[int]bool{0: true, 1: true, 2: true, 4: true, 8: true, 13: true, 14: true}
		cross := map[int]bool{1: true, 2: true, 4: true, 14: true}
		for i, o := range out {
			if ok[i] != (o.Err == nil) {
				t.Fatalf("round %d: payment %d: error %v", round, i, o.Err)
			}
			if o.Err != nil {
				continue
			}
			r := o.Result
			if r.Timestamp == 0 || r.CrossOperator != cross[i] || (r.CrossOperator && r.Window != cw) {
				t.Fatalf("round %d: payment %d: result %+v", round, i, r)
			}
			if dup := round > 0 || i == 4 || i == 8; r.Duplicate != dup {
				t.Fatalf("round %d: payment %d: duplicate %v; want %v", round, i, r.Duplicate, dup)
			}
		}
		for i, want := range map[int]error{3: tongbao.ErrAmountInvalid, 5: tongbao.ErrIDConflict, 6: ledger.ErrInsufficientFunds,
			7: ledger.ErrInsufficientFunds, 9: twotier.ErrWalletNotFound, 10: twotier.ErrIDRequired, 11: twotier.ErrCurrencyMismatch} {
			if !errors.Is(out[i].Err, want) {
				t.Fatalf("round %d: payment %d: got %v; want %v", round, i, out[i].Err, want)
			}
		}
		if out[1].Result.Timestamp != out[4].Result.Timestamp || out[0].Result.Timestamp != out[8].Result.Timestamp {
			t.Fatalf("round %d: repeated ids answered %+v, %+v and %+v, %+v", round, out[1].Result, out[4].Result, out[0].Result, out[8].Result)
		}
		after := e.snapshot(a1.ID, a2.ID, b1.ID)
		moved := map[tongbao.ID]tongbao.Amount{
			a1.ID: -100*yuan - 200*yuan - 3*yuan + 7*yuan,
			a2.ID: 100*yuan + 50*yuan + 3*yuan,
			b1.ID: 200*yuan - 50*yuan - 7*yuan,
		}
		for acc, b := range before {
			if acc == ca || acc == cb {
				continue
			}
			if got, want := after[acc]-b, moved[acc]; got != want {
				t.Fatalf("round %d: account %v moved %v; want %v", round, acc, got, want)
			}
		}
		// A owes B 200 and is owed 57: the clearing accounts moved by the
		// net 143, in opposite directions.
		da, db := after[ca]-before[ca], after[cb]-before[cb]
		if da+db != 0 || (da != 143*yuan && da != -143*yuan) {
			t.Fatalf("round %d: clearing accounts moved %v and %v", round, da, db)
		}
		e.supplyOK("a mixed batch")
		for id, want := range map[tongbao.ID]twotier.PaymentStatus{across: twotier.PaymentPosted, across2: twotier.PaymentPosted, failing: twotier.PaymentFailed} {
			rec, err := e.store.Payment(e.ctx, id)
			must(t, err)
			if rec.Status != want || rec.Window != cw || (want == twotier.PaymentPosted) != (rec.PayerTimestamp != 0 && rec.PayeeTimestamp != 0) {
				t.Fatalf("round %d: record %+v; want %s", round, rec, want)
			}
		}
		if rec, err := e.store.Payment(e.ctx, across2); err != nil || rec.Amount != 50*yuan {
			t.Fatalf("round %d: record of the conflicting id: %+v, %v", round, rec, err)
		}
	}
	for round := 0; round < 2; round++ {
		out, err := e.svc.PayBatch(e.ctx, ps)
		must(t, err)
		check(round, out)
	}
	e.restart()
	e.supplyOK("restart")
}

// TestSettleDuringPayBatch settles windows while batches of cross-operator
// payments go through: a payment that meets a window closed under it is
// booked again in the new one, and every payment is settled once.
func TestSettleDuringPayBatch(t *testing.T) {
	e := newEnv(t, time.Date(2026, 10, 1, 10, 0, 0, 0, shanghai))
	e.fund(1_000_000*yuan, 1_000_000*yuan)
	payer := e.wallet(e.a, twotier.Category1, "")
	payee := e.wallet(e.b, twotier.Category1, "")
	e.topUp(payer, 100_000*yuan)
	const batches, size = 40, 10
	var wg sync.WaitGroup
	errs := make(chan error, batches*size)
	for i := 0; i < batches; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps := make([]twotier.Payment, size)
			for j := range ps {
				ps[j] = twotier.Payment{ID: tongbao.NewID(), From: payer.ID, To: payee.ID, Amount: yuan}
			}
			for len(ps) > 0 {
				out, err := e.svc.PayBatch(e.ctx, ps)
				if err != nil {
					errs <- err
					return
				}
				var retry []twotier.Payment
				for j, o := range out {
					switch {
					case errors.Is(o.Err, twotier.ErrWindowClosed):
						retry = append(retry, ps[j])
					default:
						errs <- o.Err
					}
				}
				ps = retry
			}
		}()
	}
	var settled tongbao.Amount
	for i := 0; i < 5; i++ {
		st, err := e.svc.Settle(e.ctx)
		must(t, err)
		settled += st.Positions[e.a]
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("payment during settlement: %v", err)
		}
	}
	st, err := e.svc.Settle(e.ctx)
	must(t, err)
	settled += st.Positions[e.a]
	if settled != batches*size*yuan {
		t.Fatalf("settled %v; want %v", settled, batches*size*yuan)
	}
	if got := e.balance(payee.ID); got != batches*size*yuan {
		t.Fatalf("payee holds %v; want %v", got, batches*size*yuan)
	}
	e.supplyOK("settling during batches")
	for _, op := range []tongbao.ID{e.a, e.b} {
		rec, err := e.svc.Reconcile(e.ctx, op, e.clock.Now())
		must(t, err)
		if len(rec.Differences) != 0 || rec.Records != batches*size {
			t.Fatalf("reconciliation of %v: %d records, differences %+v", op, rec.Records, rec.Differences)
		}
	}
}
