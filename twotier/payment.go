package twotier

import (
	"context"
	"errors"
	"fmt"
	"sort"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// Payment is a payment from one wallet to another.
type Payment struct {
	// ID is the idempotency id: the same payment again returns its first
	// result; other content under the same id is a conflict.
	ID       tongbao.ID
	From, To tongbao.ID
	Amount   tongbao.Amount
	Currency tongbao.Currency // empty means the service's currency
}

// PaymentResult is the outcome of a payment that went through.
type PaymentResult struct {
	// Timestamp is the ledger timestamp of the payer's leg, and
	// PayeeTimestamp that of the payee's (the same transfer within one
	// operator): each side finds its part of the payment in its wallet's
	// history by them.
	Timestamp      int64
	PayeeTimestamp int64
	// CrossOperator says the payee is at another operator; Window is then
	// the settlement window the payment was booked in.
	CrossOperator bool
	Window        uint64
	Duplicate     bool
}

// Pay pays from one wallet to another. Within one operator it is one
// transfer. Across operators it is a linked chain: payer wallet → payer
// operator's clearing account, and payee operator's clearing account →
// payee wallet, both in the current settlement window; the payer
// operator's clearing account refuses a payment past its net debit cap
// (ErrNetDebitCap). Every cap of the payer's wallet and the payee's
// balance cap are the engine's to enforce.
//
// A payment that meets a window closed under it (its clearing accounts
// disabled by Settle) is booked again, once, in the new window under ids
// derived from the payment id.
func (s *Service) Pay(ctx context.Context, p Payment) (PaymentResult, error) {
	if p.ID.IsZero() {
		return PaymentResult{}, ErrIDRequired
	}
	if err := s.checkMoney(p.Amount, p.Currency); err != nil {
		return PaymentResult{}, err
	}
	from, err := s.paymentWallet(ctx, p.From)
	if err != nil {
		return PaymentResult{}, wrap("payer wallet", err)
	}
	to, err := s.paymentWallet(ctx, p.To)
	if err != nil {
		return PaymentResult{}, wrap("payee wallet", err)
	}
	if from.Operator == to.Operator {
		rs, _, err := s.submit(ctx, []ledger.Transfer{{ID: p.ID, DebitAccountID: from.ID, CreditAccountID: to.ID, Amount: p.Amount, Code: TransferPayment}})
		if err != nil {
			return PaymentResult{}, wrap("payment", err)
		}
		return PaymentResult{Timestamp: rs[0].Timestamp, PayeeTimestamp: rs[0].Timestamp, Duplicate: rs[0].Duplicate}, nil
	}
	return s.payAcross(ctx, p, from, to)
}

func (s *Service) payAcross(ctx context.Context, p Payment, from, to Wallet) (PaymentResult, error) {
	rec := s.newPaymentRecord(p, from, to)
	// The record is written before the ledger is asked, with the window
	// the legs go to: a retry after a lost answer books the same legs in
	// the same window, and the ledger answers it as a duplicate.
	stored, created, err := s.store.CreatePayment(ctx, rec)
	if err != nil {
		return PaymentResult{}, err
	}
	if rec, err = samePayment(rec, stored, created); err != nil {
		return PaymentResult{}, err
	}
	return s.bookAcross(ctx, rec, 0)
}

// newPaymentRecord returns the pending record of a cross-operator payment
// in the current window.
func (s *Service) newPaymentRecord(p Payment, from, to Wallet) PaymentRecord {
	return PaymentRecord{
		ID: p.ID, PayerOperator: from.Operator, PayeeOperator: to.Operator, PayerWallet: from.ID, PayeeWallet: to.ID,
		Amount: p.Amount, Currency: s.currency, Window: s.CurrentWindow(), Status: PaymentPending, CreatedAt: s.clock.Now(),
	}
}

// samePayment returns the record to book after CreatePayment: the stored
// one when the id was already used by the same payment, tongbao.ErrIDConflict
// when it was used by another.
func samePayment(rec, stored PaymentRecord, created bool) (PaymentRecord, error) {
	if created {
		return rec, nil
	}
	if stored.PayerWallet != rec.PayerWallet || stored.PayeeWallet != rec.PayeeWallet || stored.Amount != rec.Amount || stored.Currency != rec.Currency {
		return PaymentRecord{}, tongbao.ErrIDConflict
	}
	return stored, nil
}

// bookAcross submits a recorded cross-operator payment's legs and records
// the outcome; attempt is how many times it was already booked again in
// a new window.
func (s *Service) bookAcross(ctx context.Context, rec PaymentRecord, attempt int) (PaymentResult, error) {
	for ; ; attempt++ {
		rs, i, err := s.submit(ctx, crossLegs(rec.ID, rec))
		if i < 0 && err != nil { // the request failed as a whole: the outcome is unknown
			return PaymentResult{}, err
		}
		out, res, perr, again := s.acrossOutcome(rec, rs, i, err, attempt)
		if again {
			rec = out
			if uerr := s.store.UpdatePayment(ctx, rec); uerr != nil {
				return PaymentResult{}, uerr
			}
			continue
		}
		if uerr := s.store.UpdatePayment(ctx, out); uerr != nil {
			return PaymentResult{}, uerr
		}
		return res, perr
	}
}

// acrossOutcome reads the ledger's answer to a cross-operator payment's
// legs (rs, and i and err as submit returns them for the chain): the
// record to store and the payment's result. again says the legs met a
// window closed under them on the first attempt: the record returned is
// then the pending one moved to the current window, to be stored and
// booked again.
func (s *Service) acrossOutcome(rec PaymentRecord, rs []ledger.Result, i int, err error, attempt int) (out PaymentRecord, res PaymentResult, perr error, again bool) {
	if err == nil {
		rec.Status, rec.Reason = PaymentPosted, ""
		rec.PayerTimestamp, rec.PayeeTimestamp = rs[0].Timestamp, rs[1].Timestamp
		return rec, PaymentResult{Timestamp: rs[0].Timestamp, PayeeTimestamp: rs[1].Timestamp, CrossOperator: true, Window: rec.Window, Duplicate: rs[0].Duplicate}, nil, false
	}
	windowClosed := (i == 0 && errors.Is(err, ledger.ErrCreditsDisabled)) || (i == 1 && errors.Is(err, ledger.ErrDebitsDisabled))
	if windowClosed {
		if cur := s.CurrentWindow(); cur != rec.Window && attempt == 0 {
			rec.Window = cur
			return rec, PaymentResult{}, nil, true
		}
		err = ErrWindowClosed
	}
	switch {
	case i == 0 && errors.Is(err, ledger.ErrBalanceLimit):
		err = ErrNetDebitCap
	case i == 0:
		err = wrap("payer wallet", err)
	case i == 1:
		err = wrap("payee wallet", err)
	}
	rec.Status, rec.Reason = PaymentFailed, tongbao.ErrorMessage(err)
	return rec, PaymentResult{}, err, false
}

// crossLegs returns the two linked legs of a cross-operator payment in the
// record's window. The ids depend on the window, so booking it again in a
// new window uses fresh ids.
func crossLegs(id tongbao.ID, rec PaymentRecord) []ledger.Transfer {
	return chain(
		ledger.Transfer{ID: deriveID("pay-out", id, rec.Window), DebitAccountID: rec.PayerWallet, CreditAccountID: clearingAccount(rec.PayerOperator, rec.Window), Amount: rec.Amount, Code: TransferCrossPayment},
		ledger.Transfer{ID: deriveID("pay-in", id, rec.Window), DebitAccountID: clearingAccount(rec.PayeeOperator, rec.Window), CreditAccountID: rec.PayeeWallet, Amount: rec.Amount, Code: TransferCrossPayment},
	)
}

// Settlement is the outcome of settling a window.
type Settlement struct {
	Window uint64
	// Positions are the operators' net positions settled: positive for an
	// operator that owed (and lost that much backing), negative for one
	// that was owed (and gained it).
	Positions map[tongbao.ID]tongbao.Amount
}

// Settle closes the current settlement window and settles it:
//
//  1. it opens the next window (its clearing accounts, then makes it
//     current, so new payments go there);
//  2. it disables the old window's clearing accounts through the ledger's
//     writer, which orders the change after every payment already
//     accepted: from then on the old positions cannot move, and a payment
//     that still meets them is booked again in the new window;
//  3. it reads the final positions and moves backing at the central bank
//     between the operators by them, in one linked chain through the
//     central bank's clearing account.
//
// The old clearing accounts keep their final balances, as the central
// bank's record of the window (reconciliation reads them); the supply
// check counts only windows not yet settled. This differs from zeroing
// them against the central bank's clearing account: the engine refuses
// every transfer on a disabled account, and enabling them again to zero
// them would let a late payment move a position after it was read.
//
// A window whose settlement a crash interrupted is finished by the next
// Settle or by Open. Settle is safe to call concurrently with payments.
func (s *Service) Settle(ctx context.Context) (Settlement, error) { return s.CloseWindow(ctx, 0) }

// ErrNotCurrentWindow is returned by CloseWindow for a window that is not
// the current one: most often a retry or a second caller after the window
// was closed.
var ErrNotCurrentWindow = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "the window is not the current settlement window")

