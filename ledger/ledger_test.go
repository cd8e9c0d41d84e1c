package ledger_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

const wallet = ledger.FlagDebitsMustNotExceedCredits

// seeded returns a ledger with an issuer (1) and wallets 2 and 3, wallet 2
// holding 1000.00.
func seeded(t *testing.T) *harness {
	h := newHarness(t)
	h.accounts(acct(1, 0), acct(2, wallet), acct(3, wallet))
	h.must(xfer(100, 1, 2, 100000))
	return h
}

func TestTransferMovesMoney(t *testing.T) {
	h := seeded(t)
	r := h.must(xfer(101, 2, 3, 2500))
	if r.Timestamp == 0 || r.Duplicate {
		t.Fatalf("got %+v; want a fresh timestamp", r)
	}
	if b := h.balance(tongbao.IDFromUint64(2)); b.Net() != 97500 {
		t.Fatalf("payer net got %v; want 975.00", b.Net())
	}
	if b := h.balance(tongbao.IDFromUint64(3)); b.Net() != 2500 {
		t.Fatalf("payee net got %v; want 25.00", b.Net())
	}
	checkInvariants(t, h.balances())
}

func TestTransferErrors(t *testing.T) {
	h := seeded(t)
	currencyless := acct(9, wallet)
	currencyless.Currency = "USD"
	h.accounts(currencyless)
	tests := []struct {
		name string
		t    ledger.Transfer
		want error
	}{
		{"zero id", xfer(0, 2, 3, 1), ledger.ErrIDZero},
		{"zero amount", xfer(201, 2, 3, 0), tongbao.ErrAmountInvalid},
		{"negative amount", xfer(202, 2, 3, -5), tongbao.ErrAmountInvalid},
		{"same account", xfer(203, 2, 2, 1), ledger.ErrSameAccount},
		{"unknown debit", xfer(204, 77, 3, 1), ledger.ErrDebitAccountNotFound},
		{"unknown credit", xfer(205, 2, 77, 1), ledger.ErrCreditAccountNotFound},
		{"currency mismatch", xfer(206, 2, 9, 1), ledger.ErrCurrencyMismatch},
		{"insufficient funds", xfer(207, 2, 3, 100001), ledger.ErrInsufficientFunds},
		{"empty wallet", xfer(208, 3, 2, 1), ledger.ErrInsufficientFunds},
		{"overflow", xfer(209, 1, 3, tongbao.AmountMax), ledger.ErrOverflow},
		{"client sets expired", func() ledger.Transfer { x := xfer(210, 2, 3, 1); x.Flags = ledger.FlagExpired; return x }(), ledger.ErrFlagsInvalid},
		{"two kinds", func() ledger.Transfer {
			x := xfer(211, 2, 3, 1)
			x.Flags = ledger.FlagPending | ledger.FlagVoidPending
			return x
		}(), ledger.ErrFlagsInvalid},
		{"timeout without pending", func() ledger.Transfer { x := xfer(212, 2, 3, 1); x.TimeoutSeconds = 5; return x }(), ledger.ErrTimeoutInvalid},
		{"metadata too long", func() ledger.Transfer {
			x := xfer(213, 2, 3, 1)
			x.Metadata = strings.Repeat("x", ledger.MetadataMax+1)
			return x
		}(), ledger.ErrMetadataTooLong},
		{"post without pending id", func() ledger.Transfer { x := xfer(214, 0, 0, 0); x.Flags = ledger.FlagPostPending; return x }(), ledger.ErrPendingIDZero},
		{"post unknown hold", func() ledger.Transfer {
			x := xfer(215, 0, 0, 0)
			x.Flags = ledger.FlagPostPending
			x.PendingID = tongbao.IDFromUint64(999)
			return x
		}(), ledger.ErrPendingNotFound},
		{"post a plain transfer", func() ledger.Transfer {
			x := xfer(216, 0, 0, 0)
			x.Flags = ledger.FlagVoidPending
			x.PendingID = tongbao.IDFromUint64(100)
			return x
		}(), ledger.ErrPendingNotPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.fails(tt.t, tt.want)
			// The answer sticks to the id (a zero id has none to stick to).
			if tt.t.ID.IsZero() {
				return
			}
			r := h.submit(tt.t)[0]
			if !errors.Is(r.Err, tt.want) || !r.Duplicate {
				t.Fatalf("resubmitted: got %+v; want the same failure, marked duplicate", r)
			}
		})
	}
	checkInvariants(t, h.balances())
}

