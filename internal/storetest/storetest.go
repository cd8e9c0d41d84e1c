// Package storetest is the conformance suite of ledger.Store: every storage
// adapter runs it, so the engine can rely on one behaviour whatever the
// database.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// Opener returns a store for the test t.
//
// The first call for a given t must return a store on an empty database of
// its own. A later call with the same t, after the previous store was
// closed, must open the same database again: that is how the suite checks
// that what was committed survives a reopen. The opener should close the
// store when t ends (t.Cleanup); Close may then be called a second time,
// which must be harmless.
type Opener func(t *testing.T) ledger.Store

// Run runs the conformance suite, each test as a subtest of t on a store
// of its own.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"Empty", testEmpty},
		{"AccountRoundTrip", testAccountRoundTrip},
		{"TransferRoundTrip", testTransferRoundTrip},
		{"ZeroIDs", testZeroIDs},
		{"CommitAtomic", testCommitAtomic},
		{"CommitAtomicAcrossBatches", testCommitAtomicAcrossBatches},
		{"LargeBatch", testLargeBatch},
		{"BalancesReplaced", testBalancesReplaced},
		{"BalanceOfMissingAccount", testBalanceOfMissingAccount},
		{"AccountsUpdated", testAccountsUpdated},
		{"CanceledCommit", testCanceledCommit},
		{"Holds", testHolds},
		{"LookupID", testLookupID},
		{"LoadIDs", testLoadIDs},
		{"Resolution", testResolution},
		{"AccountHistory", testAccountHistory},
		{"CallbackErrors", testCallbackErrors},
		{"LastTimestamp", testLastTimestamp},
		{"ReplayAndScan", testReplayAndScan},
		{"Reopen", testReopen},
		{"ConcurrentReads", testConcurrentReads},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// Fixtures. Timestamps are small and distinct; ids are numbered.

func accountID(n uint64) tongbao.ID  { return tongbao.IDFromUint64(1<<32 + n) }
func transferID(n uint64) tongbao.ID { return tongbao.IDFromUint64(2<<32 + n) }

// account returns a fully populated account record: every field distinct
// and non-zero, so a column mixed up with another shows.
func account(n uint64, ts int64) ledger.AccountRecord {
	a := int64(n) * 1000
	return ledger.AccountRecord{
		Account: ledger.Account{
			ID:         accountID(n),
			Currency:   tongbao.CNY,
			Code:       uint16(100 + n),
			Flags:      ledger.FlagDebitsMustNotExceedCredits,
			CreditLine: tongbao.Amount(a + 1),
			Limits: ledger.Limits{
				BalanceMax:     tongbao.Amount(a + 2),
				DebitMax:       tongbao.Amount(a + 3),
				DailyDebitMax:  tongbao.Amount(a + 4),
				YearlyDebitMax: tongbao.Amount(a + 5),
			},
			FrozenUntil: a + 6,
			Timestamp:   ts,
		},
	}
}

