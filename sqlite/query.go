package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// queries are the read statements the ledger runs while it serves,
// prepared on the read pool. The loads run once at start and are not here.
type queries struct {
	account        *sql.Stmt
	transfer       *sql.Stmt
	lookupTransfer *sql.Stmt
	lookupFailure  *sql.Stmt
	resolution     *sql.Stmt
	accountHistory *sql.Stmt
	lastTimestamp  *sql.Stmt
}

func (q *queries) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&q.account, `SELECT ` + accountColumns + ` FROM accounts WHERE id = ?`},
		{&q.transfer, `SELECT ` + transferColumns + ` FROM transfers WHERE id = ?`},
		{&q.lookupTransfer, `SELECT hash, timestamp FROM transfers WHERE id = ?`},
		{&q.lookupFailure, `SELECT hash, timestamp, result FROM transfer_failures WHERE id = ?`},
		{&q.resolution, `SELECT flags FROM transfers
			WHERE pending_id = ? AND flags & ? != 0 ORDER BY timestamp LIMIT 1`},
		{&q.accountHistory, accountHistorySQL},
		{&q.lastTimestamp, `SELECT max(
			(SELECT coalesce(max(timestamp), 0) FROM transfers),
			(SELECT coalesce(max(timestamp), 0) FROM transfer_failures),
			(SELECT coalesce(max(timestamp), 0) FROM accounts))`},
	} {
		stmt, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		*p.stmt = stmt
	}
	return nil
}

func (q *queries) close() {
	for _, stmt := range []*sql.Stmt{q.account, q.transfer, q.lookupTransfer, q.lookupFailure,
		q.resolution, q.accountHistory, q.lastTimestamp} {
		if stmt != nil {
			stmt.Close()
		}
	}
}

// accountHistorySQL walks an account's history from the transfer at ?2
// backwards through its links, at most ?3 transfers, in one statement, so
// in one snapshot. Each step is a look-up of transfers by its primary key;
// a transfer that is not on the account ?1 ends the walk.
//
// SQLite marks a statement for re-preparing whenever a new value is bound
// to a parameter its plan might depend on: one compared with = in a WHERE
// clause, or a LIMIT. The driver clears the bindings after every use, so
// such a statement would be compiled again on every call, which cost more
// than walking ten transfers. Hence +?1 (the unary plus changes no value
// but hides the parameter from the planner) and a bound on the step number
// rather than a LIMIT.
var accountHistorySQL = `WITH RECURSIVE history (step, ` + transferColumns + `) AS (
		SELECT 1, ` + transferColumns + ` FROM transfers
			WHERE timestamp = ?2 AND (debit_account_id = +?1 OR credit_account_id = +?1)
		UNION ALL
		SELECT h.step + 1, ` + prefixed("t.", transferColumns) + `
			FROM history h JOIN transfers t
				ON t.timestamp = CASE WHEN h.debit_account_id = ?1 THEN h.debit_previous ELSE h.credit_previous END
			WHERE h.step < ?3 AND (t.debit_account_id = +?1 OR t.credit_account_id = +?1)
	)
	SELECT ` + transferColumns + ` FROM history ORDER BY step`

// resolvingFlags mark a transfer that resolves a hold: an expiry record
// resolves it as much as a post or a void does.
const resolvingFlags = ledger.FlagPostPending | ledger.FlagVoidPending | ledger.FlagExpired

// idArg is the argument for an id column; the zero id is NULL, which no
// comparison matches.
func idArg(id tongbao.ID) any {
	if id.IsZero() {
		return nil
	}
	return id[:]
}

// idColumn scans a 16-byte BLOB, or NULL as the zero id.
type idColumn struct{ id *tongbao.ID }

func (c idColumn) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.id = tongbao.ID{}
	case []byte:
		if len(v) != len(c.id) {
			return fmt.Errorf("id of %d bytes", len(v))
		}
		copy(c.id[:], v)
	default:
		return fmt.Errorf("id stored as %T", src)
	}
	return nil
}

// intColumn scans an INTEGER into any integer type.
type intColumn[T ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64] struct{ p *T }

func (c intColumn[T]) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("integer stored as %T", src)
	}
	*c.p = T(v)
	return nil
}

func ints[T ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64](p *T) intColumn[T] {
	return intColumn[T]{p}
}

// row is a *sql.Row or *sql.Rows.
type row interface{ Scan(dest ...any) error }

