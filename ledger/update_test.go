package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

func (h *harness) update(u ledger.AccountUpdate) error {
	h.t.Helper()
	errs, err := h.l.UpdateAccounts(context.Background(), []ledger.AccountUpdate{u})
	if err != nil {
		h.t.Fatalf("update accounts: %v", err)
	}
	return errs[0]
}

func TestAccountStates(t *testing.T) {
	h := seeded(t)
	w2, w3 := tongbao.IDFromUint64(2), tongbao.IDFromUint64(3)

	// Receive-only: may receive, may not pay.
	if err := h.update(ledger.AccountUpdate{ID: w2, SetFlags: ledger.FlagDebitsDisabled}); err != nil {
		t.Fatal(err)
	}
	h.fails(xfer(1001, 2, 3, 1), ledger.ErrDebitsDisabled)
	h.must(xfer(1002, 1, 2, 1))
	h.reopen() // the state survives a restart
	h.fails(xfer(1003, 2, 3, 1), ledger.ErrDebitsDisabled)
	if err := h.update(ledger.AccountUpdate{ID: w2, ClearFlags: ledger.FlagDebitsDisabled}); err != nil {
		t.Fatal(err)
	}
	h.must(xfer(1004, 2, 3, 1))

	// A freeze until a moment lifts by itself.
	until := h.clock.Now().Add(time.Hour).UnixNano()
	if err := h.update(ledger.AccountUpdate{ID: w3, FrozenUntil: &until}); err != nil {
		t.Fatal(err)
	}
	h.fails(xfer(1005, 3, 2, 1), ledger.ErrAccountFrozen)
	h.fails(xfer(1006, 2, 3, 1), ledger.ErrAccountFrozen)
	h.clock.Advance(time.Hour)
	h.must(xfer(1007, 3, 2, 1))

	// A hold on a frozen account can be voided but not posted.
	hold := xfer(1010, 2, 3, 50)
	hold.Flags = ledger.FlagPending
	h.must(hold)
	until = h.clock.Now().Add(time.Hour).UnixNano()
	if err := h.update(ledger.AccountUpdate{ID: w2, FrozenUntil: &until}); err != nil {
		t.Fatal(err)
	}
	h.fails(ledger.Transfer{ID: tongbao.IDFromUint64(1011), PendingID: hold.ID, Flags: ledger.FlagPostPending}, ledger.ErrAccountFrozen)
	h.must(ledger.Transfer{ID: tongbao.IDFromUint64(1012), PendingID: hold.ID, Flags: ledger.FlagVoidPending})

	// Closing needs an empty account and is final.
	h.clock.Advance(time.Hour)
	h.must(xfer(1013, 2, 3, 500))
	if err := h.update(ledger.AccountUpdate{ID: w3, SetFlags: ledger.FlagClosed}); !errors.Is(err, ledger.ErrAccountNotEmpty) {
		t.Fatalf("closing a funded account: got %v; want ErrAccountNotEmpty", err)
	}
	b := h.balance(w3)
	h.must(xfer(1020, 3, 2, b.Net()))
	if err := h.update(ledger.AccountUpdate{ID: w3, SetFlags: ledger.FlagClosed}); err != nil {
		t.Fatalf("closing an empty account: %v", err)
	}
	h.fails(xfer(1021, 2, 3, 1), ledger.ErrAccountClosed)
	if err := h.update(ledger.AccountUpdate{ID: w3, ClearFlags: ledger.FlagClosed}); !errors.Is(err, ledger.ErrAccountReopen) {
		t.Fatalf("reopening: got %v; want ErrAccountReopen", err)
	}
	if err := h.update(ledger.AccountUpdate{ID: tongbao.IDFromUint64(404), SetFlags: ledger.FlagDebitsDisabled}); !errors.Is(err, ledger.ErrAccountNotFound) {
		t.Fatalf("unknown account: got %v; want ErrAccountNotFound", err)
	}
	if err := h.update(ledger.AccountUpdate{ID: w2, SetFlags: ledger.FlagDebitsMustNotExceedCredits}); tongbao.ErrorCode(err) != tongbao.EINVALID {
		t.Fatalf("changing a balance flag: got %v; want EINVALID", err)
	}
	checkInvariants(t, h.balances())
}

func TestLimitChanges(t *testing.T) {
	h := seeded(t) // wallet 2 holds 1000.00
	w2 := tongbao.IDFromUint64(2)
	h.must(xfer(1100, 2, 3, 300_00))
	tight := ledger.Limits{BalanceMax: 500_00}
	if err := h.update(ledger.AccountUpdate{ID: w2, Limits: &tight, WithinLimits: true}); !errors.Is(err, ledger.ErrBalanceLimit) {
		t.Fatalf("downgrade past the balance: got %v; want ErrBalanceLimit", err)
	}
	daily := ledger.Limits{DailyDebitMax: 200_00}
	if err := h.update(ledger.AccountUpdate{ID: w2, Limits: &daily, WithinLimits: true}); !errors.Is(err, ledger.ErrDailyLimit) {
		t.Fatalf("daily cap below today's spending: got %v; want ErrDailyLimit", err)
	}
	loose := ledger.Limits{BalanceMax: 1000_00, DebitMax: 100_00}
	if err := h.update(ledger.AccountUpdate{ID: w2, Limits: &loose, WithinLimits: true}); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	h.fails(xfer(1101, 2, 3, 100_01), ledger.ErrDebitLimit)
	h.must(xfer(1102, 2, 3, 100_00))
	if a, err := h.l.Account(context.Background(), w2); err != nil || a.Limits != loose {
		t.Fatalf("stored limits got %+v, %v; want %+v", a.Limits, err, loose)
	}
}

// TestCreditLineNeverShrinksBelowUse guards invariant 3 against an update:
// an account using its credit line cannot have the line cut below what it
// uses (the floor would be left behind); down to exactly that is allowed.
func TestCreditLineNeverShrinksBelowUse(t *testing.T) {
	h := newHarness(t)
	overdraft := acct(2, wallet)
	overdraft.CreditLine = 500
	h.accounts(acct(1, 0), overdraft, acct(3, wallet))
	h.must(xfer(1, 2, 3, 300)) // 3.00 into the credit line
	w2 := tongbao.IDFromUint64(2)
	tooLow := tongbao.Amount(299)
	if err := h.update(ledger.AccountUpdate{ID: w2, CreditLine: &tooLow}); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("credit line below use: got %v; want ErrInsufficientFunds", err)
	}
	if a, _ := h.l.Account(context.Background(), w2); a.CreditLine != 500 {
		t.Fatalf("refused update changed the credit line to %v", a.CreditLine)
	}
	exact := tongbao.Amount(300)
	if err := h.update(ledger.AccountUpdate{ID: w2, CreditLine: &exact}); err != nil {
		t.Fatalf("credit line down to its use: %v", err)
	}
	h.fails(xfer(2, 2, 3, 1), ledger.ErrInsufficientFunds)
	checkInvariants(t, h.balances())
}