// transfer returns a plain posted transfer.
func transfer(n uint64, debit, credit uint64, amount tongbao.Amount, ts int64) ledger.PostedTransfer {
	return ledger.PostedTransfer{
		Transfer: ledger.Transfer{
			ID:              transferID(n),
			DebitAccountID:  accountID(debit),
			CreditAccountID: accountID(credit),
			Amount:          amount,
			Code:            7,
			Timestamp:       ts,
		},
		Hash: 0x1000 + n,
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func commit(t *testing.T, s ledger.Store, b *ledger.Batch) {
	t.Helper()
	if err := s.Commit(ctx(t), b); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func mustAccount(t *testing.T, s ledger.Store, id tongbao.ID) ledger.AccountRecord {
	t.Helper()
	a, err := s.Account(ctx(t), id)
	if err != nil {
		t.Fatalf("Account(%v): %v", id, err)
	}
	return a
}

func mustTransfer(t *testing.T, s ledger.Store, id tongbao.ID) ledger.Transfer {
	t.Helper()
	tr, err := s.Transfer(ctx(t), id)
	if err != nil {
		t.Fatalf("Transfer(%v): %v", id, err)
	}
	return tr
}

func loadAccounts(t *testing.T, s ledger.Store) map[tongbao.ID]ledger.AccountRecord {
	t.Helper()
	m := map[tongbao.ID]ledger.AccountRecord{}
	err := s.LoadAccounts(ctx(t), func(a ledger.AccountRecord) error {
		if _, dup := m[a.ID]; dup {
			t.Errorf("LoadAccounts: %v twice", a.ID)
		}
		m[a.ID] = a
		return nil
	})
	if err != nil {
		t.Fatalf("LoadAccounts: %v", err)
	}
	return m
}

type hold struct {
	Transfer  ledger.Transfer
	ExpiresAt int64
}

func loadHolds(t *testing.T, s ledger.Store) []hold {
	t.Helper()
	var holds []hold
	err := s.LoadHolds(ctx(t), func(tr ledger.Transfer, expiresAt int64) error {
		holds = append(holds, hold{tr, expiresAt})
		return nil
	})
	if err != nil {
		t.Fatalf("LoadHolds: %v", err)
	}
	sort.Slice(holds, func(i, j int) bool { return holds[i].Transfer.Timestamp < holds[j].Transfer.Timestamp })
	return holds
}

func loadIDs(t *testing.T, s ledger.Store) []tongbao.ID {
	t.Helper()
	var ids []tongbao.ID
	err := s.LoadIDs(ctx(t), func(id tongbao.ID) error {
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		t.Fatalf("LoadIDs: %v", err)
	}
	slices.SortFunc(ids, func(a, b tongbao.ID) int { return strings.Compare(string(a[:]), string(b[:])) })
	return ids
}

func lastTimestamp(t *testing.T, s ledger.Store) int64 {
	t.Helper()
	ts, err := s.LastTimestamp(ctx(t))
	if err != nil {
		t.Fatalf("LastTimestamp: %v", err)
	}
	return ts
}

func accountHistory(t *testing.T, s ledger.Store, id tongbao.ID, from int64, limit int) []ledger.Transfer {
	t.Helper()
	ts, err := s.AccountHistory(ctx(t), id, from, limit)
	if err != nil {
		t.Fatalf("AccountHistory(%v, %d, %d): %v", id, from, limit, err)
	}
	return ts
}

// wholeHistory reads the account, then walks its history from the head the
// row holds, page by page, as the engine does. The walk then holds exactly
// the transfers the row's balance includes, whatever commits meanwhile.
func wholeHistory(ctx context.Context, s ledger.Store, id tongbao.ID) (ledger.AccountRecord, []ledger.Transfer, error) {
	const pageMax = 16
	a, err := s.Account(ctx, id)
	if err != nil {
		return ledger.AccountRecord{}, nil, err
	}
	var all []ledger.Transfer
	for from := a.LastTransfer; from != 0; {
		page, err := s.AccountHistory(ctx, id, from, pageMax)
		if err != nil {
			return ledger.AccountRecord{}, nil, fmt.Errorf("AccountHistory(%v, %d): %w", id, from, err)
		}
		if len(page) == 0 {
			return ledger.AccountRecord{}, nil, fmt.Errorf("AccountHistory(%v, %d) gave nothing: the history breaks", id, from)
		}
		all = append(all, page...)
		from = page[len(page)-1].PreviousOn(id)
	}
	return a, all, nil
}

// links plays the engine's part in chaining each account's transfers: it
// remembers the latest transfer of every account.
type links map[tongbao.ID]int64

// link sets the transfer's previous links and makes it the latest transfer
// of both its accounts.
func (l links) link(ts ...*ledger.PostedTransfer) {
	for _, t := range ts {
		t.DebitPrevious = l[t.DebitAccountID]
		t.CreditPrevious = l[t.CreditAccountID]
		l[t.DebitAccountID] = t.Timestamp
		l[t.CreditAccountID] = t.Timestamp
	}
}

func timestamps(ts []ledger.Transfer) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.Timestamp
	}
	return out
}

func lookup(t *testing.T, s ledger.Store, id tongbao.ID) (ledger.IDRecord, bool) {
	t.Helper()
	rec, ok, err := s.LookupID(ctx(t), id)
	if err != nil {
		t.Fatalf("LookupID(%v): %v", id, err)
	}
	return rec, ok
}

func resolution(t *testing.T, s ledger.Store, id tongbao.ID) (ledger.TransferFlags, bool) {
	t.Helper()
	flags, ok, err := s.Resolution(ctx(t), id)
	if err != nil {
		t.Fatalf("Resolution(%v): %v", id, err)
	}
	return flags, ok
}

// snapshot is everything a store shows, to compare before and after.
type snapshot struct {
	Accounts map[tongbao.ID]ledger.AccountRecord
	Holds    []hold
	IDs      []tongbao.ID
	Last     int64
}

func takeSnapshot(t *testing.T, s ledger.Store) snapshot {
	t.Helper()
	return snapshot{loadAccounts(t, s), loadHolds(t, s), loadIDs(t, s), lastTimestamp(t, s)}
}

func testEmpty(t *testing.T, open Opener) {
	s := open(t)
	if got := lastTimestamp(t, s); got != 0 {
		t.Errorf("LastTimestamp = %d; want 0", got)
	}
	if got := loadAccounts(t, s); len(got) != 0 {
		t.Errorf("LoadAccounts gave %d accounts; want 0", len(got))
	}
	if got := loadHolds(t, s); len(got) != 0 {
		t.Errorf("LoadHolds gave %d holds; want 0", len(got))
	}
	if got := loadIDs(t, s); len(got) != 0 {
		t.Errorf("LoadIDs gave %d ids; want 0", len(got))
	}
	if _, err := s.Account(ctx(t), accountID(1)); !errors.Is(err, ledger.ErrAccountNotFound) {
		t.Errorf("Account(missing) error = %v; want ErrAccountNotFound", err)
	}
	if _, err := s.Transfer(ctx(t), transferID(1)); !errors.Is(err, ledger.ErrTransferNotFound) {
		t.Errorf("Transfer(missing) error = %v; want ErrTransferNotFound", err)
	}
	if _, ok := lookup(t, s, transferID(1)); ok {
		t.Errorf("LookupID(missing) ok = true; want false")
	}
	if _, ok := resolution(t, s, transferID(1)); ok {
		t.Errorf("Resolution(missing) ok = true; want false")
	}
	for _, from := range []int64{0, 1, math.MaxInt64} {
		if got := accountHistory(t, s, accountID(1), from, 10); len(got) != 0 {
			t.Errorf("AccountHistory(from %d) gave %d; want 0", from, len(got))
		}
	}
	// An empty batch is a valid commit.
	commit(t, s, &ledger.Batch{})
}

func testAccountRoundTrip(t *testing.T, open Opener) {
	s := open(t)
	a := account(1, 10)
	a.Balance = ledger.Balance{DebitsPending: 11, DebitsPosted: 12, CreditsPending: 13, CreditsPosted: 14}
	a.Counters = ledger.Counters{Day: 20260131, DayDebits: 15, Year: 2026, YearDebits: 16}
	a.LastTransfer = 17
	// Extremes: an asset account with a negative credit line, amounts at
	// the edges of int64, flags and code at the edges of uint16.
	b := account(2, 20)
	b.Currency = "USD"
	b.Code = math.MaxUint16
	b.Flags = ledger.FlagCreditsMustNotExceedDebits
	b.CreditLine = -500
	b.Limits = ledger.Limits{BalanceMax: tongbao.AmountMax, DebitMax: 0, DailyDebitMax: 1, YearlyDebitMax: tongbao.AmountMax - 1}
	b.Balance = ledger.Balance{DebitsPending: 0, DebitsPosted: tongbao.AmountMax, CreditsPending: -1, CreditsPosted: math.MinInt64}
	b.Counters = ledger.Counters{Day: math.MaxInt32, DayDebits: -7, Year: -1, YearDebits: tongbao.AmountMax}
	b.FrozenUntil = math.MaxInt64
	b.LastTransfer = math.MaxInt64
	c := account(3, 30)
	c.Flags = 0
	c.Limits = ledger.Limits{}
	c.FrozenUntil = 0
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{a, b, c}})

	for _, want := range []ledger.AccountRecord{a, b, c} {
		if got := mustAccount(t, s, want.ID); got != want {
			t.Errorf("Account(%v) =\n%+v; want\n%+v", want.ID, got, want)
		}
	}
	all := loadAccounts(t, s)
	if len(all) != 3 {
		t.Errorf("LoadAccounts gave %d accounts; want 3", len(all))
	}
	for _, want := range []ledger.AccountRecord{a, b, c} {
		if got := all[want.ID]; got != want {
			t.Errorf("LoadAccounts %v =\n%+v; want\n%+v", want.ID, got, want)
		}
	}
	if _, err := s.Account(ctx(t), accountID(4)); !errors.Is(err, ledger.ErrAccountNotFound) {
		t.Errorf("Account(missing) error = %v; want ErrAccountNotFound", err)
	}
	if _, err := s.Account(ctx(t), tongbao.ID{}); !errors.Is(err, ledger.ErrAccountNotFound) {
		t.Errorf("Account(zero) error = %v; want ErrAccountNotFound", err)
	}
}