func scanAccount(r row) (ledger.AccountRecord, error) {
	var a ledger.AccountRecord
	var currency string
	err := r.Scan(idColumn{&a.ID}, &currency, ints(&a.Code), ints(&a.Flags), ints(&a.CreditLine),
		ints(&a.Limits.BalanceMax), ints(&a.Limits.DebitMax), ints(&a.Limits.DailyDebitMax), ints(&a.Limits.YearlyDebitMax),
		ints(&a.FrozenUntil), ints(&a.DebitsPending), ints(&a.DebitsPosted), ints(&a.CreditsPending), ints(&a.CreditsPosted),
		ints(&a.Day), ints(&a.DayDebits), ints(&a.Year), ints(&a.YearDebits), ints(&a.LastTransfer), ints(&a.Checkpoint), ints(&a.Account.Timestamp))
	a.Currency = tongbao.Currency(currency)
	return a, err
}

// scanTransfer reads the columns of transferColumns, then extra.
func scanTransfer(r row, extra ...any) (ledger.Transfer, error) {
	var t ledger.Transfer
	var hash int64
	dest := append([]any{ints(&t.Timestamp), idColumn{&t.ID}, idColumn{&t.DebitAccountID}, idColumn{&t.CreditAccountID},
		ints(&t.Amount), idColumn{&t.PendingID}, ints(&t.PendingAmount), ints(&t.DebitPrevious), ints(&t.CreditPrevious),
		ints(&t.TimeoutSeconds), ints(&t.Code), ints(&t.Flags), &t.Metadata, &hash}, extra...)
	err := r.Scan(dest...)
	return t, err
}