// CloseWindow is Settle for window n, which must be the current window
// when the settlement lock is taken (zero: whichever is current). Closes
// of the same window sent together close it once; the others get
// ErrNotCurrentWindow, so a retry after a lost answer never closes the
// next window too.
func (s *Service) CloseWindow(ctx context.Context, n uint64) (Settlement, error) {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if cur := s.CurrentWindow(); n != 0 && n != cur {
		return Settlement{}, fmt.Errorf("%w: window %d is not the current window (%d)", ErrNotCurrentWindow, n, cur)
	}
	ws, err := s.store.Windows(ctx, 0)
	if err != nil {
		return Settlement{}, err
	}
	for _, w := range ws {
		if w.Status == WindowClosing {
			if _, err := s.settle(ctx, w); err != nil {
				return Settlement{}, err
			}
		}
	}
	ops, err := s.operators(ctx)
	if err != nil {
		return Settlement{}, err
	}
	cur := s.CurrentWindow()
	var old Window
	for _, w := range ws {
		if w.Number == cur {
			old = w
		}
	}
	if old.Number != cur {
		return Settlement{}, fmt.Errorf("settle: %w: %d", ErrWindowNotFound, cur)
	}
	now := s.clock.Now()
	next := cur + 1
	if err := s.createClearing(ctx, ops, next); err != nil {
		return Settlement{}, fmt.Errorf("settle: open window %d: %w", next, err)
	}
	// A crash from here until the next window is stored leaves no window
	// open: Open then opens the next (see openWindow).
	old.Status, old.ClosedAt = WindowClosing, now
	if err := s.store.UpdateWindow(ctx, old); err != nil {
		return Settlement{}, err
	}
	if err := s.store.CreateWindow(ctx, Window{Number: next, Status: WindowOpen, OpenedAt: now}); err != nil && !errors.Is(err, ErrWindowExists) {
		return Settlement{}, err
	}
	s.mu.Lock()
	s.window = next
	s.mu.Unlock()
	return s.settle(ctx, old)
}