func testTransferRoundTrip(t *testing.T, open Opener) {
	s := open(t)
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{account(1, 1), account(2, 2), account(3, 3)}})

	plain := transfer(1, 1, 2, 12345, 100)
	plain.Metadata = "order 42 · 订单 ✓\x00tail"
	plain.Hash = math.MaxUint64 // all 64 bits survive
	pending := transfer(2, 3, 2, tongbao.AmountMax, 101)
	pending.Flags = ledger.FlagPending | ledger.FlagLinked
	pending.TimeoutSeconds = math.MaxUint32
	pending.Code = math.MaxUint16
	pending.Metadata = strings.Repeat("m", ledger.MetadataMax)
	pending.Hash = 1 << 63
	post := transfer(3, 3, 2, 100, 102)
	post.Flags = ledger.FlagPostPending
	post.PendingID = pending.ID
	post.PendingAmount = tongbao.AmountMax
	post.Hash = 0
	// The links come out as (0, 0), (0, 100) and (101, 101): a debit link
	// swapped with a credit link shows on pending.
	links{}.link(&plain, &pending, &post)
	commit(t, s, &ledger.Batch{Transfers: []ledger.PostedTransfer{plain, pending, post}})

	for _, want := range []ledger.PostedTransfer{plain, pending, post} {
		if got := mustTransfer(t, s, want.ID); got != want.Transfer {
			t.Errorf("Transfer(%v) =\n%+v; want\n%+v", want.ID, got, want.Transfer)
		}
		rec, ok := lookup(t, s, want.ID)
		wantRec := ledger.IDRecord{Hash: want.Hash, Timestamp: want.Timestamp, Result: ledger.ResultOK}
		if !ok || rec != wantRec {
			t.Errorf("LookupID(%v) = %+v, %v; want %+v, true", want.ID, rec, ok, wantRec)
		}
	}
	if _, err := s.Transfer(ctx(t), transferID(9)); !errors.Is(err, ledger.ErrTransferNotFound) {
		t.Errorf("Transfer(missing) error = %v; want ErrTransferNotFound", err)
	}
	if _, err := s.Transfer(ctx(t), tongbao.ID{}); !errors.Is(err, ledger.ErrTransferNotFound) {
		t.Errorf("Transfer(zero) error = %v; want ErrTransferNotFound", err)
	}
	for _, c := range []struct {
		account uint64
		want    []ledger.Transfer
	}{
		{2, []ledger.Transfer{post.Transfer, pending.Transfer, plain.Transfer}},
		{3, []ledger.Transfer{post.Transfer, pending.Transfer}},
		{1, []ledger.Transfer{plain.Transfer}},
	} {
		got := accountHistory(t, s, accountID(c.account), c.want[0].Timestamp, 10)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("AccountHistory(account %d) =\n%+v; want\n%+v", c.account, got, c.want)
		}
	}
}

// testZeroIDs checks that a zero id is stored as "no id" and comes back as
// the zero id: the record of an expired hold has no id of its own.
func testZeroIDs(t *testing.T, open Opener) {
	s := open(t)
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{account(1, 1), account(2, 2)}})
	pending := transfer(1, 1, 2, 500, 10)
	pending.Flags = ledger.FlagPending
	pending.TimeoutSeconds = 60
	l := links{}
	l.link(&pending)
	commit(t, s, &ledger.Batch{Transfers: []ledger.PostedTransfer{pending}})
	// Two expiry records: zero ids must not collide with each other.
	var expired []ledger.PostedTransfer
	for i, ts := range []int64{20, 21} {
		e := ledger.PostedTransfer{Transfer: ledger.Transfer{
			DebitAccountID:  accountID(1),
			CreditAccountID: accountID(2),
			PendingID:       pending.ID,
			PendingAmount:   500,
			Flags:           ledger.FlagExpired,
			Timestamp:       ts,
			Code:            uint16(i),
		}}
		expired = append(expired, e)
	}
	l.link(&expired[0], &expired[1])
	commit(t, s, &ledger.Batch{Transfers: expired})

	got := accountHistory(t, s, accountID(2), 21, 10)
	want := []ledger.Transfer{expired[1].Transfer, expired[0].Transfer, pending.Transfer}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AccountHistory =\n%+v; want\n%+v", got, want)
	}
	if got[0].ID != (tongbao.ID{}) || got[2].PendingID != (tongbao.ID{}) {
		t.Errorf("zero ids came back as %v and %v", got[0].ID, got[2].PendingID)
	}
	if ids := loadIDs(t, s); !reflect.DeepEqual(ids, []tongbao.ID{pending.ID}) {
		t.Errorf("LoadIDs = %v; want only %v", ids, pending.ID)
	}
	if _, ok := lookup(t, s, tongbao.ID{}); ok {
		t.Errorf("LookupID(zero) ok = true; want false")
	}
	if _, ok := resolution(t, s, tongbao.ID{}); ok {
		t.Errorf("Resolution(zero) ok = true; want false")
	}
}