// Account returns an account with its balances, or ledger.ErrAccountNotFound.
func (s *Store) Account(ctx context.Context, id tongbao.ID) (ledger.AccountRecord, error) {
	a, err := scanAccount(s.queries.account.QueryRowContext(ctx, idArg(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.AccountRecord{}, ledger.ErrAccountNotFound
	}
	if err != nil {
		return ledger.AccountRecord{}, fmt.Errorf("sqlite: account: %w", err)
	}
	return a, nil
}

// Transfer returns a posted transfer, or ledger.ErrTransferNotFound.
func (s *Store) Transfer(ctx context.Context, id tongbao.ID) (ledger.Transfer, error) {
	t, err := scanTransfer(s.queries.transfer.QueryRowContext(ctx, idArg(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.Transfer{}, ledger.ErrTransferNotFound
	}
	if err != nil {
		return ledger.Transfer{}, fmt.Errorf("sqlite: transfer: %w", err)
	}
	return t, nil
}

// LookupID returns what is stored under a transfer id: the posted transfer,
// or else the recorded failure.
func (s *Store) LookupID(ctx context.Context, id tongbao.ID) (ledger.IDRecord, bool, error) {
	var rec ledger.IDRecord
	err := s.queries.lookupTransfer.QueryRowContext(ctx, idArg(id)).Scan(ints(&rec.Hash), &rec.Timestamp)
	if err == nil {
		return rec, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return ledger.IDRecord{}, false, fmt.Errorf("sqlite: lookup id: %w", err)
	}
	err = s.queries.lookupFailure.QueryRowContext(ctx, idArg(id)).Scan(ints(&rec.Hash), &rec.Timestamp, ints(&rec.Result))
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.IDRecord{}, false, nil
	}
	if err != nil {
		return ledger.IDRecord{}, false, fmt.Errorf("sqlite: lookup id: %w", err)
	}
	return rec, true, nil
}

// Resolution returns the flags of the transfer that posted, voided or
// expired the hold pendingID.
func (s *Store) Resolution(ctx context.Context, pendingID tongbao.ID) (ledger.TransferFlags, bool, error) {
	var flags ledger.TransferFlags
	err := s.queries.resolution.QueryRowContext(ctx, idArg(pendingID), int64(resolvingFlags)).Scan(ints(&flags))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: resolution: %w", err)
	}
	return flags, true, nil
}

// AccountHistory returns up to limit transfers of the account, newest
// first: the transfer at timestamp from, then the account's previous
// transfers, following the links. from <= 0, a limit <= 0, or a from that
// is not a transfer of the account returns none. A link that leads nowhere
// is a broken history, an error.
func (s *Store) AccountHistory(ctx context.Context, account tongbao.ID, from int64, limit int) ([]ledger.Transfer, error) {
	if from <= 0 || limit <= 0 || account.IsZero() {
		return nil, nil
	}
	rows, err := s.queries.accountHistory.QueryContext(ctx, account[:], from, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: account history: %w", err)
	}
	defer rows.Close()
	var transfers []ledger.Transfer
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: account history: %w", err)
		}
		transfers = append(transfers, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: account history: %w", err)
	}
	if err := ledger.CheckHistory(account, from, limit, transfers); err != nil {
		return nil, fmt.Errorf("sqlite: account history: %w", err)
	}
	return transfers, nil
}

// LastTimestamp returns the largest timestamp of any account, transfer or
// failure, or zero for an empty ledger.
func (s *Store) LastTimestamp(ctx context.Context) (int64, error) {
	var ts int64
	if err := s.queries.lastTimestamp.QueryRowContext(ctx).Scan(&ts); err != nil {
		return 0, fmt.Errorf("sqlite: last timestamp: %w", err)
	}
	return ts, nil
}

// ReplayFrom returns the ReplayFrom of the last batch committed.
func (s *Store) ReplayFrom(ctx context.Context) (int64, error) {
	var from int64
	if err := s.read.QueryRowContext(ctx, `SELECT from_timestamp FROM replay`).Scan(&from); err != nil {
		return 0, fmt.Errorf("sqlite: replay: %w", err)
	}
	return from, nil
}

// ScanTransfers calls fn for every transfer from timestamp from on, oldest
// first. An error from fn stops the scan and is returned as it is.
func (s *Store) ScanTransfers(ctx context.Context, from int64, fn func(ledger.Transfer) error) error {
	rows, err := s.read.QueryContext(ctx, `SELECT `+transferColumns+` FROM transfers WHERE timestamp >= ? ORDER BY timestamp`, from)
	if err != nil {
		return fmt.Errorf("sqlite: scan transfers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return fmt.Errorf("sqlite: scan transfers: %w", err)
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: scan transfers: %w", err)
	}
	return nil
}

// LoadAccounts calls fn for every account. An error from fn stops the load
// and is returned as it is.
func (s *Store) LoadAccounts(ctx context.Context, fn func(ledger.AccountRecord) error) error {
	rows, err := s.read.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts`)
	if err != nil {
		return fmt.Errorf("sqlite: load accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return fmt.Errorf("sqlite: load accounts: %w", err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: load accounts: %w", err)
	}
	return nil
}

// LoadHolds calls fn for the pending transfer of every open hold, with the
// hold's expiry, oldest first. An error from fn stops the load and is
// returned as it is.
func (s *Store) LoadHolds(ctx context.Context, fn func(ledger.Transfer, int64) error) error {
	rows, err := s.read.QueryContext(ctx, `SELECT `+prefixed("t.", transferColumns)+`, h.expires_at
		FROM holds h JOIN transfers t ON t.timestamp = h.timestamp ORDER BY h.timestamp`)
	if err != nil {
		return fmt.Errorf("sqlite: load holds: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var expiresAt int64
		t, err := scanTransfer(rows, &expiresAt)
		if err != nil {
			return fmt.Errorf("sqlite: load holds: %w", err)
		}
		if err := fn(t, expiresAt); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: load holds: %w", err)
	}
	return nil
}

// LoadIDs calls fn for the id of every transfer and failure; the records
// of expired holds have none. An error from fn stops the load and is
// returned as it is.
func (s *Store) LoadIDs(ctx context.Context, fn func(tongbao.ID) error) error {
	rows, err := s.read.QueryContext(ctx, `
		SELECT id FROM transfers WHERE id IS NOT NULL
		UNION ALL
		SELECT id FROM transfer_failures`)
	if err != nil {
		return fmt.Errorf("sqlite: load ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id tongbao.ID
		if err := rows.Scan(idColumn{&id}); err != nil {
			return fmt.Errorf("sqlite: load ids: %w", err)
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: load ids: %w", err)
	}
	return nil
}

// prefixed qualifies each of a comma-separated list of columns.
func prefixed(prefix, columns string) string {
	var out []byte
	start := true
	for i := 0; i < len(columns); i++ {
		c := columns[i]
		isSpace := c == ' ' || c == '\t' || c == '\n'
		if start && !isSpace {
			out = append(out, prefix...)
			start = false
		}
		if c == ',' {
			start = true
		}
		out = append(out, c)
	}
	return string(out)
}
