package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// RowsPerStatementMax is how many rows one INSERT, UPDATE or DELETE of a
// Commit carries. A batch is written in statements of this many rows, then
// the rest in statements of decreasing powers of two down to
// RowsExactMax, and what remains in one statement of its exact size; each
// is prepared once, so a batch of any size costs few statements and no
// statement is compiled during a commit. 128 rows of the widest table bind
// 2,560 variables, far below SQLite's limit of 32,766.
//
// The exact sizes are for the small batches of many concurrent single
// payments: each statement is a call into SQLite, and a call long enough
// for the Go scheduler to hand the committer's processor to another
// goroutine makes the commit wait for one when it returns.
const (
	RowsPerStatementMax = 128
	RowsExactMax        = 16
)

// Columns of the statements of Commit, and the most of them any row has.
const (
	accountColumnsN  = 21
	transferColumnsN = 14
	failureColumnsN  = 12
	balanceColumnsN  = 11
	updatedColumnsN  = 8
	columnsMax       = accountColumnsN
	// idColumnsMax is the most id columns of a row: a transfer's.
	idColumnsMax = 4
)

// statementRows are the sizes of the statements each multiRow has, in
// rows: 1, 2, 3, ... RowsExactMax, then the powers of two up to
// RowsPerStatementMax.
var statementRows = func() []int {
	var rows []int
	for n := 1; n <= RowsExactMax; n++ {
		rows = append(rows, n)
	}
	for n := 2 * RowsExactMax; n <= RowsPerStatementMax; n *= 2 {
		rows = append(rows, n)
	}
	return rows
}()

// statementFor returns the index in statementRows of the statement that
// writes the next rows of n still to write.
func statementFor(n int) int {
	if n <= RowsExactMax {
		return n - 1
	}
	power := bits.Len(uint(min(n, RowsPerStatementMax))) - 1 // 1<<power <= n
	return RowsExactMax - 1 + power - (bits.Len(RowsExactMax) - 1)
}

const accountColumns = `id, currency, code, flags, credit_line,
	balance_max, debit_max, daily_debit_max, yearly_debit_max, frozen_until,
	debits_pending, debits_posted, credits_pending, credits_posted,
	day, day_debits, year, year_debits, last_transfer, checkpoint, timestamp`

const transferColumns = `timestamp, id, debit_account_id, credit_account_id, amount,
	pending_id, pending_amount, debit_previous, credit_previous,
	timeout_seconds, code, flags, metadata, hash`

const failureColumns = `id, debit_account_id, credit_account_id, amount,
	pending_id, timeout_seconds, code, flags, metadata, hash, result, timestamp`

// multiRow is one statement over many rows, prepared in every size Commit uses.
type multiRow struct {
	name    string
	columns int
	build   func(rows int) string
	stmts   []*sql.Stmt // stmts[k] carries statementRows[k] rows
}

// insertInto builds "INSERT OR ROLLBACK INTO table (columns) VALUES (?, ...), ... tail".
//
// OR ROLLBACK makes a constraint violation undo the whole transaction, which
// Commit would do anyway. Without it, SQLite must be able to undo one failed
// statement alone, so it copies every page a statement is about to change
// into a statement journal first: with batches that change thousands of
// pages, a cost paid on every commit for a failure that should never happen.
// After such an error the transaction is gone, so Commit stops at the first
// error and never runs another statement in it.
func insertInto(table, columns string, n int, tail string) func(rows int) string {
	one := valuesRow(n)
	return func(rows int) string {
		var b strings.Builder
		b.WriteString("INSERT OR ROLLBACK INTO " + table + " (" + columns + ") VALUES ")
		for i := 0; i < rows; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(one)
		}
		b.WriteString(tail)
		return b.String()
	}
}

// valuesRow returns "(?, ?, ...)" with n placeholders.
func valuesRow(n int) string { return "(" + strings.Repeat("?, ", n-1) + "?)" }