func TestFailedIDNeverSucceedsLater(t *testing.T) {
	h := seeded(t)
	h.fails(xfer(300, 3, 2, 500), ledger.ErrInsufficientFunds)
	h.must(xfer(301, 2, 3, 1000)) // now wallet 3 could pay
	h.fails(xfer(300, 3, 2, 500), ledger.ErrInsufficientFunds)
	h.reopen()
	h.fails(xfer(300, 3, 2, 500), ledger.ErrInsufficientFunds)
}

func TestIdempotency(t *testing.T) {
	h := seeded(t)
	first := h.must(xfer(400, 2, 3, 700))
	before := h.balances()
	for _, restart := range []bool{false, true} {
		if restart {
			h.reopen()
		}
		again := h.submit(xfer(400, 2, 3, 700))[0]
		if again.Err != nil || !again.Duplicate || again.Timestamp != first.Timestamp {
			t.Fatalf("resubmit (restart %v): got %+v; want the first result %+v as a duplicate", restart, again, first)
		}
		h.fails(xfer(400, 2, 3, 701), tongbao.ErrIDConflict)
		if !equalBalances(before, h.balances()) {
			t.Fatal("resubmission changed balances")
		}
	}
	// The same id twice in one request: the second is a duplicate.
	rs := h.submit(xfer(401, 2, 3, 1), xfer(401, 2, 3, 1), xfer(401, 2, 3, 2))
	if rs[0].Err != nil || !rs[1].Duplicate || rs[1].Timestamp != rs[0].Timestamp || !errors.Is(rs[2].Err, tongbao.ErrIDConflict) {
		t.Fatalf("same id in one request: got %+v", rs)
	}
}

func TestAccountLimits(t *testing.T) {
	h := newHarness(t)
	capped := acct(2, wallet)
	capped.Limits = ledger.Limits{BalanceMax: 10000_00, DebitMax: 2000_00, DailyDebitMax: 5000_00, YearlyDebitMax: 9000_00}
	h.accounts(acct(1, 0), capped, acct(3, wallet))
	h.fails(xfer(1, 1, 2, 10000_01), ledger.ErrBalanceLimit)
	h.must(xfer(2, 1, 2, 10000_00))
	h.fails(xfer(3, 1, 2, 1), ledger.ErrBalanceLimit)
	h.fails(xfer(4, 2, 3, 2000_01), ledger.ErrDebitLimit)
	h.must(xfer(5, 2, 3, 2000_00))
	h.must(xfer(6, 2, 3, 2000_00))
	h.fails(xfer(7, 2, 3, 1000_01), ledger.ErrDailyLimit)
	if r := h.submit(xfer(7, 2, 3, 1000_01))[0]; !errors.Is(r.Err, ledger.ErrLimitExceeded) {
		t.Fatalf("daily limit error got %v; want it to match ErrLimitExceeded", r.Err)
	}
	h.must(xfer(8, 2, 3, 1000_00))

	// Midnight in Shanghai (not UTC) opens a new day.
	h.clock.Set(time.Date(2026, 3, 5, 23, 59, 59, 0, shanghai()))
	h.fails(xfer(9, 2, 3, 1), ledger.ErrDailyLimit)
	h.clock.Set(time.Date(2026, 3, 6, 0, 0, 0, 0, shanghai()))
	h.must(xfer(10, 3, 2, 5000_00)) // refill
	h.must(xfer(11, 2, 3, 2000_00))
	h.must(xfer(12, 2, 3, 2000_00))
	// 9000 spent this year: the yearly cap binds before the daily one.
	h.fails(xfer(13, 2, 3, 1), ledger.ErrYearlyLimit)
	h.reopen() // counters survive a restart
	h.fails(xfer(14, 2, 3, 1), ledger.ErrYearlyLimit)
	h.clock.Set(time.Date(2027, 1, 1, 0, 0, 0, 0, shanghai()))
	h.must(xfer(15, 2, 3, 2000_00))
	checkInvariants(t, h.balances())
}

