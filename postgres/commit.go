package postgres

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// CommitTimeout bounds one Commit. A commit that has not finished by then
// fails, and the ledger stops: its outcome is unknown until the ledger is
// rebuilt from the database, which is what a restart (or the standby that
// takes the lease) does.
const CommitTimeout = time.Minute

const accountColumns = `id, currency, code, flags, credit_line,
	balance_max, debit_max, daily_debit_max, yearly_debit_max, frozen_until,
	debits_pending, debits_posted, credits_pending, credits_posted,
	day, day_debits, year, year_debits, last_transfer, checkpoint, timestamp`

const transferColumns = `timestamp, id, debit_account_id, credit_account_id, amount,
	pending_id, pending_amount, debit_previous, credit_previous,
	timeout_seconds, code, flags, metadata, hash`

var transferCopyColumns = []string{"timestamp", "id", "debit_account_id", "credit_account_id", "amount",
	"pending_id", "pending_amount", "debit_previous", "credit_previous",
	"timeout_seconds", "code", "flags", "metadata", "hash"}

var failureCopyColumns = []string{"id", "debit_account_id", "credit_account_id", "amount",
	"pending_id", "timeout_seconds", "code", "flags", "metadata", "hash", "result", "timestamp"}

// The statements of Commit besides the two COPYs. Each takes one array per
// column and joins or inserts the rows unnest makes of them: one statement
// and one round trip however many rows, and one plan, cached by pgx.
const (
	insertAccountsSQL = `INSERT INTO accounts (` + accountColumns + `)
		SELECT * FROM unnest($1::bytea[], $2::text[], $3::integer[], $4::integer[], $5::bigint[],
			$6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
			$11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[],
			$15::integer[], $16::bigint[], $17::integer[], $18::bigint[], $19::bigint[], $20::bigint[], $21::bigint[])`

	// An update changes the state flags, freeze, credit line and limits,
	// none of the columns balances writes, so neither statement can undo
	// the other, whichever runs first. The balances an update's record
	// carries are those of its moment: they are not written.
	updateAccountsSQL = `UPDATE accounts AS a SET
			flags = v.flags, frozen_until = v.frozen_until, credit_line = v.credit_line,
			balance_max = v.balance_max, debit_max = v.debit_max,
			daily_debit_max = v.daily_debit_max, yearly_debit_max = v.yearly_debit_max
		FROM unnest($1::bytea[], $2::integer[], $3::bigint[], $4::bigint[],
			$5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])
			AS v (id, flags, frozen_until, credit_line, balance_max, debit_max, daily_debit_max, yearly_debit_max)
		WHERE a.id = v.id`

	// The balances, counters and head of the history change together,
	// with every transfer on the account: one UPDATE ... FROM of the rows
	// of the batch.
	updateBalancesSQL = `UPDATE accounts AS a SET
			debits_pending = v.debits_pending, debits_posted = v.debits_posted,
			credits_pending = v.credits_pending, credits_posted = v.credits_posted,
			day = v.day, day_debits = v.day_debits, year = v.year, year_debits = v.year_debits,
			last_transfer = v.last_transfer, checkpoint = v.checkpoint
		FROM unnest($1::bytea[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
			$6::integer[], $7::bigint[], $8::integer[], $9::bigint[], $10::bigint[], $11::bigint[])
			AS v (id, debits_pending, debits_posted, credits_pending, credits_posted,
				day, day_debits, year, year_debits, last_transfer, checkpoint)
		WHERE a.id = v.id`

	replaySQL      = `UPDATE replay SET from_timestamp = $1`
	insertHoldsSQL = `INSERT INTO holds (timestamp, expires_at) SELECT * FROM unnest($1::bigint[], $2::bigint[])`
	deleteHoldsSQL = `DELETE FROM holds WHERE timestamp = ANY($1::bigint[])`
)

// scratch is reused by every Commit (under commitMu): the columns of the
// statements and the sorted account lists.
type scratch struct {
	row            []any
	order          []int32
	sortedUpdated  []ledger.AccountRecord
	sortedBalances []ledger.AccountRecord
	failures       []ledger.Failure
}

// id returns the argument for an id column: NULL for the zero id,
// otherwise its 16 bytes.
func id(id tongbao.ID) []byte {
	if id.IsZero() {
		return nil
	}
	return id[:]
}

// Commit writes the batch in one transaction and returns once PostgreSQL
// has flushed it to its WAL (synchronous_commit on). On any error nothing
// of the batch is written. With a fence set (SetFence), the transaction
// first checks, and locks until it ends, the writer's lease: a commit by a
// writer that lost its lease fails with ErrNotWriter.
func (s *Store) Commit(ctx context.Context, b *ledger.Batch) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if s.write == nil {
		return ledger.ErrClosed
	}
	if err := s.commit(ctx, b); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