// createClearing creates the operators' clearing accounts of window n (an
// account that exists already is kept).
func (s *Service) createClearing(ctx context.Context, ops []Institution, n uint64) error {
	accounts := make([]ledger.Account, 0, len(ops))
	for _, op := range ops {
		accounts = append(accounts, s.clearing(op.ID, n, op.NetDebitCap))
	}
	return s.createAccounts(ctx, accounts)
}

// openWindow opens window n with its clearing accounts: what Settle does
// after closing window n-1, done again by Open when a crash came between.
func (s *Service) openWindow(ctx context.Context, n uint64) error {
	ops, err := s.operators(ctx)
	if err != nil {
		return err
	}
	if err := s.createClearing(ctx, ops, n); err != nil {
		return fmt.Errorf("open window %d: %w", n, err)
	}
	if err := s.store.CreateWindow(ctx, Window{Number: n, Status: WindowOpen, OpenedAt: s.clock.Now()}); err != nil && !errors.Is(err, ErrWindowExists) {
		return fmt.Errorf("open window %d: %w", n, err)
	}
	return nil
}

// settle finishes a closing window: disables its clearing accounts, moves
// backing by the final positions and records them. Every step is
// idempotent, so it may be run again after a crash.
func (s *Service) settle(ctx context.Context, w Window) (Settlement, error) {
	cb, err := s.centralBank()
	if err != nil {
		return Settlement{}, err
	}
	ops, err := s.operators(ctx)
	if err != nil {
		return Settlement{}, err
	}
	sort.Slice(ops, func(i, j int) bool { return string(ops[i].ID[:]) < string(ops[j].ID[:]) })
	us := make([]ledger.AccountUpdate, len(ops))
	for i, op := range ops {
		us[i] = ledger.AccountUpdate{ID: clearingAccount(op.ID, w.Number), SetFlags: ledger.FlagDebitsDisabled | ledger.FlagCreditsDisabled}
	}
	for len(us) > 0 {
		n := min(len(us), s.ledger.BatchMax())
		errs, err := s.ledger.UpdateAccounts(ctx, us[:n])
		if err != nil {
			return Settlement{}, err
		}
		for i, e := range errs {
			if e != nil && !errors.Is(e, ledger.ErrAccountNotFound) { // an operator added after the window had no account in it
				return Settlement{}, fmt.Errorf("settle: close clearing account %v: %w", us[i].ID, e)
			}
		}
		us = us[n:]
	}
	// UpdateAccounts returned once durable, after every batch before it:
	// the store now holds the positions' final balances.
	positions, err := s.runningPositions(ctx, w.Number, ops)
	if err != nil {
		return Settlement{}, err
	}
	var ts []ledger.Transfer
	var sum tongbao.Amount
	hub := centralClearingAccount(cb)
	for _, op := range ops {
		net, ok := positions[op.ID]
		if !ok {
			continue
		}
		sum += net
		t := ledger.Transfer{ID: deriveID("settle", w.Number, op.ID), Amount: net, Code: TransferSettlement, Metadata: fmt.Sprintf("window %d", w.Number)}
		if net > 0 { // owed others: loses backing
			t.DebitAccountID, t.CreditAccountID = backingAccount(cb, op.ID), hub
		} else {
			t.DebitAccountID, t.CreditAccountID, t.Amount = hub, backingAccount(cb, op.ID), -net
		}
		ts = append(ts, t)
	}
	if sum != 0 {
		// Every payment credits one clearing account and debits another by
		// the same amount: positions that do not sum to zero are a bug.
		panic(fmt.Sprintf("twotier: window %d positions sum to %v, not zero", w.Number, sum))
	}
	// Operators that owed first, so the hub never has to front anything;
	// it has no floor, but the order keeps the chain readable.
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].CreditAccountID == hub && ts[j].CreditAccountID != hub })
	if len(ts) > s.ledger.BatchMax() {
		return Settlement{}, tongbao.Errorf(tongbao.EINTERNAL, "settlement of %d operators does not fit one linked chain", len(ts))
	}
	if len(ts) > 0 {
		if _, _, err := s.submit(ctx, chain(ts...)); err != nil {
			return Settlement{}, fmt.Errorf("settle window %d: %w", w.Number, err)
		}
	}
	w.Status, w.SettledAt, w.Positions = WindowSettled, s.clock.Now(), positions
	if err := s.store.UpdateWindow(ctx, w); err != nil {
		return Settlement{}, err
	}
	return Settlement{Window: w.Number, Positions: positions}, nil
}

// settlementID returns the id of the first transfer of a window's
// settlement chain for an operator (used to learn whether and when it
// posted).
func settlementID(window uint64, op tongbao.ID) tongbao.ID { return deriveID("settle", window, op) }