func TestHoldsCountAgainstLimits(t *testing.T) {
	h := newHarness(t)
	capped := acct(2, wallet)
	capped.Limits = ledger.Limits{BalanceMax: 1000_00, DailyDebitMax: 500_00}
	h.accounts(acct(1, 0), capped, acct(3, wallet))
	// A pending credit fills the balance cap.
	hold := xfer(1, 1, 2, 800_00)
	hold.Flags = ledger.FlagPending
	h.must(hold)
	h.fails(xfer(2, 1, 2, 300_00), ledger.ErrBalanceLimit)
	post := ledger.Transfer{ID: tongbao.IDFromUint64(3), PendingID: hold.ID, Flags: ledger.FlagPostPending}
	h.must(post)
	// A pending debit uses the daily cap and the funds; voiding gives both back.
	spend := xfer(4, 2, 3, 500_00)
	spend.Flags = ledger.FlagPending
	h.must(spend)
	h.fails(xfer(5, 2, 3, 1), ledger.ErrDailyLimit)
	h.must(ledger.Transfer{ID: tongbao.IDFromUint64(6), PendingID: spend.ID, Flags: ledger.FlagVoidPending})
	h.must(xfer(7, 2, 3, 500_00))
	checkInvariants(t, h.balances())
}

func TestHolds(t *testing.T) {
	h := seeded(t)
	w2, w3 := tongbao.IDFromUint64(2), tongbao.IDFromUint64(3)
	hold := xfer(500, 2, 3, 300)
	hold.Flags = ledger.FlagPending
	h.must(hold)
	if b := h.balance(w2); b.DebitsPending != 300 || b.Available() != 100000-300 {
		t.Fatalf("after hold: got %+v; want 3.00 pending", b)
	}
	h.fails(xfer(501, 2, 3, 100000-299), ledger.ErrInsufficientFunds)
	h.fails(ledger.Transfer{ID: tongbao.IDFromUint64(502), PendingID: hold.ID, Flags: ledger.FlagPostPending, Amount: 301}, ledger.ErrPostExceedsPending)
	h.fails(ledger.Transfer{ID: tongbao.IDFromUint64(503), PendingID: hold.ID, Flags: ledger.FlagPostPending, DebitAccountID: w3}, ledger.ErrPendingAccountMismatch)
	h.must(ledger.Transfer{ID: tongbao.IDFromUint64(504), PendingID: hold.ID, Flags: ledger.FlagPostPending, Amount: 200})
	if b := h.balance(w2); b.DebitsPending != 0 || b.Net() != 100000-200 {
		t.Fatalf("after partial post: got %+v; want 2.00 posted, nothing pending", b)
	}
	h.fails(ledger.Transfer{ID: tongbao.IDFromUint64(505), PendingID: hold.ID, Flags: ledger.FlagVoidPending}, ledger.ErrPendingAlreadyPosted)
	h.reopen()
	h.fails(ledger.Transfer{ID: tongbao.IDFromUint64(506), PendingID: hold.ID, Flags: ledger.FlagPostPending}, ledger.ErrPendingAlreadyPosted)

	void := xfer(510, 2, 3, 400)
	void.Flags = ledger.FlagPending
	h.must(void)
	h.must(ledger.Transfer{ID: tongbao.IDFromUint64(511), PendingID: void.ID, Flags: ledger.FlagVoidPending})
	h.fails(ledger.Transfer{ID: tongbao.IDFromUint64(512), PendingID: void.ID, Flags: ledger.FlagPostPending}, ledger.ErrPendingAlreadyVoided)
	if b := h.balance(w3); b.Net() != 200 || b.CreditsPending != 0 {
		t.Fatalf("payee after void: got %+v; want 2.00 posted", b)
	}
	checkInvariants(t, h.balances())
}

