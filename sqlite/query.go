package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// queries are the read statements the ledger runs while it serves,
// prepared on the read pool. The loads run once at start and are not here.
type queries struct {
	account          *sql.Stmt
	transfer         *sql.Stmt
	lookupTransfer   *sql.Stmt
	lookupFailure    *sql.Stmt
	resolution       *sql.Stmt
	accountTransfers *sql.Stmt
	scanTransfers    *sql.Stmt
	lastTimestamp    *sql.Stmt
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
		// One walk of the account's range of account_transfers, each row
		// followed by a look-up of the transfer by its timestamp.
		{&q.accountTransfers, `SELECT ` + prefixed("t.", transferColumns) + `
			FROM account_transfers a JOIN transfers t ON t.timestamp = a.timestamp
			WHERE a.account_id = ? AND a.timestamp < ?
			ORDER BY a.timestamp DESC LIMIT ?`},
		{&q.scanTransfers, `SELECT ` + prefixed("t.", transferColumns) + `
			FROM account_transfers a JOIN transfers t ON t.timestamp = a.timestamp
			WHERE a.account_id = ? AND a.timestamp <= ?
			ORDER BY a.timestamp`},
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
		q.resolution, q.accountTransfers, q.scanTransfers, q.lastTimestamp} {
		if stmt != nil {
			stmt.Close()
		}
	}
}

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
		ints(&a.Day), ints(&a.DayDebits), ints(&a.Year), ints(&a.YearDebits), ints(&a.Account.Timestamp))
	a.Currency = tongbao.Currency(currency)
	return a, err
}

// scanTransfer reads the columns of transferColumns, then extra.
func scanTransfer(r row, extra ...any) (ledger.Transfer, error) {
	var t ledger.Transfer
	var hash int64
	dest := append([]any{ints(&t.Timestamp), idColumn{&t.ID}, idColumn{&t.DebitAccountID}, idColumn{&t.CreditAccountID},
		ints(&t.Amount), idColumn{&t.PendingID}, ints(&t.PendingAmount), ints(&t.TimeoutSeconds), ints(&t.Code),
		ints(&t.Flags), &t.Metadata, &hash}, extra...)
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

// AccountTransfers returns up to limit transfers that debit or credit the
// account with timestamps below before (no bound when before <= 0), newest
// first. A limit <= 0 returns none.
func (s *Store) AccountTransfers(ctx context.Context, account tongbao.ID, before int64, limit int) ([]ledger.Transfer, error) {
	if limit <= 0 {
		return nil, nil
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.queries.accountTransfers.QueryContext(ctx, idArg(account), before, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: account transfers: %w", err)
	}
	defer rows.Close()
	var transfers []ledger.Transfer
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: account transfers: %w", err)
		}
		transfers = append(transfers, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: account transfers: %w", err)
	}
	return transfers, nil
}

// ScanAccountTransfers calls fn for the transfers that debit or credit the
// account with timestamps up to and including until, oldest first. An error
// from fn stops the scan and is returned as it is.
func (s *Store) ScanAccountTransfers(ctx context.Context, account tongbao.ID, until int64, fn func(ledger.Transfer) error) error {
	rows, err := s.queries.scanTransfers.QueryContext(ctx, idArg(account), until)
	if err != nil {
		return fmt.Errorf("sqlite: scan account transfers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return fmt.Errorf("sqlite: scan account transfers: %w", err)
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: scan account transfers: %w", err)
	}
	return nil
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