func testCommitAtomic(t *testing.T, open Opener) {
	s := open(t)
	commit(t, s, &ledger.Batch{
		Accounts:    []ledger.AccountRecord{account(1, 1), account(2, 2)},
		Transfers:   []ledger.PostedTransfer{transfer(1, 1, 2, 10, 10)},
		HoldsOpened: []ledger.Hold{{Timestamp: 10, ExpiresAt: 99}},
	})
	before := takeSnapshot(t, s)

	// Everything a batch can do, then a second transfer with the id of the
	// first in the same batch: the whole batch must fail.
	bal := account(1, 1)
	bal.CreditsPosted = 777
	bal.LastTransfer = 31
	second := transfer(2, 1, 2, 5, 30)
	second.DebitPrevious, second.CreditPrevious = 10, 10
	dup := transfer(3, 2, 1, 5, 31)
	dup.ID = transferID(2)
	dup.DebitPrevious, dup.CreditPrevious = 30, 30
	err := s.Commit(ctx(t), &ledger.Batch{
		Accounts:    []ledger.AccountRecord{account(3, 20)},
		Transfers:   []ledger.PostedTransfer{second, dup},
		Failures:    []ledger.Failure{{Transfer: transfer(4, 1, 2, 1, 0).Transfer, Hash: 1, Result: ledger.ResultInsufficientFunds, Timestamp: 32}},
		Balances:    []ledger.AccountRecord{bal},
		HoldsOpened: []ledger.Hold{{Timestamp: 30, ExpiresAt: 50}},
		HoldsClosed: []int64{10},
	})
	if err == nil {
		t.Fatalf("Commit of a batch with a duplicate transfer id succeeded; want an error")
	}
	if after := takeSnapshot(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("a failed Commit changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
	if _, err := s.Transfer(ctx(t), transferID(2)); !errors.Is(err, ledger.ErrTransferNotFound) {
		t.Errorf("Transfer of the failed batch: error = %v; want ErrTransferNotFound", err)
	}
	for _, from := range []int64{30, 31} {
		if got := accountHistory(t, s, accountID(1), from, 10); len(got) != 0 {
			t.Errorf("AccountHistory(from %d) after the failed batch gave %d; want 0", from, len(got))
		}
	}
	if got := accountHistory(t, s, accountID(1), 10, 10); len(got) != 1 {
		t.Errorf("AccountHistory(from 10) after the failed batch gave %d; want 1", len(got))
	}

	// The store is still usable, and the same batch without the duplicate
	// goes through.
	bal.LastTransfer = 30
	commit(t, s, &ledger.Batch{
		Accounts:    []ledger.AccountRecord{account(3, 20)},
		Transfers:   []ledger.PostedTransfer{second},
		Balances:    []ledger.AccountRecord{bal},
		HoldsClosed: []int64{10},
	})
	if got := mustAccount(t, s, accountID(1)); got != bal {
		t.Errorf("Account =\n%+v; want\n%+v", got, bal)
	}
	if got := timestamps(accountHistory(t, s, accountID(1), bal.LastTransfer, 10)); !slices.Equal(got, []int64{30, 10}) {
		t.Errorf("AccountHistory = %v; want [30 10]", got)
	}
}

// testCommitAtomicAcrossBatches checks the constraints that span batches:
// an id already posted, an account already created.
func testCommitAtomicAcrossBatches(t *testing.T, open Opener) {
	s := open(t)
	commit(t, s, &ledger.Batch{
		Accounts:  []ledger.AccountRecord{account(1, 1), account(2, 2)},
		Transfers: []ledger.PostedTransfer{transfer(1, 1, 2, 10, 10)},
		Failures:  []ledger.Failure{{Transfer: transfer(5, 1, 2, 1, 0).Transfer, Hash: 5, Result: ledger.ResultInsufficientFunds, Timestamp: 11}},
	})
	before := takeSnapshot(t, s)
	for _, b := range []struct {
		name  string
		batch ledger.Batch
	}{
		{"transfer id reused", ledger.Batch{
			Accounts:  []ledger.AccountRecord{account(3, 20)},
			Transfers: []ledger.PostedTransfer{transfer(2, 1, 2, 5, 21), transfer(1, 1, 2, 5, 22)},
		}},
		{"account id reused", ledger.Batch{
			Transfers: []ledger.PostedTransfer{transfer(2, 1, 2, 5, 21)},
			Accounts:  []ledger.AccountRecord{account(3, 20), account(1, 23)},
		}},
		{"failure id reused", ledger.Batch{
			Transfers: []ledger.PostedTransfer{transfer(2, 1, 2, 5, 21)},
			Failures:  []ledger.Failure{{Transfer: transfer(5, 1, 2, 1, 0).Transfer, Hash: 5, Result: ledger.ResultInsufficientFunds, Timestamp: 22}},
		}},
		{"timestamp reused", ledger.Batch{
			Transfers: []ledger.PostedTransfer{transfer(2, 1, 2, 5, 21), transfer(3, 1, 2, 5, 10)},
		}},
	} {
		if err := s.Commit(ctx(t), &b.batch); err == nil {
			t.Errorf("%s: Commit succeeded; want an error", b.name)
		}
		if after := takeSnapshot(t, s); !reflect.DeepEqual(after, before) {
			t.Errorf("%s: a failed Commit changed the store:\nbefore %+v\nafter  %+v", b.name, before, after)
		}
	}
}

// testLargeBatch commits a batch larger than any one statement of a store
// is likely to carry, of a size that is no round number, and checks every
// row arrived.
func testLargeBatch(t *testing.T, open Opener) {
	s := open(t)
	const accountsN, transfersN = 1003, 8191
	b := &ledger.Batch{}
	for i := uint64(0); i < accountsN; i++ {
		b.Accounts = append(b.Accounts, account(i, int64(i+1)))
	}
	commit(t, s, b)
	b = &ledger.Batch{}
	ts := int64(accountsN + 1)
	l := links{}
	mine := map[tongbao.ID][]int64{} // each account's transfers, newest first
	for i := uint64(0); i < transfersN; i++ {
		debit, credit := i%accountsN, (i*7+1)%accountsN
		if debit == credit {
			credit = (credit + 1) % accountsN
		}
		tr := transfer(i, debit, credit, tongbao.Amount(i+1), ts)
		l.link(&tr)
		for _, id := range []tongbao.ID{tr.DebitAccountID, tr.CreditAccountID} {
			mine[id] = append([]int64{ts}, mine[id]...)
		}
		b.Transfers = append(b.Transfers, tr)
		if i%3 == 0 {
			b.HoldsOpened = append(b.HoldsOpened, ledger.Hold{Timestamp: ts, ExpiresAt: ts * 10})
		}
		if i%5 == 0 {
			f := transfer(transfersN+i, debit, credit, 1, 0)
			b.Failures = append(b.Failures, ledger.Failure{Transfer: f.Transfer, Hash: f.Hash, Result: ledger.ResultDailyLimit, Timestamp: ts})
		}
		ts++
	}
	for i := uint64(0); i < accountsN; i++ {
		a := account(i, int64(i+1))
		a.DebitsPosted = tongbao.Amount(i)
		a.LastTransfer = l[a.ID]
		b.Balances = append(b.Balances, a)
	}
	commit(t, s, b)

	if got := len(loadHolds(t, s)); got != len(b.HoldsOpened) {
		t.Errorf("LoadHolds gave %d holds; want %d", got, len(b.HoldsOpened))
	}
	if got := len(loadIDs(t, s)); got != transfersN+len(b.Failures) {
		t.Errorf("LoadIDs gave %d ids; want %d", got, transfersN+len(b.Failures))
	}
	accounts := loadAccounts(t, s)
	for i := uint64(0); i < accountsN; i++ {
		if got := accounts[accountID(i)].DebitsPosted; got != tongbao.Amount(i) {
			t.Fatalf("account %d DebitsPosted = %d; want %d", i, got, i)
		}
		if got, want := accounts[accountID(i)].LastTransfer, l[accountID(i)]; got != want {
			t.Fatalf("account %d LastTransfer = %d; want %d", i, got, want)
		}
	}
	for _, i := range []uint64{0, 1, 500, accountsN - 1} {
		_, history, err := wholeHistory(ctx(t), s, accountID(i))
		if err != nil {
			t.Fatalf("account %d: %v", i, err)
		}
		if got, want := timestamps(history), mine[accountID(i)]; !slices.Equal(got, want) {
			t.Errorf("account %d history = %v; want %v", i, got, want)
		}
	}
	for _, i := range []int{0, 1, 127, 128, 4095, transfersN - 1} {
		want := b.Transfers[i]
		if got := mustTransfer(t, s, want.ID); got != want.Transfer {
			t.Errorf("Transfer %d = %+v; want %+v", i, got, want.Transfer)
		}
	}
	var closed []int64
	for _, h := range b.HoldsOpened {
		closed = append(closed, h.Timestamp)
	}
	commit(t, s, &ledger.Batch{HoldsClosed: closed})
	if got := len(loadHolds(t, s)); got != 0 {
		t.Errorf("LoadHolds after closing all gave %d holds; want 0", got)
	}
}

func testBalancesReplaced(t *testing.T, open Opener) {
	s := open(t)
	a, b := account(1, 1), account(2, 2)
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{a, b}})

	a.Balance = ledger.Balance{DebitsPending: 1, DebitsPosted: 2, CreditsPending: 3, CreditsPosted: 4}
	a.Counters = ledger.Counters{Day: 20260101, DayDebits: 5, Year: 2026, YearDebits: 6}
	a.LastTransfer = 7
	a.Checkpoint = 11
	commit(t, s, &ledger.Batch{Balances: []ledger.AccountRecord{a}})
	if got := mustAccount(t, s, a.ID); got != a {
		t.Errorf("after a balance update Account =\n%+v; want\n%+v", got, a)
	}
	if got := mustAccount(t, s, b.ID); got != b {
		t.Errorf("an account not in the batch changed:\n%+v; want\n%+v", got, b)
	}

	// A replacement, not an increment; and only balances, counters and the
	// head of the history change, whatever else the record says.
	stale := a
	stale.Balance = ledger.Balance{DebitsPosted: 10}
	stale.Counters = ledger.Counters{Day: 20260102, DayDebits: 0, Year: 2026, YearDebits: 6}
	stale.LastTransfer = 8
	stale.Checkpoint = 12
	stale.Currency = "USD"
	stale.Code = 9
	stale.Flags = 0
	stale.CreditLine = 9
	stale.Limits = ledger.Limits{BalanceMax: 9}
	stale.FrozenUntil = 9
	stale.Account.Timestamp = 9
	commit(t, s, &ledger.Batch{Balances: []ledger.AccountRecord{stale}})
	want := a
	want.Balance = stale.Balance
	want.Counters = stale.Counters
	want.LastTransfer = stale.LastTransfer
	want.Checkpoint = stale.Checkpoint
	if got := mustAccount(t, s, a.ID); got != want {
		t.Errorf("after a second balance update Account =\n%+v; want\n%+v", got, want)
	}

	// An account listed twice in one batch ends with the later record.
	first, second := a, a
	first.CreditsPosted = 100
	second.CreditsPosted = 200
	commit(t, s, &ledger.Batch{Balances: []ledger.AccountRecord{first, b, second}})
	if got := mustAccount(t, s, a.ID).CreditsPosted; got != 200 {
		t.Errorf("account listed twice: CreditsPosted = %d; want 200, the later record", got)
	}

	// An account created and moved in the same batch.
	c := account(3, 3)
	cb := c
	cb.CreditsPosted = 50
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{c}, Balances: []ledger.AccountRecord{cb}})
	if got := mustAccount(t, s, c.ID); got != cb {
		t.Errorf("account created and updated in one batch =\n%+v; want\n%+v", got, cb)
	}
}