func (s *Store) commit(ctx context.Context, b *ledger.Batch) error {
	// A batch that has begun is written whole or not at all: cancelling
	// ctx stops a commit only before it starts, and CommitTimeout bounds
	// it after.
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CommitTimeout)
	defer cancel()
	sc := &s.scratch

	// Sort on the other core while PostgreSQL writes the transfers.
	sorted := make(chan struct{})
	go func() {
		defer close(sorted)
		sc.order, sc.sortedUpdated = sortAccounts(sc.order[:0], sc.sortedUpdated[:0], b.Updated)
		sc.order, sc.sortedBalances = sortAccounts(sc.order[:0], sc.sortedBalances[:0], b.Balances)
	}()
	defer func() { <-sorted }() // sc is not to be touched once Commit returns

	tx, err := s.write.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background()) // after Commit, a no-op

	// First round trip: the fence, and the new accounts, which the
	// balances below may already move.
	first := &pgx.Batch{}
	if s.fence != nil {
		s.fence.queue(first)
	}
	if len(b.Accounts) > 0 {
		first.Queue(insertAccountsSQL, accountArrays(b.Accounts)...)
	}
	if first.Len() > 0 {
		if err := tx.SendBatch(ctx, first).Close(); err != nil {
			return err
		}
	}

	if len(b.Transfers) > 0 {
		row := sc.row[:0]
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"transfers"}, transferCopyColumns,
			pgx.CopyFromSlice(len(b.Transfers), func(i int) ([]any, error) {
				t := &b.Transfers[i]
				row = append(row[:0],
					t.Timestamp, id(t.ID), id(t.DebitAccountID), id(t.CreditAccountID), int64(t.Amount),
					id(t.PendingID), int64(t.PendingAmount), t.DebitPrevious, t.CreditPrevious,
					int64(t.TimeoutSeconds), int32(t.Code), int32(t.Flags), []byte(t.Metadata), int64(t.Hash))
				return row, nil
			}))
		if err != nil {
			return fmt.Errorf("transfers: %w", err)
		}
		if n != int64(len(b.Transfers)) {
			return fmt.Errorf("transfers: %d of %d rows written", n, len(b.Transfers))
		}
		sc.row = row
	}

	// A failure is recorded to be found by its id; one without an id could
	// never be found, so it is not stored.
	failures := b.Failures
	for i := range b.Failures {
		if b.Failures[i].ID.IsZero() {
			failures = sc.failures[:0]
			for _, f := range b.Failures {
				if !f.ID.IsZero() {
					failures = append(failures, f)
				}
			}
			sc.failures = failures[:0]
			break
		}
	}
	if len(failures) > 0 {
		row := sc.row[:0]
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"transfer_failures"}, failureCopyColumns,
			pgx.CopyFromSlice(len(failures), func(i int) ([]any, error) {
				f := &failures[i]
				row = append(row[:0],
					id(f.ID), id(f.DebitAccountID), id(f.CreditAccountID), int64(f.Amount),
					id(f.PendingID), int64(f.TimeoutSeconds), int32(f.Code), int32(f.Flags),
					[]byte(f.Metadata), int64(f.Hash), int32(f.Result), f.Timestamp)
				return row, nil
			}))
		if err != nil {
			return fmt.Errorf("failures: %w", err)
		}
		if n != int64(len(failures)) {
			return fmt.Errorf("failures: %d of %d rows written", n, len(failures))
		}
		sc.row = row
	}

	// Last round trip before COMMIT: the accounts' rows and the holds.
	<-sorted
	updated, balances := sc.sortedUpdated, sc.sortedBalances
	last := &pgx.Batch{}
	if len(updated) > 0 {
		last.Queue(updateAccountsSQL, updatedArrays(updated)...)
	}
	if len(balances) > 0 {
		last.Queue(updateBalancesSQL, balanceArrays(balances)...)
	}
	if len(b.HoldsOpened) > 0 {
		ts := make([]int64, len(b.HoldsOpened))
		expires := make([]int64, len(b.HoldsOpened))
		for i, h := range b.HoldsOpened {
			ts[i], expires[i] = h.Timestamp, h.ExpiresAt
		}
		last.Queue(insertHoldsSQL, ts, expires)
	}
	if len(b.HoldsClosed) > 0 {
		last.Queue(deleteHoldsSQL, b.HoldsClosed)
	}
	last.Queue(replaySQL, b.ReplayFrom)
	results := tx.SendBatch(ctx, last)
	if len(updated) > 0 {
		tag, err := results.Exec()
		if err != nil {
			results.Close()
			return fmt.Errorf("updated accounts: %w", err)
		}
		if n := tag.RowsAffected(); n != int64(len(updated)) {
			results.Close()
			return fmt.Errorf("updated accounts: %d of %d: %w", int64(len(updated))-n, len(updated), ledger.ErrAccountNotFound)
		}
	}
	if len(balances) > 0 {
		tag, err := results.Exec()
		if err != nil {
			results.Close()
			return fmt.Errorf("balances: %w", err)
		}
		// The engine only moves money on accounts it created: a balance
		// for an account the store does not hold is a bug, and the
		// batch is refused.
		if n := tag.RowsAffected(); n != int64(len(balances)) {
			results.Close()
			return fmt.Errorf("balances: %d of %d accounts: %w", int64(len(balances))-n, len(balances), ledger.ErrAccountNotFound)
		}
	}
	if err := results.Close(); err != nil {
		return fmt.Errorf("holds: %w", err)
	}
	return tx.Commit(ctx)
}

