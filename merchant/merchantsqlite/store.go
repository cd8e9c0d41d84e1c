// Package merchantsqlite keeps the merchant domain's tables
// (merchant.Store) in a SQLite file of their own, in WAL mode with
// synchronous=FULL like the ledger's and twotier's stores: a record the
// domain was told is stored survives a crash of the machine.
//
// Every transaction begins IMMEDIATE (it takes the write lock at once),
// so the read-then-write of ReserveRefund and SwapRequest is serialised
// against every other writer, in this process or another. The PostgreSQL
// store (merchantpg) locks the request's row with SELECT ... FOR UPDATE
// instead.
package merchantsqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/merchant"
)

var _ merchant.Store = (*Store)(nil)

// BusyTimeoutMs is how long a connection waits for a lock held by another
// process before failing.
const BusyTimeoutMs = 10_000

// ConnsMax is the size of the connection pool. The domain's traffic is
// light next to the ledger's, and one connection makes every write wait
// its turn here rather than in SQLite's busy handler.
const ConnsMax = 1

// Store is a merchant.Store in one SQLite file.
type Store struct {
	db *sql.DB
}

// Open opens (creating it if needed) the database at path and brings its
// schema up to date.
func Open(ctx context.Context, p string) (*Store, error) {
	if p == "" {
		return nil, errors.New("merchantsqlite: open: empty path")
	}
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
	dsn := "file:" + escaped + "?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=" + strconv.Itoa(BusyTimeoutMs) + "&_txlock=immediate&_foreign_keys=0"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("merchantsqlite: open %s: %w", p, err)
	}
	db.SetMaxOpenConns(ConnsMax)
	db.SetMaxIdleConns(ConnsMax)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		db.Close()
		return nil, fmt.Errorf("merchantsqlite: open %s: journal mode %q, %v", p, mode, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("merchantsqlite: open %s: %w", p, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

//go:embed migrations/*.sql
var migrations embed.FS

// migrate applies, each in its own transaction, the migrations newer than
// the database's schema_version.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		prefix, _, _ := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return fmt.Errorf("migrate: %s: name does not start with a version number", name)
		}
		text, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if err := migrateOne(ctx, db, v, string(text)); err != nil {
			return fmt.Errorf("migrate %s: %w", path.Base(name), err)
		}
	}
	return nil
}

func migrateOne(ctx context.Context, db *sql.DB, version int, text string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return err
	}
	if current >= version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, text); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, version); err != nil {
		return err
	}
	return tx.Commit()
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func idOf(b []byte) (tongbao.ID, error) {
	var id tongbao.ID
	if len(b) != len(id) {
		return id, fmt.Errorf("merchantsqlite: stored id has %d bytes", len(b))
	}
	copy(id[:], b)
	return id, nil
}

// isUnique reports whether err is a violation of a unique constraint on
// the named column (or of the primary key when column is empty).
func isUnique(err error, column string) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrConstraint {
		return false
	}
	if column == "" {
		return se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
	}
	return se.ExtendedCode == sqlite3.ErrConstraintUnique && strings.Contains(se.Error(), column)
}

func internal(what string, err error) error {
	return &tongbao.Error{Code: tongbao.EINTERNAL, Message: "merchant store: " + what, Err: err}
}

const requestColumns = `id, merchant, operator, order_id, amount, expires_at, payload, status, payer, attempt, paid_at, payment_timestamp, created_at, updated_at`

type scanner interface{ Scan(...any) error }

func scanRequest(sc scanner) (merchant.Request, error) {
	var r merchant.Request
	var id, m, op, payer []byte
	var amount, expires, paid, created, updated int64
	var status string
	if err := sc.Scan(&id, &m, &op, &r.OrderID, &amount, &expires, &r.Payload, &status, &payer, &r.Attempt, &paid, &r.PaymentTimestamp, &created, &updated); err != nil {
		return r, err
	}
	var err error
	if r.ID, err = idOf(id); err != nil {
		return r, err
	}
	if r.Merchant, err = idOf(m); err != nil {
		return r, err
	}
	if r.Operator, err = idOf(op); err != nil {
		return r, err
	}
	if r.Payer, err = idOf(payer); err != nil {
		return r, err
	}
	r.Amount, r.Status = tongbao.Amount(amount), merchant.RequestStatus(status)
	r.ExpiresAt, r.PaidAt, r.CreatedAt, r.UpdatedAt = fromNanos(expires), fromNanos(paid), fromNanos(created), fromNanos(updated)
	return r, nil
}

// CreateRequest implements merchant.Store.
func (s *Store) CreateRequest(ctx context.Context, r merchant.Request) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO requests (`+requestColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID[:], r.Merchant[:], r.Operator[:], r.OrderID, int64(r.Amount), nanos(r.ExpiresAt), r.Payload, string(r.Status),
		r.Payer[:], r.Attempt, nanos(r.PaidAt), r.PaymentTimestamp, nanos(r.CreatedAt), nanos(r.UpdatedAt))
	switch {
	case isUnique(err, ""):
		return merchant.ErrRequestExists
	case isUnique(err, "order_id"):
		return merchant.ErrOrderIDTaken
	case err != nil:
		return internal("create request", err)
	}
	return nil
}

// Request implements merchant.Store.
func (s *Store) Request(ctx context.Context, id tongbao.ID) (merchant.Request, error) {
	r, err := scanRequest(s.db.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM requests WHERE id = ?`, id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return merchant.Request{}, merchant.ErrRequestNotFound
	}
	if err != nil {
		return merchant.Request{}, internal("read request", err)
	}
	return r, nil
}