// inserts are the statements of Commit, prepared on the write connection.
type inserts struct {
	accounts    multiRow
	transfers   multiRow
	failures    multiRow
	updated     multiRow
	balances    multiRow
	holdsOpened multiRow
	holdsClosed multiRow
	replay      *sql.Stmt

	args []any  // reused for each statement's arguments
	ids  []byte // backing store of the id arguments of one statement

	// Reused for each batch: the updated accounts and the balances, sorted.
	order          []int32
	sortedUpdated  []ledger.AccountRecord
	sortedBalances []ledger.AccountRecord
}

func (in *inserts) all() []*multiRow {
	return []*multiRow{&in.accounts, &in.transfers, &in.failures, &in.updated, &in.balances, &in.holdsOpened, &in.holdsClosed}
}

func prepareInserts(ctx context.Context, db *sql.DB) (*inserts, error) {
	in := &inserts{
		accounts: multiRow{name: "accounts", columns: accountColumnsN,
			build: insertInto("accounts", accountColumns, accountColumnsN, "")},
		transfers: multiRow{name: "transfers", columns: transferColumnsN,
			build: insertInto("transfers", transferColumns, transferColumnsN, "")},
		failures: multiRow{name: "failures", columns: failureColumnsN,
			build: insertInto("transfer_failures", failureColumns, failureColumnsN, "")},
		// The balances, counters and head of the history change together,
		// with every transfer on the account. One UPDATE joins a list of
		// rows, as PostgreSQL's UPDATE ... FROM (VALUES ...) does; it binds
		// half the values an upsert of whole rows would, and finds no
		// conflict to resolve first.
		balances: multiRow{name: "balances", columns: balanceColumnsN,
			build: func(rows int) string {
				return `UPDATE OR ROLLBACK accounts SET
					debits_pending = v.column2, debits_posted = v.column3,
					credits_pending = v.column4, credits_posted = v.column5,
					day = v.column6, day_debits = v.column7, year = v.column8, year_debits = v.column9,
					last_transfer = v.column10, checkpoint = v.column11
					FROM (VALUES ` + strings.Repeat(valuesRow(balanceColumnsN)+", ", rows-1) + valuesRow(balanceColumnsN) + `) AS v
					WHERE accounts.id = v.column1`
			}},
		// An update changes the state flags, freeze, credit line and limits,
		// none of the columns balances writes, so neither statement can undo
		// the other, whichever runs first. The balances an update's record
		// carries are those of its moment, never newer than the batch's
		// Balances, which always list an updated account: they are not
		// written.
		updated: multiRow{name: "updated accounts", columns: updatedColumnsN,
			build: func(rows int) string {
				return `UPDATE OR ROLLBACK accounts SET
					flags = v.column2, frozen_until = v.column3, credit_line = v.column4,
					balance_max = v.column5, debit_max = v.column6,
					daily_debit_max = v.column7, yearly_debit_max = v.column8
					FROM (VALUES ` + strings.Repeat(valuesRow(updatedColumnsN)+", ", rows-1) + valuesRow(updatedColumnsN) + `) AS v
					WHERE accounts.id = v.column1`
			}},
		holdsOpened: multiRow{name: "holds opened", columns: 2,
			build: insertInto("holds", "timestamp, expires_at", 2, "")},
		holdsClosed: multiRow{name: "holds closed", columns: 1,
			build: func(rows int) string {
				return "DELETE FROM holds WHERE timestamp IN (" + strings.Repeat("?, ", rows-1) + "?)"
			}},
	}
	for _, m := range in.all() {
		m.stmts = make([]*sql.Stmt, len(statementRows))
		for k := range m.stmts {
			stmt, err := db.PrepareContext(ctx, m.build(statementRows[k]))
			if err != nil {
				in.close()
				return nil, fmt.Errorf("prepare %s: %w", m.name, err)
			}
			m.stmts[k] = stmt
		}
	}
	stmt, err := db.PrepareContext(ctx, `UPDATE replay SET from_timestamp = ?`)
	if err != nil {
		in.close()
		return nil, fmt.Errorf("prepare replay: %w", err)
	}
	in.replay = stmt
	in.args = make([]any, 0, RowsPerStatementMax*columnsMax)
	in.ids = make([]byte, 0, RowsPerStatementMax*idColumnsMax*len(tongbao.ID{}))
	return in, nil
}