// testBalanceOfMissingAccount checks that a balance for an account that was
// never created fails the batch rather than creating half an account.
func testBalanceOfMissingAccount(t *testing.T, open Opener) {
	s := open(t)
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{account(1, 1)}})
	before := takeSnapshot(t, s)
	moved := account(1, 1)
	moved.CreditsPosted = 5
	ghost := account(2, 2)
	ghost.DebitsPosted = 5
	err := s.Commit(ctx(t), &ledger.Batch{
		Transfers: []ledger.PostedTransfer{transfer(1, 2, 1, 5, 10)},
		Balances:  []ledger.AccountRecord{moved, ghost},
	})
	if !errors.Is(err, ledger.ErrAccountNotFound) {
		t.Errorf("Commit with the balance of a missing account: error = %v; want ErrAccountNotFound", err)
	}
	if after := takeSnapshot(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("a failed Commit changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
}

// testAccountsUpdated checks Batch.Updated: it replaces an account's state
// flags, freeze, credit line and limits, and nothing else: not its id,
// currency, code or timestamp, nor its balances, counters and head of
// history, which are Balances' to write. The two write apart, so in whatever
// order a store writes them an account ends with the update's state and the
// balances' money. An update of a missing account fails the batch.
func testAccountsUpdated(t *testing.T, open Opener) {
	s := open(t)
	a, b := account(1, 1), account(2, 2)
	a.Balance = ledger.Balance{DebitsPending: 4, DebitsPosted: 3, CreditsPending: 2, CreditsPosted: 1}
	a.Counters = ledger.Counters{Day: 20260104, DayDebits: 4, Year: 2026, YearDebits: 4}
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{a, b}})

	u := a
	u.Flags |= ledger.FlagDebitsDisabled | ledger.FlagClosed
	u.FrozenUntil = 1_900_000_000_000_000_000
	u.CreditLine = 0
	u.Limits = ledger.Limits{BalanceMax: 50, DebitMax: 40, DailyDebitMax: 30, YearlyDebitMax: 20}
	ignored := u
	ignored.Currency = "USD"
	ignored.Code = 999
	ignored.Account.Timestamp = 999
	ignored.Balance = ledger.Balance{DebitsPending: 1, DebitsPosted: 2, CreditsPending: 3, CreditsPosted: 4}
	ignored.Counters = ledger.Counters{Day: 20260105, DayDebits: 5, Year: 2026, YearDebits: 6}
	ignored.LastTransfer = 999
	commit(t, s, &ledger.Batch{Updated: []ledger.AccountRecord{ignored}})
	if got := mustAccount(t, s, a.ID); got != u {
		t.Errorf("after an update Account =\n%+v; want\n%+v", got, u)
	}
	if got := mustAccount(t, s, b.ID); got != b {
		t.Errorf("an account not updated changed:\n%+v; want\n%+v", got, b)
	}

	// Updated twice in a batch, then moved: the later update's state, the
	// money of Balances, each whatever the other's record says of it.
	first, second := u, u
	first.FrozenUntil = 0
	first.Flags = ledger.FlagDebitsMustNotExceedCredits
	second.FrozenUntil = 5
	second.Flags = ledger.FlagDebitsMustNotExceedCredits | ledger.FlagCreditsDisabled
	tr := transfer(1, 2, 1, 996, 10)
	links{}.link(&tr)
	moved := a // with the state of before the updates
	moved.CreditsPosted = 997
	moved.DebitsPending = 0
	moved.LastTransfer = 10
	commit(t, s, &ledger.Batch{
		Transfers: []ledger.PostedTransfer{tr},
		Updated:   []ledger.AccountRecord{first, second},
		Balances:  []ledger.AccountRecord{moved},
	})
	want := second
	want.Balance = moved.Balance
	want.Counters = moved.Counters
	want.LastTransfer = moved.LastTransfer
	got := mustAccount(t, s, a.ID)
	if got != want {
		t.Errorf("after two updates and a move Account =\n%+v; want\n%+v", got, want)
	}

	before := takeSnapshot(t, s)
	ghost := account(3, 3)
	err := s.Commit(ctx(t), &ledger.Batch{Updated: []ledger.AccountRecord{got, ghost}})
	if !errors.Is(err, ledger.ErrAccountNotFound) {
		t.Errorf("Commit updating a missing account: error = %v; want ErrAccountNotFound", err)
	}
	if after := takeSnapshot(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("a failed Commit changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
}

// testCanceledCommit checks that a commit whose context is already done
// writes nothing.
func testCanceledCommit(t *testing.T, open Opener) {
	s := open(t)
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{account(1, 1), account(2, 2)}})
	before := takeSnapshot(t, s)
	canceled, cancel := context.WithCancel(ctx(t))
	cancel()
	err := s.Commit(canceled, &ledger.Batch{Transfers: []ledger.PostedTransfer{transfer(1, 1, 2, 5, 10)}})
	if err == nil {
		t.Errorf("Commit with a canceled context succeeded; want an error")
	}
	if after := takeSnapshot(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("a canceled Commit changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
}

func testHolds(t *testing.T, open Opener) {
	s := open(t)
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{account(1, 1), account(2, 2)}})
	p1 := transfer(1, 1, 2, 100, 10)
	p1.Flags = ledger.FlagPending
	p1.TimeoutSeconds = 30
	p1.Metadata = "escrow"
	p2 := transfer(2, 2, 1, 200, 11)
	p2.Flags = ledger.FlagPending
	commit(t, s, &ledger.Batch{
		Transfers:   []ledger.PostedTransfer{p1, p2},
		HoldsOpened: []ledger.Hold{{Timestamp: 10, ExpiresAt: 30_000_000_010}, {Timestamp: 11, ExpiresAt: 0}},
	})
	want := []hold{{p1.Transfer, 30_000_000_010}, {p2.Transfer, 0}}
	if got := loadHolds(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("LoadHolds =\n%+v; want\n%+v", got, want)
	}

	post := transfer(3, 1, 2, 60, 12)
	post.Flags = ledger.FlagPostPending
	post.PendingID = p1.ID
	post.PendingAmount = 100
	p3 := transfer(4, 1, 2, 5, 13)
	p3.Flags = ledger.FlagPending
	commit(t, s, &ledger.Batch{
		Transfers:   []ledger.PostedTransfer{post, p3},
		HoldsOpened: []ledger.Hold{{Timestamp: 13, ExpiresAt: 77}},
		HoldsClosed: []int64{10},
	})
	want = []hold{{p2.Transfer, 0}, {p3.Transfer, 77}}
	if got := loadHolds(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("LoadHolds after closing one =\n%+v; want\n%+v", got, want)
	}

	// A hold opened and closed in the same batch leaves nothing open.
	p4 := transfer(5, 1, 2, 5, 14)
	p4.Flags = ledger.FlagPending
	commit(t, s, &ledger.Batch{
		Transfers:   []ledger.PostedTransfer{p4},
		HoldsOpened: []ledger.Hold{{Timestamp: 14, ExpiresAt: 0}},
		HoldsClosed: []int64{14, 11, 13},
	})
	if got := loadHolds(t, s); len(got) != 0 {
		t.Errorf("LoadHolds after closing all = %+v; want none", got)
	}
}