func TestHoldTimeout(t *testing.T) {
	h := seeded(t)
	ctx := context.Background()
	hold := xfer(600, 2, 3, 5000)
	hold.Flags = ledger.FlagPending
	hold.TimeoutSeconds = 60
	h.must(hold)
	h.clock.Advance(59 * time.Second)
	if err := h.l.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	if b := h.balance(tongbao.IDFromUint64(2)); b.DebitsPending != 5000 {
		t.Fatalf("before timeout: got %+v; want still pending", b)
	}
	// Expiry survives a restart: the hold is reloaded and still expires.
	h.reopen()
	h.clock.Advance(2 * time.Second)
	// A post arriving after the timeout but before the sweep is refused, and
	// the hold is voided then.
	late := h.submit(ledger.Transfer{ID: tongbao.IDFromUint64(601), PendingID: hold.ID, Flags: ledger.FlagPostPending})[0]
	if !errors.Is(late.Err, ledger.ErrPendingExpired) {
		t.Fatalf("late post: got %v; want ErrPendingExpired", late.Err)
	}
	if b := h.balance(tongbao.IDFromUint64(2)); b.DebitsPending != 0 || b.Net() != 100000 {
		t.Fatalf("after timeout: got %+v; want released", b)
	}
	// A second hold expires by the writer's own sweep.
	other := xfer(602, 2, 3, 100)
	other.Flags = ledger.FlagPending
	other.TimeoutSeconds = 1
	h.must(other)
	h.clock.Advance(2 * time.Second)
	if err := h.l.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	if b := h.balance(tongbao.IDFromUint64(2)); b.DebitsPending != 0 {
		t.Fatalf("after sweep: got %+v; want released", b)
	}
	h.fails(ledger.Transfer{ID: tongbao.IDFromUint64(603), PendingID: other.ID, Flags: ledger.FlagVoidPending}, ledger.ErrPendingExpired)
	// The expiry is in the history as its own record.
	ts, _, err := h.l.AccountTransfers(ctx, tongbao.IDFromUint64(2), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) == 0 || ts[0].Flags&ledger.FlagExpired == 0 || ts[0].PendingID != other.ID {
		t.Fatalf("newest transfer got %+v; want the expiry of %v", ts[0], other.ID)
	}
	checkInvariants(t, h.balances())
}

func TestLinkedChains(t *testing.T) {
	h := seeded(t)
	before := h.balances()
	a, b, c := xfer(700, 2, 3, 100), xfer(701, 3, 2, 50), xfer(702, 2, 3, 100000) // c cannot be afforded
	a.Flags, b.Flags = ledger.FlagLinked, ledger.FlagLinked
	rs := h.submit(a, b, c)
	if !errors.Is(rs[0].Err, ledger.ErrLinkedEventFailed) || !errors.Is(rs[1].Err, ledger.ErrLinkedEventFailed) || !errors.Is(rs[2].Err, ledger.ErrInsufficientFunds) {
		t.Fatalf("got %+v; want the chain to fail on its last transfer", rs)
	}
	if !equalBalances(before, h.balances()) {
		t.Fatal("a failed chain changed balances")
	}
	// The ids of the chain's innocent members are free; the failing one is
	// spent: the same chain fails the same way, a changed one conflicts.
	rs = h.submit(a, b, c)
	if !errors.Is(rs[2].Err, ledger.ErrInsufficientFunds) || !rs[2].Duplicate {
		t.Fatalf("resubmitted chain: got %+v; want its recorded failure", rs)
	}
	c.Amount = 10
	rs = h.submit(a, b, c)
	if !errors.Is(rs[2].Err, tongbao.ErrIDConflict) || !errors.Is(rs[0].Err, ledger.ErrLinkedEventFailed) {
		t.Fatalf("chain with changed failing member: got %+v; want a conflict", rs)
	}
	c.ID = tongbao.IDFromUint64(703)
	rs = h.submit(a, b, c)
	for i, r := range rs {
		if r.Err != nil {
			t.Fatalf("chain member %d: %v", i, r.Err)
		}
	}
	// A chain left open fails whole.
	open := xfer(710, 2, 3, 1)
	open.Flags = ledger.FlagLinked
	rs = h.submit(open)
	if !errors.Is(rs[0].Err, ledger.ErrLinkedChainOpen) {
		t.Fatalf("open chain: got %v; want ErrLinkedChainOpen", rs[0].Err)
	}
	// A chain that opens and posts a hold inside it, then fails, leaves no hold.
	hold := xfer(720, 2, 3, 10)
	hold.Flags = ledger.FlagPending | ledger.FlagLinked
	post := ledger.Transfer{ID: tongbao.IDFromUint64(721), PendingID: hold.ID, Flags: ledger.FlagPostPending | ledger.FlagLinked}
	bad := xfer(722, 3, 2, 1<<40)
	rs = h.submit(hold, post, bad)
	if !errors.Is(rs[1].Err, ledger.ErrLinkedEventFailed) {
		t.Fatalf("got %+v", rs)
	}
	h.fails(ledger.Transfer{ID: tongbao.IDFromUint64(723), PendingID: hold.ID, Flags: ledger.FlagPostPending}, ledger.ErrPendingNotFound)
	checkInvariants(t, h.balances())
}