func (in *inserts) close() {
	if in.replay != nil {
		in.replay.Close()
	}
	for _, m := range in.all() {
		for _, stmt := range m.stmts {
			if stmt != nil {
				stmt.Close()
			}
		}
	}
}

// id returns the argument for an id column: NULL for the zero id, otherwise
// its 16 bytes, carved out of in.ids so that a statement's ids cost one
// allocation. The driver copies the bytes when it binds them.
func (in *inserts) id(id tongbao.ID) any {
	if id.IsZero() {
		return nil
	}
	start := len(in.ids)
	in.ids = append(in.ids, id[:]...)
	return in.ids[start:len(in.ids):len(in.ids)]
}

// exec writes rows 0..n-1 with m, fill appending the arguments of row i.
// If affected is not nil, it is set to the number of rows changed.
func (in *inserts) exec(ctx context.Context, tx *sql.Tx, m *multiRow, n int, affected *int64, fill func(i int)) error {
	txStmts := make([]*sql.Stmt, len(m.stmts))
	for done := 0; done < n; {
		k := statementFor(n - done)
		rows := statementRows[k]
		if txStmts[k] == nil {
			txStmts[k] = tx.StmtContext(ctx, m.stmts[k])
		}
		in.args, in.ids = in.args[:0], in.ids[:0]
		for i := done; i < done+rows; i++ {
			fill(i)
		}
		if len(in.args) != rows*m.columns {
			panic(fmt.Sprintf("sqlite: %s: %d arguments for %d rows of %d columns", m.name, len(in.args), rows, m.columns))
		}
		res, err := txStmts[k].ExecContext(ctx, in.args...)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		if affected != nil {
			changed, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			*affected += changed
		}
		done += rows
	}
	return nil
}

func (in *inserts) appendAccount(a *ledger.AccountRecord) {
	in.args = append(in.args,
		in.id(a.ID), string(a.Currency), int64(a.Code), int64(a.Flags), int64(a.CreditLine),
		int64(a.Limits.BalanceMax), int64(a.Limits.DebitMax), int64(a.Limits.DailyDebitMax), int64(a.Limits.YearlyDebitMax),
		a.FrozenUntil,
		int64(a.DebitsPending), int64(a.DebitsPosted), int64(a.CreditsPending), int64(a.CreditsPosted),
		int64(a.Day), int64(a.DayDebits), int64(a.Year), int64(a.YearDebits), a.LastTransfer, a.Checkpoint, a.Account.Timestamp)
}

// Commit writes the batch in one transaction, and returns once SQLite has
// fsynced it to the WAL. On any error nothing of the batch is written.
func (s *Store) Commit(ctx context.Context, b *ledger.Batch) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if s.inserts == nil {
		return ledger.ErrClosed
	}
	if err := s.commit(ctx, b); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