func testLookupID(t *testing.T, open Opener) {
	s := open(t)
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{account(1, 1), account(2, 2)}})
	posted := transfer(1, 1, 2, 10, 10)
	posted.Hash = 0xFEDCBA9876543210
	failed := transfer(2, 1, 2, 1<<40, 0)
	failed.Metadata = "too much"
	failure := ledger.Failure{Transfer: failed.Transfer, Hash: 0x8000000000000001, Result: ledger.ResultInsufficientFunds, Timestamp: 11}
	// A failure's content may be invalid: accounts missing, ids zero.
	invalid := ledger.Failure{
		Transfer:  ledger.Transfer{ID: transferID(3), Amount: -5, Flags: ledger.FlagPostPending | ledger.FlagVoidPending},
		Hash:      3,
		Result:    ledger.ResultFlagsInvalid,
		Timestamp: 12,
	}
	commit(t, s, &ledger.Batch{Transfers: []ledger.PostedTransfer{posted}, Failures: []ledger.Failure{failure, invalid}})

	for _, c := range []struct {
		id   tongbao.ID
		want ledger.IDRecord
	}{
		{posted.ID, ledger.IDRecord{Hash: posted.Hash, Timestamp: 10, Result: ledger.ResultOK}},
		{failed.ID, ledger.IDRecord{Hash: failure.Hash, Timestamp: 11, Result: ledger.ResultInsufficientFunds}},
		{invalid.ID, ledger.IDRecord{Hash: 3, Timestamp: 12, Result: ledger.ResultFlagsInvalid}},
	} {
		got, ok := lookup(t, s, c.id)
		if !ok || got != c.want {
			t.Errorf("LookupID(%v) = %+v, %v; want %+v, true", c.id, got, ok, c.want)
		}
	}
	if got, ok := lookup(t, s, transferID(4)); ok {
		t.Errorf("LookupID(unused) = %+v, true; want false", got)
	}
	// A failure without an id (the engine refused it for that) cannot be
	// looked up, and is not listed among the ids.
	commit(t, s, &ledger.Batch{Failures: []ledger.Failure{
		{Transfer: ledger.Transfer{Amount: 1}, Hash: 9, Result: ledger.ResultIDZero, Timestamp: 13},
		{Transfer: ledger.Transfer{Amount: 2}, Hash: 9, Result: ledger.ResultIDZero, Timestamp: 14},
	}})
	if ids := loadIDs(t, s); len(ids) != 3 {
		t.Errorf("LoadIDs = %v; want the 3 ids of the transfer and the failures", ids)
	}
	// A failure is not a posted transfer.
	if _, err := s.Transfer(ctx(t), failed.ID); !errors.Is(err, ledger.ErrTransferNotFound) {
		t.Errorf("Transfer(failed id) error = %v; want ErrTransferNotFound", err)
	}
	if got := accountHistory(t, s, accountID(1), failure.Timestamp, 10); len(got) != 0 {
		t.Errorf("AccountHistory from a failure's timestamp gave %d transfers; want none", len(got))
	}
	if got := accountHistory(t, s, accountID(1), posted.Timestamp, 10); len(got) != 1 {
		t.Errorf("AccountHistory gave %d transfers; want only the posted one", len(got))
	}
}

func testLoadIDs(t *testing.T, open Opener) {
	s := open(t)
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{account(1, 1), account(2, 2)}})
	var want []tongbao.ID
	b := &ledger.Batch{}
	for i := uint64(1); i <= 300; i++ {
		tr := transfer(i, 1, 2, 1, int64(10+i))
		if i%4 == 0 {
			b.Failures = append(b.Failures, ledger.Failure{Transfer: tr.Transfer, Hash: 1, Result: ledger.ResultDebitLimit, Timestamp: tr.Timestamp})
		} else {
			b.Transfers = append(b.Transfers, tr)
		}
		want = append(want, tr.ID)
	}
	commit(t, s, b)
	slices.SortFunc(want, func(a, b tongbao.ID) int { return strings.Compare(string(a[:]), string(b[:])) })
	if got := loadIDs(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("LoadIDs gave %d ids; want %d, the ids of every transfer and failure", len(got), len(want))
	}
}

func testResolution(t *testing.T, open Opener) {
	s := open(t)
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{account(1, 1), account(2, 2)}})
	var holds []ledger.PostedTransfer
	for i := uint64(1); i <= 4; i++ {
		p := transfer(i, 1, 2, 100, int64(10+i))
		p.Flags = ledger.FlagPending
		holds = append(holds, p)
	}
	commit(t, s, &ledger.Batch{Transfers: holds})
	for _, h := range holds {
		if flags, ok := resolution(t, s, h.ID); ok {
			t.Errorf("Resolution(open hold) = %v, true; want false", flags)
		}
	}

	post := transfer(11, 1, 2, 0, 20)
	post.Flags = ledger.FlagPostPending | ledger.FlagLinked
	post.PendingID = holds[0].ID
	void := transfer(12, 1, 2, 0, 21)
	void.Flags = ledger.FlagVoidPending
	void.PendingID = holds[1].ID
	expired := ledger.PostedTransfer{Transfer: ledger.Transfer{
		DebitAccountID: accountID(1), CreditAccountID: accountID(2),
		PendingID: holds[2].ID, PendingAmount: 100, Flags: ledger.FlagExpired, Timestamp: 22,
	}}
	// A plain transfer that names a pending id (as a failure's content
	// might) does not resolve it; nor does a failed post.
	failedPost := transfer(13, 1, 2, 0, 0)
	failedPost.Flags = ledger.FlagPostPending
	failedPost.PendingID = holds[3].ID
	commit(t, s, &ledger.Batch{
		Transfers: []ledger.PostedTransfer{post, void, expired},
		Failures:  []ledger.Failure{{Transfer: failedPost.Transfer, Hash: 1, Result: ledger.ResultPostExceedsPending, Timestamp: 23}},
	})

	for _, c := range []struct {
		name  string
		id    tongbao.ID
		flags ledger.TransferFlags
		ok    bool
	}{
		{"posted", holds[0].ID, post.Flags, true},
		{"voided", holds[1].ID, void.Flags, true},
		{"expired", holds[2].ID, ledger.FlagExpired, true},
		{"failed post", holds[3].ID, 0, false},
		{"not a hold", transferID(99), 0, false},
	} {
		flags, ok := resolution(t, s, c.id)
		if flags != c.flags || ok != c.ok {
			t.Errorf("Resolution(%s) = %v, %v; want %v, %v", c.name, flags, ok, c.flags, c.ok)
		}
	}
}