// RequestByOrder implements merchant.Store.
func (s *Store) RequestByOrder(ctx context.Context, m tongbao.ID, orderID string) (merchant.Request, error) {
	r, err := scanRequest(s.db.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM requests WHERE merchant = ? AND order_id = ?`, m[:], orderID))
	if errors.Is(err, sql.ErrNoRows) {
		return merchant.Request{}, merchant.ErrRequestNotFound
	}
	if err != nil {
		return merchant.Request{}, internal("read request", err)
	}
	return r, nil
}

// SwapRequest implements merchant.Store.
func (s *Store) SwapRequest(ctx context.Context, r merchant.Request, status merchant.RequestStatus, attempt int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE requests SET status = ?, payer = ?, attempt = ?, paid_at = ?, payment_timestamp = ?, updated_at = ?
		WHERE id = ? AND status = ? AND attempt = ?`,
		string(r.Status), r.Payer[:], r.Attempt, nanos(r.PaidAt), r.PaymentTimestamp, nanos(r.UpdatedAt), r.ID[:], string(status), attempt)
	if err != nil {
		return internal("update request", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return internal("update request", err)
	}
	if n == 1 {
		return nil
	}
	if _, err := s.Request(ctx, r.ID); err != nil {
		return err
	}
	return merchant.ErrRequestChanged
}

const refundColumns = `id, request, merchant, payer, amount, reason, status, fail_reason, timestamp, created_at, updated_at`

func scanRefund(sc scanner) (merchant.Refund, error) {
	var f merchant.Refund
	var id, req, m, payer []byte
	var amount, created, updated int64
	var status string
	if err := sc.Scan(&id, &req, &m, &payer, &amount, &f.Reason, &status, &f.FailReason, &f.Timestamp, &created, &updated); err != nil {
		return f, err
	}
	var err error
	for _, p := range []struct {
		dst *tongbao.ID
		src []byte
	}{{&f.ID, id}, {&f.Request, req}, {&f.Merchant, m}, {&f.Payer, payer}} {
		if *p.dst, err = idOf(p.src); err != nil {
			return f, err
		}
	}
	f.Amount, f.Status = tongbao.Amount(amount), merchant.RefundStatus(status)
	f.CreatedAt, f.UpdatedAt = fromNanos(created), fromNanos(updated)
	return f, nil
}

// ReserveRefund implements merchant.Store. The transaction begins
// IMMEDIATE (see Open), so no other writer runs between the sum and the
// insert.
func (s *Store) ReserveRefund(ctx context.Context, f merchant.Refund, paid tongbao.Amount) (merchant.Refund, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	defer tx.Rollback()
	old, err := scanRefund(tx.QueryRowContext(ctx, `SELECT `+refundColumns+` FROM refunds WHERE id = ?`, f.ID[:]))
	if err == nil {
		return old, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	var count, held, seq int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(CASE WHEN status != ? THEN amount ELSE 0 END), 0), coalesce(max(seq), 0)
		FROM refunds WHERE request = ?`, string(merchant.RefundFailed), f.Request[:]).Scan(&count, &held, &seq); err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	if count >= merchant.RefundsMax {
		return merchant.Refund{}, false, merchant.ErrTooManyRefunds
	}
	if tongbao.Amount(held)+f.Amount > paid || f.Amount <= 0 {
		return merchant.Refund{}, false, merchant.ErrRefundExceedsPayment
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO refunds (`+refundColumns+`, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID[:], f.Request[:], f.Merchant[:], f.Payer[:], int64(f.Amount), f.Reason, string(f.Status), f.FailReason, f.Timestamp,
		nanos(f.CreatedAt), nanos(f.UpdatedAt), seq+1); err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	if err := tx.Commit(); err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	return f, true, nil
}

// UpdateRefund implements merchant.Store.
func (s *Store) UpdateRefund(ctx context.Context, f merchant.Refund) error {
	res, err := s.db.ExecContext(ctx, `UPDATE refunds SET status = ?, fail_reason = ?, timestamp = ?, updated_at = ? WHERE id = ?`,
		string(f.Status), f.FailReason, f.Timestamp, nanos(f.UpdatedAt), f.ID[:])
	if err != nil {
		return internal("update refund", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return internal("update refund", err)
	}
	if n == 0 {
		return merchant.ErrRefundNotFound
	}
	return nil
}

// Refund implements merchant.Store.
func (s *Store) Refund(ctx context.Context, id tongbao.ID) (merchant.Refund, error) {
	f, err := scanRefund(s.db.QueryRowContext(ctx, `SELECT `+refundColumns+` FROM refunds WHERE id = ?`, id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return merchant.Refund{}, merchant.ErrRefundNotFound
	}
	if err != nil {
		return merchant.Refund{}, internal("read refund", err)
	}
	return f, nil
}

// Refunds implements merchant.Store.
func (s *Store) Refunds(ctx context.Context, request tongbao.ID) ([]merchant.Refund, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+refundColumns+` FROM refunds WHERE request = ? ORDER BY seq LIMIT ?`, request[:], merchant.RefundsMax)
	if err != nil {
		return nil, internal("list refunds", err)
	}
	defer rows.Close()
	var fs []merchant.Refund
	for rows.Next() {
		f, err := scanRefund(rows)
		if err != nil {
			return nil, internal("list refunds", err)
		}
		fs = append(fs, f)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("list refunds", err)
	}
	return fs, nil
}
