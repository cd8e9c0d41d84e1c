package twotier_test

import (
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/twotier"
)

// TestBadInputChangesNothing sends every kind of bad request and checks
// each gets the right error code and leaves every balance as it was.
func TestBadInputChangesNothing(t *testing.T) {
	start := time.Date(2026, 9, 9, 9, 0, 0, 0, shanghai)
	e := newEnv(t, start)
	ctx := e.ctx
	e.fund(200_000*yuan, 100_000*yuan)
	payer := e.wallet(e.a, twotier.Category2, "")
	payee := e.wallet(e.a, twotier.Category3, "")
	across := e.wallet(e.b, twotier.Category1, "")
	rich := e.wallet(e.a, twotier.Category1, "")
	closed := e.wallet(e.a, twotier.Category4, "")
	frozen := e.wallet(e.a, twotier.Category3, "")
	receiveOnly := e.wallet(e.a, twotier.Category3, "")
	suspended := e.wallet(e.a, twotier.Category3, "")
	e.topUp(payer, 5_000*yuan)
	e.topUp(rich, 60_000*yuan)
	e.topUp(frozen, 100*yuan)
	e.topUp(receiveOnly, 100*yuan)
	if _, err := e.svc.SetState(ctx, closed.ID, twotier.StateClosed, "holder asked"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Freeze(ctx, frozen.ID, start.Add(time.Hour), "police request 42"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetState(ctx, receiveOnly.ID, twotier.StateReceiveOnly, "dormant account review"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetState(ctx, suspended.ID, twotier.StateSuspended, "fraud investigation"); err != nil {
		t.Fatal(err)
	}
	// Bring A's position to just under its net debit cap.
	if _, err := e.pay(rich, across, netDebitCap-yuan); err != nil {
		t.Fatal(err)
	}
	usedID := tongbao.NewID()
	if _, err := e.svc.Pay(ctx, twotier.Payment{ID: usedID, From: payer.ID, To: payee.ID, Amount: 10 * yuan}); err != nil {
		t.Fatal(err)
	}
	wallets := []tongbao.ID{payer.ID, payee.ID, across.ID, rich.ID, closed.ID, frozen.ID, receiveOnly.ID, suspended.ID}

	pay := func(from, to twotier.Wallet, amount tongbao.Amount, currency tongbao.Currency) func() error {
		return func() error {
			_, err := e.svc.Pay(ctx, twotier.Payment{ID: tongbao.NewID(), From: from.ID, To: to.ID, Amount: amount, Currency: currency})
			return err
		}
	}
	unknown := twotier.Wallet{ID: tongbao.NewID()}
	tests := []struct {
		name     string
		do       func() error
		code     string
		sentinel error
	}{
		{"zero amount", pay(payer, payee, 0, ""), tongbao.EINVALID, tongbao.ErrAmountInvalid},
		{"negative amount", pay(payer, payee, -yuan, ""), tongbao.EINVALID, tongbao.ErrAmountInvalid},
		{"largest amount", pay(payer, payee, tongbao.AmountMax, ""), tongbao.EUNPROCESSABLE, ledger.ErrDebitLimit},
		{"overflowing amount text", func() error { _, err := tongbao.ParseAmount("92233720368547758.08"); return err }, tongbao.EINVALID, nil},
		{"overflowing reserve", func() error {
			_, err := e.svc.DepositReserves(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: e.a, Amount: tongbao.AmountMax})
			return err
		}, tongbao.EUNPROCESSABLE, ledger.ErrOverflow},
		{"wrong currency", pay(payer, payee, yuan, "USD"), tongbao.EINVALID, twotier.ErrCurrencyMismatch},
		{"malformed currency", pay(payer, payee, yuan, "usd"), tongbao.EINVALID, nil},
		{"no idempotency id", func() error {
			_, err := e.svc.Pay(ctx, twotier.Payment{From: payer.ID, To: payee.ID, Amount: yuan})
			return err
		}, tongbao.EINVALID, twotier.ErrIDRequired},
		{"id reused with other content", func() error {
			_, err := e.svc.Pay(ctx, twotier.Payment{ID: usedID, From: payer.ID, To: payee.ID, Amount: 11 * yuan})
			return err
		}, tongbao.ECONFLICT, tongbao.ErrIDConflict},
		{"unknown payer", pay(unknown, payee, yuan, ""), tongbao.ENOTFOUND, twotier.ErrWalletNotFound},
		{"unknown payee", pay(payer, unknown, yuan, ""), tongbao.ENOTFOUND, twotier.ErrWalletNotFound},
		{"unknown alias", func() error { _, err := e.svc.Resolve(ctx, "13999999999"); return err }, tongbao.ENOTFOUND, twotier.ErrWalletNotFound},
		{"closed payee", pay(payer, closed, yuan, ""), tongbao.EUNPROCESSABLE, ledger.ErrAccountClosed},
		{"top-up of a closed wallet", func() error {
			_, err := e.svc.TopUp(ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: closed.ID, Amount: yuan})
			return err
		}, tongbao.EUNPROCESSABLE, ledger.ErrAccountClosed},
		{"frozen payer", pay(frozen, payee, yuan, ""), tongbao.EUNPROCESSABLE, ledger.ErrAccountFrozen},
		{"frozen payee", pay(payer, frozen, yuan, ""), tongbao.EUNPROCESSABLE, ledger.ErrAccountFrozen},
		{"receive-only payer", pay(receiveOnly, payee, yuan, ""), tongbao.EUNPROCESSABLE, ledger.ErrDebitsDisabled},
		{"suspended payee", pay(payer, suspended, yuan, ""), tongbao.EUNPROCESSABLE, ledger.ErrCreditsDisabled},
		{"suspended payee across", pay(across, suspended, yuan, ""), tongbao.EUNPROCESSABLE, ledger.ErrCreditsDisabled},
		{"insufficient funds", pay(payee, payer, 20*yuan, ""), tongbao.EUNPROCESSABLE, ledger.ErrInsufficientFunds},
		{"paying oneself", pay(payer, payer, yuan, ""), tongbao.EINVALID, ledger.ErrSameAccount},
		{"breached net debit cap", pay(rich, across, 2*yuan, ""), tongbao.EUNPROCESSABLE, twotier.ErrNetDebitCap},
		{"issuance beyond reserves", func() error {
			_, err := e.svc.Issue(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: e.a, Amount: 100_000*yuan + 1})
			return err
		}, tongbao.EUNPROCESSABLE, ledger.ErrInsufficientFunds},
		{"redemption beyond the vault", func() error {
			_, err := e.svc.Redeem(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: e.a, Amount: 60_000 * yuan})
			return err
		}, tongbao.EUNPROCESSABLE, ledger.ErrInsufficientFunds},
		{"top-up beyond the vault", func() error {
			_, err := e.svc.TopUp(ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: rich.ID, Amount: 60_000 * yuan})
			return err
		}, tongbao.EUNPROCESSABLE, ledger.ErrInsufficientFunds},
		{"issuance to an unknown operator", func() error {
			_, err := e.svc.Issue(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: tongbao.NewID(), Amount: yuan})
			return err
		}, tongbao.ENOTFOUND, twotier.ErrInstitutionNotFound},
		{"closing a wallet with money", func() error {
			_, err := e.svc.SetState(ctx, payer.ID, twotier.StateClosed, "holder asked")
			return err
		}, tongbao.ECONFLICT, ledger.ErrAccountNotEmpty},
		{"a state without a reason", func() error {
			_, err := e.svc.SetState(ctx, payer.ID, twotier.StateSuspended, " ")
			return err
		}, tongbao.EINVALID, twotier.ErrReasonRequired},
		{"reopening a closed wallet", func() error {
			_, err := e.svc.SetState(ctx, closed.ID, twotier.StateActive, "")
			return err
		}, tongbao.EUNPROCESSABLE, twotier.ErrWalletClosed},
		{"a bad category", func() error {
			_, err := e.svc.OpenWallet(ctx, twotier.WalletSpec{Operator: e.a, Category: 5})
			return err
		}, tongbao.EINVALID, twotier.ErrCategoryInvalid},
		{"a merchant without a category code", func() error {
			_, err := e.svc.OpenWallet(ctx, twotier.WalletSpec{Operator: e.a, Category: twotier.Category2, Merchant: true, MerchantCategory: "58x2", Region: "310000"})
			return err
		}, tongbao.EINVALID, nil},
		{"a masked phone number", func() error {
			_, err := e.svc.OpenWallet(ctx, twotier.WalletSpec{Operator: e.b, Category: twotier.Category4, Phone: payer.AliasMasked})
			return err
		}, tongbao.EINVALID, nil},
	}
	for _, tt := range tests {
		before := e.snapshot(wallets...)
		err := tt.do()
		wantCode(t, tt.name, err, tt.code, tt.sentinel)
		if after := e.snapshot(wallets...); !maps.Equal(before, after) {
			t.Fatalf("%s changed balances:\nbefore %v\nafter  %v", tt.name, before, after)
		}
	}
	e.supplyOK("bad input")

	// The freeze lifts by itself; the states lift when told.
	e.clock.Set(start.Add(time.Hour))
	if _, err := e.pay(frozen, payee, yuan); err != nil {
		t.Fatalf("after the freeze ended: %v", err)
	}
	if _, err := e.svc.SetState(ctx, receiveOnly.ID, twotier.StateActive, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pay(receiveOnly, suspended, yuan); !errors.Is(err, ledger.ErrCreditsDisabled) {
		t.Fatalf("pay a suspended wallet: %v", err)
	}
	if _, err := e.svc.SetState(ctx, suspended.ID, twotier.StateActive, "investigation closed"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pay(receiveOnly, suspended, yuan); err != nil {
		t.Fatalf("after lifting: %v", err)
	}
	w, _ := e.svc.Wallet(ctx, frozen.ID)
	if w.FreezeReason != "police request 42" || w.Frozen(e.clock.Now()) {
		t.Fatalf("frozen wallet record %+v", w)
	}
	e.supplyOK("lifting states")
}

// TestAliasTaken checks that one phone number names one wallet.
func TestAliasTaken(t *testing.T) {
	e := newEnv(t, time.Date(2026, 9, 9, 9, 0, 0, 0, shanghai))
	e.wallet(e.a, twotier.Category4, "13612345678")
	_, err := e.svc.OpenWallet(e.ctx, twotier.WalletSpec{Operator: e.b, Category: twotier.Category4, Phone: "+13612345678"[1:]})
	wantCode(t, "a phone alias taken", err, tongbao.ECONFLICT, twotier.ErrAliasTaken)
}

// TestSettleDuringPayments settles windows while payments across
// operators run: every payment goes through (a payment that meets its
// window closed is booked again in the next, and a client retry with the
// same id finishes one that met two closures), the positions settled add
// up to the payments, and the supply holds.
func TestSettleDuringPayments(t *testing.T) {
	e := newEnv(t, time.Date(2026, 10, 1, 10, 0, 0, 0, shanghai))
	e.fund(1_000_000*yuan, 1_000_000*yuan)
	payer := e.wallet(e.a, twotier.Category1, "")
	payee := e.wallet(e.b, twotier.Category1, "")
	e.topUp(payer, 100_000*yuan)
	const payments = 200
	var wg sync.WaitGroup
	errs := make(chan error, payments)
	for i := 0; i < payments; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A payment that meets two closures in one call is refused
			// with ErrWindowClosed; the client retries it with the same id.
			p := twotier.Payment{ID: tongbao.NewID(), From: payer.ID, To: payee.ID, Amount: yuan}
			_, err := e.svc.Pay(e.ctx, p)
			for errors.Is(err, twotier.ErrWindowClosed) {
				_, err = e.svc.Pay(e.ctx, p)
			}
			errs <- err
		}()
	}
	var settled tongbao.Amount
	for i := 0; i < 5; i++ {
		st, err := e.svc.Settle(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
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
	if settled != payments*yuan {
		t.Fatalf("settled %v; want %v", settled, payments*yuan)
	}
	if got := e.balance(payee.ID); got != payments*yuan {
		t.Fatalf("payee holds %v; want %v", got, payments*yuan)
	}
	e.supplyOK("settling during payments")
	for _, op := range []tongbao.ID{e.a, e.b} {
		rec, err := e.svc.Reconcile(e.ctx, op, e.clock.Now())
		must(t, err)
		if len(rec.Differences) != 0 || rec.Records != payments {
			t.Fatalf("reconciliation of %v: %d records, differences %+v", op, rec.Records, rec.Differences)
		}
	}
}

// TestReconciliationListsDifferences damages the operator's records in
// the store and checks that reconciliation lists each difference and
// corrects nothing.
func TestReconciliationListsDifferences(t *testing.T) {
	e := newEnv(t, time.Date(2026, 11, 11, 11, 0, 0, 0, shanghai))
	e.fund(100_000*yuan, 100_000*yuan)
	payer := e.wallet(e.a, twotier.Category2, "")
	payee := e.wallet(e.b, twotier.Category2, "")
	e.topUp(payer, 1_000*yuan)
	var ids []tongbao.ID
	for i := 0; i < 3; i++ {
		p := twotier.Payment{ID: tongbao.NewID(), From: payer.ID, To: payee.ID, Amount: 10 * yuan}
		if _, err := e.svc.Pay(e.ctx, p); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	if _, err := e.svc.Settle(e.ctx); err != nil {
		t.Fatal(err)
	}
	// A lost answer (the record never learned the outcome), and a record
	// that says failed although the ledger posted it.
	for i, status := range []twotier.PaymentStatus{twotier.PaymentPending, twotier.PaymentFailed} {
		rec, err := e.store.Payment(e.ctx, ids[i])
		must(t, err)
		rec.Status = status
		must(t, e.store.UpdatePayment(e.ctx, rec))
	}
	rep, err := e.svc.Reconcile(e.ctx, e.a, e.clock.Now())
	must(t, err)
	kinds := map[string]int{}
	for _, d := range rep.Differences {
		kinds[d.Kind]++
	}
	want := map[string]int{twotier.DiffPending: 1, twotier.DiffUnrecorded: 1, twotier.DiffPosition: 1}
	if !maps.Equal(kinds, want) {
		t.Fatalf("differences %+v; want kinds %v", rep.Differences, want)
	}
	// Nothing was corrected.
	rec, err := e.store.Payment(e.ctx, ids[0])
	must(t, err)
	if rec.Status != twotier.PaymentPending {
		t.Fatalf("record corrected to %s", rec.Status)
	}
	e.supplyOK("reconciliation")
}

// TestSupplyWhilePaying checks the supply while payments within and across
// operators run: the report must never show a difference, not even one
// that is only money in flight between two of the balances it sums.
func TestSupplyWhilePaying(t *testing.T) {
	e := newEnv(t, time.Date(2026, 10, 1, 10, 0, 0, 0, shanghai))
	e.fund(1_000_000*yuan, 1_000_000*yuan)
	a1 := e.wallet(e.a, twotier.Category1, "")
	a2 := e.wallet(e.a, twotier.Category1, "")
	b1 := e.wallet(e.b, twotier.Category1, "")
	e.topUp(a1, 100_000*yuan)
	// Idle wallets make the report read for longer, across many commits.
	for i := 0; i < 300; i++ {
		e.wallet([]tongbao.ID{e.a, e.b}[i%2], twotier.Category1, "")
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, to := range []twotier.Wallet{a2, b1} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.pay(a1, to, yuan); err != nil {
					t.Errorf("payment: %v", err)
					return
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		r, err := e.svc.SupplyReport(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK {
			t.Fatalf("supply report %d while paying: %+v", i, r)
		}
	}
	close(stop)
	wg.Wait()
	e.supplyOK("after the payments")
}

// TestSettleCrashBeforeNextWindow restarts the service from the state a
// crash leaves between Settle marking the current window closing and
// storing the next one (`tongbao chaos` found it on PostgreSQL): the
// restart must finish settling the old window and open the next, so
// payments across operators and the next Settle go on. Before, no window
// was open after the restart and every close failed.
func TestSettleCrashBeforeNextWindow(t *testing.T) {
	e := newEnv(t, time.Date(2026, 11, 11, 11, 0, 0, 0, shanghai))
	e.fund(100_000*yuan, 100_000*yuan)
	payer := e.wallet(e.a, twotier.Category2, "")
	payee := e.wallet(e.b, twotier.Category2, "")
	e.topUp(payer, 1_000*yuan)
	_, err := e.pay(payer, payee, 10*yuan)
	must(t, err)
	ws, err := e.store.Windows(e.ctx, 0)
	must(t, err)
	if len(ws) != 1 || ws[0].Status != twotier.WindowOpen {
		t.Fatalf("windows %+v; want one open", ws)
	}
	crashed := ws[0]
	crashed.Status, crashed.ClosedAt = twotier.WindowClosing, e.clock.Now()
	must(t, e.store.UpdateWindow(e.ctx, crashed))
	e.restart()

	if got := e.svc.CurrentWindow(); got != crashed.Number+1 {
		t.Fatalf("current window %d after the restart; want %d", got, crashed.Number+1)
	}
	ws, err = e.store.Windows(e.ctx, 0)
	must(t, err)
	if len(ws) != 2 || ws[0].Status != twotier.WindowSettled || ws[1].Status != twotier.WindowOpen {
		t.Fatalf("windows after the restart %+v; want the first settled, the second open", ws)
	}
	if ws[0].Positions[e.a] != 10*yuan {
		t.Fatalf("window %d settled %v for the payer's operator; want 10.00", ws[0].Number, ws[0].Positions[e.a])
	}
	res, err := e.pay(payer, payee, 5*yuan)
	must(t, err)
	if res.Window != crashed.Number+1 {
		t.Fatalf("payment after the restart in window %d; want %d", res.Window, crashed.Number+1)
	}
	st, err := e.svc.Settle(e.ctx)
	must(t, err)
	if st.Window != crashed.Number+1 || st.Positions[e.a] != 5*yuan {
		t.Fatalf("settlement after the restart %+v; want window %d with 5.00 for the payer's operator", st, crashed.Number+1)
	}
	e.supplyOK("settle after a crash before the next window")
}