// historyFixture commits, over several batches, transfers of accounts 1, 2
// and 3 with their links and heads, account 1 on both sides and between
// transfers of the others, and returns each account's timestamps newest
// first.
func historyFixture(t *testing.T, s ledger.Store) map[uint64][]int64 {
	t.Helper()
	const batches, perBatch = 4, 15
	accounts := []ledger.AccountRecord{account(1, 1), account(2, 2), account(3, 3)}
	commit(t, s, &ledger.Batch{Accounts: accounts})
	l := links{}
	histories := map[uint64][]int64{}
	ts := int64(100)
	n := uint64(0)
	for range batches {
		b := &ledger.Batch{}
		for range perBatch {
			n++
			var debit, credit uint64
			switch {
			case n%5 == 0:
				debit, credit = 2, 3 // not account 1's
			case n%3 == 0:
				debit, credit = 2, 1
			default:
				debit, credit = 1, 2
			}
			tr := transfer(n, debit, credit, tongbao.Amount(n), ts)
			l.link(&tr)
			b.Transfers = append(b.Transfers, tr)
			histories[debit] = append([]int64{ts}, histories[debit]...)
			histories[credit] = append([]int64{ts}, histories[credit]...)
			ts += 1 + int64(n%3) // gaps, so a timestamp may name no transfer
		}
		for _, a := range accounts {
			a.LastTransfer = l[a.ID]
			b.Balances = append(b.Balances, a)
		}
		commit(t, s, b)
	}
	return histories
}