func accountArrays(accounts []ledger.AccountRecord) []any {
	n := len(accounts)
	var (
		ids                                      = make([][]byte, n)
		currencies                               = make([]string, n)
		codes, flags, days, years                = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
		creditLines, balanceMax, debitMax        = make([]int64, n), make([]int64, n), make([]int64, n)
		dailyMax, yearlyMax, frozen              = make([]int64, n), make([]int64, n), make([]int64, n)
		debitsPending, debitsPosted              = make([]int64, n), make([]int64, n)
		creditsPending, creditsPosted            = make([]int64, n), make([]int64, n)
		dayDebits, yearDebits, last, checkpoints = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		timestamps                               = make([]int64, n)
	)
	for i := range accounts {
		a := &accounts[i]
		ids[i] = id(a.ID)
		currencies[i] = string(a.Currency)
		codes[i], flags[i] = int32(a.Code), int32(a.Flags)
		creditLines[i] = int64(a.CreditLine)
		balanceMax[i], debitMax[i] = int64(a.Limits.BalanceMax), int64(a.Limits.DebitMax)
		dailyMax[i], yearlyMax[i] = int64(a.Limits.DailyDebitMax), int64(a.Limits.YearlyDebitMax)
		frozen[i] = a.FrozenUntil
		debitsPending[i], debitsPosted[i] = int64(a.DebitsPending), int64(a.DebitsPosted)
		creditsPending[i], creditsPosted[i] = int64(a.CreditsPending), int64(a.CreditsPosted)
		days[i], dayDebits[i], years[i], yearDebits[i] = a.Day, int64(a.DayDebits), a.Year, int64(a.YearDebits)
		last[i], checkpoints[i], timestamps[i] = a.LastTransfer, a.Checkpoint, a.Account.Timestamp
	}
	return []any{ids, currencies, codes, flags, creditLines, balanceMax, debitMax, dailyMax, yearlyMax, frozen,
		debitsPending, debitsPosted, creditsPending, creditsPosted, days, dayDebits, years, yearDebits, last, checkpoints, timestamps}
}

func updatedArrays(accounts []ledger.AccountRecord) []any {
	n := len(accounts)
	ids := make([][]byte, n)
	flags := make([]int32, n)
	frozen, creditLines := make([]int64, n), make([]int64, n)
	balanceMax, debitMax, dailyMax, yearlyMax := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i := range accounts {
		a := &accounts[i]
		ids[i], flags[i], frozen[i], creditLines[i] = id(a.ID), int32(a.Flags), a.FrozenUntil, int64(a.CreditLine)
		balanceMax[i], debitMax[i] = int64(a.Limits.BalanceMax), int64(a.Limits.DebitMax)
		dailyMax[i], yearlyMax[i] = int64(a.Limits.DailyDebitMax), int64(a.Limits.YearlyDebitMax)
	}
	return []any{ids, flags, frozen, creditLines, balanceMax, debitMax, dailyMax, yearlyMax}
}

func balanceArrays(accounts []ledger.AccountRecord) []any {
	n := len(accounts)
	ids := make([][]byte, n)
	debitsPending, debitsPosted := make([]int64, n), make([]int64, n)
	creditsPending, creditsPosted := make([]int64, n), make([]int64, n)
	days, years := make([]int32, n), make([]int32, n)
	dayDebits, yearDebits, last, checkpoints := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i := range accounts {
		a := &accounts[i]
		ids[i] = id(a.ID)
		debitsPending[i], debitsPosted[i] = int64(a.DebitsPending), int64(a.DebitsPosted)
		creditsPending[i], creditsPosted[i] = int64(a.CreditsPending), int64(a.CreditsPosted)
		days[i], dayDebits[i], years[i], yearDebits[i] = a.Day, int64(a.DayDebits), a.Year, int64(a.YearDebits)
		last[i], checkpoints[i] = a.LastTransfer, a.Checkpoint
	}
	return []any{ids, debitsPending, debitsPosted, creditsPending, creditsPosted, days, dayDebits, years, yearDebits, last, checkpoints}
}

// sortAccounts returns account records in the order of their ids. If a
// list holds an account twice, the later record, the newer state, wins:
// an UPDATE ... FROM that met the account twice would apply one of the two
// at random. Sorting also makes every batch update the rows in one order.
// It sorts positions, not the large records, appending them to order and
// the records to sorted.
func sortAccounts(order []int32, sorted, accounts []ledger.AccountRecord) ([]int32, []ledger.AccountRecord) {
	for i := range accounts {
		order = append(order, int32(i))
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := compareIDs(&accounts[a].ID, &accounts[b].ID); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, i := range order {
		if n := len(sorted); n > 0 && sorted[n-1].ID == accounts[i].ID {
			sorted[n-1] = accounts[i]
			continue
		}
		sorted = append(sorted, accounts[i])
	}
	return order, sorted
}

// compareIDs orders ids as their bytes do, as PostgreSQL orders bytea.
func compareIDs(a, b *tongbao.ID) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}