func (s *Store) commit(ctx context.Context, b *ledger.Batch) error {
	// A batch that has begun is written whole: cancelling ctx stops a
	// commit only before it starts. Both drivers watch a cancellable
	// context from another goroutine for each statement, which costs more
	// than the statements themselves at this rate.
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	in := s.inserts

	// Sort on the other core while SQLite writes the first tables.
	sorted := make(chan struct{})
	go func() {
		defer close(sorted)
		in.order, in.sortedUpdated = sortAccounts(in.order[:0], in.sortedUpdated[:0], b.Updated)
		in.order, in.sortedBalances = sortAccounts(in.order[:0], in.sortedBalances[:0], b.Balances)
	}()
	defer func() { <-sorted }() // in is not to be touched once Commit returns

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op

	err = in.exec(ctx, tx, &in.accounts, len(b.Accounts), nil, func(i int) {
		in.appendAccount(&b.Accounts[i])
	})
	if err != nil {
		return err
	}
	err = in.exec(ctx, tx, &in.transfers, len(b.Transfers), nil, func(i int) {
		t := &b.Transfers[i]
		in.args = append(in.args,
			t.Timestamp, in.id(t.ID), in.id(t.DebitAccountID), in.id(t.CreditAccountID), int64(t.Amount),
			in.id(t.PendingID), int64(t.PendingAmount), t.DebitPrevious, t.CreditPrevious,
			int64(t.TimeoutSeconds), int64(t.Code), int64(t.Flags), t.Metadata, int64(t.Hash))
	})
	if err != nil {
		return err
	}
	// A failure is recorded to be found by its id; one without an id could
	// never be found, so it is not stored.
	failures := b.Failures
	for i := range b.Failures {
		if b.Failures[i].ID.IsZero() {
			failures = make([]ledger.Failure, 0, len(b.Failures))
			for _, f := range b.Failures {
				if !f.ID.IsZero() {
					failures = append(failures, f)
				}
			}
			break
		}
	}
	err = in.exec(ctx, tx, &in.failures, len(failures), nil, func(i int) {
		f := &failures[i]
		in.args = append(in.args,
			in.id(f.ID), in.id(f.DebitAccountID), in.id(f.CreditAccountID), int64(f.Amount),
			in.id(f.PendingID), int64(f.TimeoutSeconds), int64(f.Code), int64(f.Flags),
			f.Metadata, int64(f.Hash), int64(f.Result), f.Timestamp)
	})
	if err != nil {
		return err
	}
	<-sorted
	updated := in.sortedUpdated
	var changed int64
	err = in.exec(ctx, tx, &in.updated, len(updated), &changed, func(i int) {
		a := &updated[i]
		in.args = append(in.args, in.id(a.ID),
			int64(a.Flags), a.FrozenUntil, int64(a.CreditLine),
			int64(a.Limits.BalanceMax), int64(a.Limits.DebitMax), int64(a.Limits.DailyDebitMax), int64(a.Limits.YearlyDebitMax))
	})
	if err != nil {
		return err
	}
	if changed != int64(len(updated)) {
		return fmt.Errorf("updated accounts: %d of %d: %w", int64(len(updated))-changed, len(updated), ledger.ErrAccountNotFound)
	}
	balances := in.sortedBalances
	var updatedBalances int64
	err = in.exec(ctx, tx, &in.balances, len(balances), &updatedBalances, func(i int) {
		a := &balances[i]
		in.args = append(in.args, in.id(a.ID),
			int64(a.DebitsPending), int64(a.DebitsPosted), int64(a.CreditsPending), int64(a.CreditsPosted),
			int64(a.Day), int64(a.DayDebits), int64(a.Year), int64(a.YearDebits), a.LastTransfer, a.Checkpoint)
	})
	if err != nil {
		return err
	}
	// The engine only moves money on accounts it created: a balance for an
	// account the store does not hold is a bug, and the batch is refused.
	if updatedBalances != int64(len(balances)) {
		return fmt.Errorf("balances: %d of %d accounts: %w", int64(len(balances))-updatedBalances, len(balances), ledger.ErrAccountNotFound)
	}
	err = in.exec(ctx, tx, &in.holdsOpened, len(b.HoldsOpened), nil, func(i int) {
		in.args = append(in.args, b.HoldsOpened[i].Timestamp, b.HoldsOpened[i].ExpiresAt)
	})
	if err != nil {
		return err
	}
	err = in.exec(ctx, tx, &in.holdsClosed, len(b.HoldsClosed), nil, func(i int) {
		in.args = append(in.args, b.HoldsClosed[i])
	})
	if err != nil {
		return err
	}
	if _, err := tx.Stmt(in.replay).ExecContext(ctx, b.ReplayFrom); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return tx.Commit()
}

// sortAccounts returns account records in the order of their ids, which
// keeps an UPDATE walking the accounts table forward. If a list holds an
// account twice, the later record, the newer state, wins. The records are
// large, so it sorts their positions, not the records. It appends the
// positions to order and the records to sorted.
func sortAccounts(order []int32, sorted, balances []ledger.AccountRecord) ([]int32, []ledger.AccountRecord) {
	for i := range balances {
		order = append(order, int32(i))
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := compareIDs(&balances[a].ID, &balances[b].ID); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, i := range order {
		if n := len(sorted); n > 0 && sorted[n-1].ID == balances[i].ID {
			sorted[n-1] = balances[i]
			continue
		}
		sorted = append(sorted, balances[i])
	}
	return order, sorted
}

// compareIDs orders ids as their bytes do, as SQLite orders BLOBs.
func compareIDs(a, b *tongbao.ID) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}