func TestHistoryAndBalanceAt(t *testing.T) {
	h := seeded(t)
	ctx := context.Background()
	w2 := tongbao.IDFromUint64(2)
	var moments []time.Time
	for i := 0; i < 25; i++ {
		h.clock.Advance(time.Minute)
		h.must(xfer(uint64(800+i), 2, 3, tongbao.Amount(i+1)))
		moments = append(moments, h.clock.Now())
	}
	var all []ledger.Transfer
	cursor := int64(0)
	for {
		page, next, err := h.l.AccountTransfers(ctx, w2, cursor, 10)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == 0 {
			break
		}
		cursor = next
	}
	if len(all) != 26 {
		t.Fatalf("got %d transfers; want 26", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Timestamp >= all[i-1].Timestamp {
			t.Fatalf("history not newest first at %d", i)
		}
	}
	for i, m := range moments {
		b, err := h.l.BalanceAt(ctx, w2, m)
		if err != nil {
			t.Fatal(err)
		}
		spent := tongbao.Amount((i + 1) * (i + 2) / 2)
		if b.Net() != 100000-spent {
			t.Fatalf("balance at step %d: got %v; want %v", i, b.Net(), 100000-spent)
		}
	}
	if _, err := h.l.BalanceAt(ctx, tongbao.IDFromUint64(404), time.Now()); !errors.Is(err, ledger.ErrAccountNotFound) {
		t.Fatalf("unknown account: got %v; want ErrAccountNotFound", err)
	}
}

func TestCreateAccounts(t *testing.T) {
	h := newHarness(t)
	a := acct(1, wallet)
	h.accounts(a, a) // the same account twice is fine
	changed := a
	changed.Code = 9
	bad := acct(2, ledger.FlagDebitsMustNotExceedCredits|ledger.FlagCreditsMustNotExceedDebits)
	noCurrency := acct(3, 0)
	noCurrency.Currency = "cny"
	errs, err := h.l.CreateAccounts(context.Background(), []ledger.Account{changed, bad, noCurrency, acct(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(errs[0], ledger.ErrAccountExists) {
		t.Fatalf("changed account: got %v; want ErrAccountExists", errs[0])
	}
	for i, e := range errs[1:] {
		if tongbao.ErrorCode(e) != tongbao.EINVALID {
			t.Fatalf("invalid account %d: got %v; want an EINVALID error", i+1, e)
		}
	}
	if got := len(h.balances()); got != 1 {
		t.Fatalf("got %d accounts; want 1", got)
	}
}

func TestRequestTooLarge(t *testing.T) {
	h := newHarness(t)
	ts := make([]ledger.Transfer, h.l.BatchMax()+1)
	if _, err := h.l.Submit(context.Background(), ts); !errors.Is(err, ledger.ErrRequestTooLarge) {
		t.Fatalf("got %v; want ErrRequestTooLarge", err)
	}
}

func TestClosedLedgerRefuses(t *testing.T) {
	h := seeded(t)
	l := h.l
	h.close()
	if _, err := l.Submit(context.Background(), []ledger.Transfer{xfer(900, 2, 3, 1)}); !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("got %v; want ErrClosed", err)
	}
	h.open()
	h.fails(xfer(901, 3, 2, 1), ledger.ErrInsufficientFunds)
}