func testAccountHistory(t *testing.T, open Opener) {
	s := open(t)
	histories := historyFixture(t, s)
	for n := uint64(1); n <= 3; n++ {
		id, want := accountID(n), histories[n]
		head := mustAccount(t, s, id).LastTransfer
		if head != want[0] {
			t.Errorf("account %d: LastTransfer = %d; want %d", n, head, want[0])
		}
		got := accountHistory(t, s, id, head, 1000)
		if !slices.Equal(timestamps(got), want) {
			t.Errorf("account %d: AccountHistory(head, 1000) = %v; want %v", n, timestamps(got), want)
		}
		for _, tr := range got {
			if stored := mustTransfer(t, s, tr.ID); stored != tr {
				t.Errorf("account %d: AccountHistory gave %+v; Transfer gives %+v", n, tr, stored)
			}
		}
	}

	mine := histories[1]
	notMine := histories[3][0] // a transfer of accounts 2 and 3
	for _, c := range []struct {
		name    string
		account tongbao.ID
		from    int64
		limit   int
		want    []int64
	}{
		{"limit", accountID(1), mine[0], 5, mine[:5]},
		{"limit exactly the history", accountID(1), mine[0], len(mine), mine},
		{"from the middle", accountID(1), mine[10], 1000, mine[10:]},
		{"from the middle with a limit", accountID(1), mine[10], 3, mine[10:13]},
		{"from the first", accountID(1), mine[len(mine)-1], 10, mine[len(mine)-1:]},
		{"limit 0", accountID(1), mine[0], 0, nil},
		{"limit -1", accountID(1), mine[0], -1, nil},
		{"from 0", accountID(1), 0, 10, nil},
		{"from -1", accountID(1), -1, 10, nil},
		{"from no transfer", accountID(1), 50, 10, nil},
		{"from beyond the last", accountID(1), math.MaxInt64, 10, nil},
		{"from another account's transfer", accountID(1), notMine, 10, nil},
		{"unknown account", accountID(9), mine[0], 10, nil},
		{"zero account", tongbao.ID{}, mine[0], 10, nil},
	} {
		got := accountHistory(t, s, c.account, c.from, c.limit)
		if !slices.Equal(timestamps(got), c.want) {
			t.Errorf("%s: AccountHistory(%d, %d) = %v; want %v", c.name, c.from, c.limit, timestamps(got), c.want)
		}
	}

	// Page through with the link of each page's last transfer as the next
	// start, as the engine does; the pages must add up to the history.
	for _, limit := range []int{1, 3, 7, 100} {
		var got []int64
		from := mine[0]
		for pages := 0; from != 0; pages++ {
			if pages > len(mine) {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			page := accountHistory(t, s, accountID(1), from, limit)
			if len(page) == 0 || len(page) > limit {
				t.Fatalf("limit %d: page of %d from %d", limit, len(page), from)
			}
			got = append(got, timestamps(page)...)
			from = page[len(page)-1].PreviousOn(accountID(1))
		}
		if !slices.Equal(got, mine) {
			t.Errorf("limit %d: pages gave %v; want %v", limit, got, mine)
		}
	}
}

// testCallbackErrors checks that an error from a callback stops the walk
// and comes back unchanged.
func testCallbackErrors(t *testing.T, open Opener) {
	s := open(t)
	historyFixture(t, s)
	commit(t, s, &ledger.Batch{HoldsOpened: []ledger.Hold{{Timestamp: 100}, {Timestamp: 102}}})
	stop := errors.New("stop")
	calls := 0
	count := func() error {
		calls++
		return stop
	}
	for name, walk := range map[string]func() error{
		"LoadAccounts": func() error { return s.LoadAccounts(ctx(t), func(ledger.AccountRecord) error { return count() }) },
		"LoadHolds":    func() error { return s.LoadHolds(ctx(t), func(ledger.Transfer, int64) error { return count() }) },
		"LoadIDs":      func() error { return s.LoadIDs(ctx(t), func(tongbao.ID) error { return count() }) },
	} {
		calls = 0
		if err := walk(); err != stop {
			t.Errorf("%s: error = %v; want the callback's error unchanged", name, err)
		}
		if calls != 1 {
			t.Errorf("%s: callback called %d times after returning an error; want 1", name, calls)
		}
	}
}

func testLastTimestamp(t *testing.T, open Opener) {
	s := open(t)
	steps := []struct {
		name  string
		batch ledger.Batch
		want  int64
	}{
		{"accounts", ledger.Batch{Accounts: []ledger.AccountRecord{account(1, 5), account(2, 7), account(3, 6)}}, 7},
		{"transfers", ledger.Batch{Transfers: []ledger.PostedTransfer{transfer(1, 1, 2, 1, 10), transfer(2, 1, 2, 1, 12)}}, 12},
		{"failure", ledger.Batch{Failures: []ledger.Failure{{Transfer: transfer(3, 1, 2, 1, 0).Transfer, Result: ledger.ResultInsufficientFunds, Timestamp: 13}}}, 13},
		{"account", ledger.Batch{Accounts: []ledger.AccountRecord{account(4, 14)}}, 14},
		{"balances only", ledger.Batch{Balances: []ledger.AccountRecord{account(1, 5)}}, 14},
		{"large timestamps", ledger.Batch{Transfers: []ledger.PostedTransfer{transfer(5, 1, 2, 1, 1_800_000_000_000_000_000)}}, 1_800_000_000_000_000_000},
	}
	for _, step := range steps {
		commit(t, s, &step.batch)
		if got := lastTimestamp(t, s); got != step.want {
			t.Errorf("after %s: LastTimestamp = %d; want %d", step.name, got, step.want)
		}
	}
}

func testReopen(t *testing.T, open Opener) {
	s := open(t)
	histories := historyFixture(t, s)
	mine := histories[1]
	p := transfer(100, 1, 2, 9, 1000)
	p.Flags = ledger.FlagPending
	p.Metadata = "kept"
	p.DebitPrevious, p.CreditPrevious = mine[0], histories[2][0]
	bal := account(1, 1)
	bal.DebitsPending = 9
	bal.Counters = ledger.Counters{Day: 20260301, DayDebits: 9, Year: 2026, YearDebits: 9}
	bal.LastTransfer = p.Timestamp
	commit(t, s, &ledger.Batch{
		Transfers:   []ledger.PostedTransfer{p},
		Failures:    []ledger.Failure{{Transfer: transfer(101, 1, 2, 1, 0).Transfer, Hash: 101, Result: ledger.ResultDailyLimit, Timestamp: 1001}},
		Balances:    []ledger.AccountRecord{bal},
		HoldsOpened: []ledger.Hold{{Timestamp: 1000, ExpiresAt: 5000}},
	})
	before := takeSnapshot(t, s)
	_, beforeHistory, err := wholeHistory(ctx(t), s, accountID(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t)
	if after := takeSnapshot(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("after reopening:\n%+v; want\n%+v", after, before)
	}
	_, afterHistory, err := wholeHistory(ctx(t), s, accountID(1))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(afterHistory, beforeHistory) {
		t.Errorf("after reopening the history is %v; want %v", timestamps(afterHistory), timestamps(beforeHistory))
	}
	if want := append([]int64{p.Timestamp}, mine...); !slices.Equal(timestamps(beforeHistory), want) {
		t.Errorf("history = %v; want %v", timestamps(beforeHistory), want)
	}
	if rec, ok := lookup(t, s, transferID(101)); !ok || rec.Result != ledger.ResultDailyLimit {
		t.Errorf("after reopening LookupID(failure) = %+v, %v", rec, ok)
	}
	// And it takes new batches.
	next := transfer(102, 2, 1, 1, 2000)
	next.DebitPrevious, next.CreditPrevious = p.Timestamp, p.Timestamp
	commit(t, s, &ledger.Batch{Transfers: []ledger.PostedTransfer{next}})
	if got := lastTimestamp(t, s); got != 2000 {
		t.Errorf("LastTimestamp = %d; want 2000", got)
	}
}

// testConcurrentReads runs queries while batches commit. Each batch moves
// money between two accounts and updates both balances; a reader must see
// either all of a batch or none of it, so the two balances always sum to
// zero and the history from an account's head always adds up to its balance.
func testConcurrentReads(t *testing.T, open Opener) {
	s := open(t)
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{account(1, 1), account(2, 2)}})
	const batches, perBatch = 20, 50

	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 4)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := checkConsistent(ctx(t), s); err != nil {
					errs <- err
					return
				}
			}
		}()
	}

	a, b := account(1, 1), account(2, 2)
	ts := int64(10)
	n := uint64(0)
	l := links{}
	for i := 0; i < batches; i++ {
		batch := &ledger.Batch{}
		for j := 0; j < perBatch; j++ {
			n++
			tr := transfer(n, 1, 2, 3, ts)
			l.link(&tr)
			batch.Transfers = append(batch.Transfers, tr)
			a.DebitsPosted += 3
			b.CreditsPosted += 3
			ts++
		}
		a.LastTransfer, b.LastTransfer = l[a.ID], l[b.ID]
		batch.Balances = []ledger.AccountRecord{a, b}
		if err := s.Commit(ctx(t), batch); err != nil {
			t.Errorf("Commit: %v", err)
			break
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := checkConsistent(ctx(t), s); err != nil {
		t.Error(err)
	}
	if got := mustAccount(t, s, accountID(1)).DebitsPosted; got != batches*perBatch*3 {
		t.Errorf("DebitsPosted = %d; want %d", got, batches*perBatch*3)
	}
}

func checkConsistent(ctx context.Context, s ledger.Store) error {
	a, history, err := wholeHistory(ctx, s, accountID(1))
	if err != nil {
		return err
	}
	var sum tongbao.Amount
	for _, tr := range history {
		sum += tr.Amount
	}
	if len(history)%50 != 0 {
		return fmt.Errorf("a reader saw %d transfers: part of a batch", len(history))
	}
	if a.DebitsPosted != sum {
		return fmt.Errorf("balance %d; the history from its head sums to %d", a.DebitsPosted, sum)
	}
	b, err := s.Account(ctx, accountID(2))
	if err != nil {
		return err
	}
	// Two reads, two snapshots: b may be newer than a, never older.
	if b.CreditsPosted < a.DebitsPosted {
		return fmt.Errorf("credit balance %d is older than debit balance %d", b.CreditsPosted, a.DebitsPosted)
	}
	return nil
}

// testReplayAndScan checks the two things the engine's replay reads: the
// ReplayFrom of the last batch, and the transfers from a timestamp on,
// oldest first.
func testReplayAndScan(t *testing.T, open Opener) {
	s := open(t)
	if from, err := s.ReplayFrom(ctx(t)); err != nil || from != 0 {
		t.Fatalf("ReplayFrom of an empty store = %d, %v; want 0", from, err)
	}
	a, b := account(1, 1), account(2, 2)
	a.Checkpoint = 1
	commit(t, s, &ledger.Batch{Accounts: []ledger.AccountRecord{a, b}, ReplayFrom: 3})
	if got := mustAccount(t, s, a.ID).Checkpoint; got != 1 {
		t.Errorf("Checkpoint of a new account = %d; want 1", got)
	}
	var batch []ledger.PostedTransfer
	for i := uint64(0); i < 10; i++ {
		batch = append(batch, transfer(10+i, 1, 2, tongbao.Amount(1+i), int64(100+i)))
	}
	commit(t, s, &ledger.Batch{Transfers: batch, ReplayFrom: 105})
	if from, err := s.ReplayFrom(ctx(t)); err != nil || from != 105 {
		t.Fatalf("ReplayFrom = %d, %v; want 105, the last batch's", from, err)
	}
	var got []int64
	err := s.ScanTransfers(ctx(t), 105, func(tr ledger.Transfer) error {
		got = append(got, tr.Timestamp)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{105, 106, 107, 108, 109}; !slices.Equal(got, want) {
		t.Errorf("ScanTransfers from 105 = %v; want %v", got, want)
	}
	stop := errors.New("stop")
	if err := s.ScanTransfers(ctx(t), 0, func(ledger.Transfer) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("ScanTransfers with a failing callback = %v; want its error", err)
	}
}
