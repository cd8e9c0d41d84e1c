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
	"time"

	"github.com/tongbao/tongbao/internal/rowscan"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/merchant"
	"github.com/tongbao/tongbao/merchant/internal/records"
	"github.com/tongbao/tongbao/sqlite"
)

var _ merchant.Store = (*Store)(nil)

// Store is a merchant.Store in one SQLite file.
type Store struct {
	db *sql.DB
}

// Open opens (creating it if needed) the database at path and brings its
// schema up to date.
func Open(ctx context.Context, p string) (*Store, error) {
	db, err := sqlite.OpenDomain(ctx, p, migrations)
	if err != nil {
		return nil, fmt.Errorf("merchantsqlite: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

//go:embed migrations/*.sql
var migrations embed.FS

func internal(what string, err error) error {
	return &tongbao.Error{Code: tongbao.EINTERNAL, Message: "merchant store: " + what, Err: err}
}

// CreateRequest implements merchant.Store.
func (s *Store) CreateRequest(ctx context.Context, r merchant.Request) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO requests (`+records.RequestColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID[:], r.Merchant[:], r.Operator[:], r.OrderID, int64(r.Amount), tongbao.UnixNanos(r.ExpiresAt), r.Payload, string(r.Status),
		r.Payer[:], r.Attempt, tongbao.UnixNanos(r.PaidAt), r.PaymentTimestamp, tongbao.UnixNanos(r.CreatedAt), tongbao.UnixNanos(r.UpdatedAt), r.OneOff)
	switch {
	case sqlite.IsUniqueViolation(err, ""):
		return merchant.ErrRequestExists
	case sqlite.IsUniqueViolation(err, "order_id"):
		return merchant.ErrOrderIDTaken
	case err != nil:
		return internal("create request", err)
	}
	return nil
}

// Request implements merchant.Store.
func (s *Store) Request(ctx context.Context, id tongbao.ID) (merchant.Request, error) {
	r, err := records.ScanRequest(s.db.QueryRowContext(ctx, `SELECT `+records.RequestColumns+` FROM requests WHERE id = ?`, id[:]))
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
	r, err := records.ScanRequest(s.db.QueryRowContext(ctx, `SELECT `+records.RequestColumns+` FROM requests WHERE merchant = ? AND order_id = ?`, m[:], orderID))
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
		string(r.Status), r.Payer[:], r.Attempt, tongbao.UnixNanos(r.PaidAt), r.PaymentTimestamp, tongbao.UnixNanos(r.UpdatedAt), r.ID[:], string(status), attempt)
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

// ReserveRefund implements merchant.Store. The transaction begins
// IMMEDIATE (see Open), so no other writer runs between the sum and the
// insert.
func (s *Store) ReserveRefund(ctx context.Context, f merchant.Refund, paid tongbao.Amount) (merchant.Refund, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	defer tx.Rollback()
	old, err := records.ScanRefund(tx.QueryRowContext(ctx, `SELECT `+records.RefundColumns+` FROM refunds WHERE id = ?`, f.ID[:]))
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
	if _, err := tx.ExecContext(ctx, `INSERT INTO refunds (`+records.RefundColumns+`, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID[:], f.Request[:], f.Merchant[:], f.Payer[:], int64(f.Amount), f.Reason, string(f.Status), f.FailReason, f.Timestamp,
		tongbao.UnixNanos(f.CreatedAt), tongbao.UnixNanos(f.UpdatedAt), seq+1); err != nil {
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
		string(f.Status), f.FailReason, f.Timestamp, tongbao.UnixNanos(f.UpdatedAt), f.ID[:])
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
	f, err := records.ScanRefund(s.db.QueryRowContext(ctx, `SELECT `+records.RefundColumns+` FROM refunds WHERE id = ?`, id[:]))
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
	rows, err := s.db.QueryContext(ctx, `SELECT `+records.RefundColumns+` FROM refunds WHERE request = ? ORDER BY seq LIMIT ?`, request[:], merchant.RefundsMax)
	if err != nil {
		return nil, internal("list refunds", err)
	}
	defer rows.Close()
	fs, err := rowscan.All(rows, records.ScanRefund)
	if err != nil {
		return nil, internal("list refunds", err)
	}
	return fs, nil
}

// requests lists the requests a condition selects.
func (s *Store) requests(ctx context.Context, what, where string, args ...any) ([]merchant.Request, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+records.RequestColumns+` FROM requests WHERE `+where, args...)
	if err != nil {
		return nil, internal(what, err)
	}
	defer rows.Close()
	rs, err := rowscan.All(rows, records.ScanRequest)
	if err != nil {
		return nil, internal(what, err)
	}
	return rs, nil
}

// PaidRequests implements merchant.Store.
func (s *Store) PaidRequests(ctx context.Context, m tongbao.ID, from, to int64, limit int) ([]merchant.Request, error) {
	return s.requests(ctx, "list paid requests", `merchant = ? AND status = 'paid' AND payment_timestamp >= ? AND payment_timestamp < ? ORDER BY payment_timestamp LIMIT ?`, m[:], from, to, limit)
}

// StaleClaims implements merchant.Store.
func (s *Store) StaleClaims(ctx context.Context, before time.Time, limit int) ([]merchant.Request, error) {
	return s.requests(ctx, "list stale claims", `status = 'paying' AND updated_at < ? ORDER BY updated_at LIMIT ?`, tongbao.UnixNanos(before), limit)
}

// PostedRefunds implements merchant.Store.
func (s *Store) PostedRefunds(ctx context.Context, m tongbao.ID, from, to int64, limit int) ([]merchant.Refund, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+records.RefundColumns+` FROM refunds
		WHERE merchant = ? AND status = 'posted' AND timestamp >= ? AND timestamp < ? ORDER BY timestamp LIMIT ?`,
		m[:], from, to, limit)
	if err != nil {
		return nil, internal("list posted refunds", err)
	}
	defer rows.Close()
	fs, err := rowscan.All(rows, records.ScanRefund)
	if err != nil {
		return nil, internal("list posted refunds", err)
	}
	return fs, nil
}

// CreatePaymentCode implements merchant.Store.
func (s *Store) CreatePaymentCode(ctx context.Context, c merchant.PaymentCode) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO payment_codes (hash, wallet, cap, expires_at, request, merchant, used_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.Hash[:], c.Wallet[:], int64(c.Cap), tongbao.UnixNanos(c.ExpiresAt), c.Request[:], c.Merchant[:],
		tongbao.UnixNanos(c.UsedAt), tongbao.UnixNanos(c.CreatedAt))
	switch {
	case sqlite.IsUniqueViolation(err, ""):
		return merchant.ErrPaymentCodeExists
	case err != nil:
		return internal("create payment code", err)
	}
	return nil
}

// PaymentCode implements merchant.Store.
func (s *Store) PaymentCode(ctx context.Context, hash [32]byte) (merchant.PaymentCode, error) {
	c, err := records.ScanPaymentCode(s.db.QueryRowContext(ctx, `SELECT `+records.PaymentCodeColumns+` FROM payment_codes WHERE hash = ?`, hash[:]), hash)
	if errors.Is(err, sql.ErrNoRows) {
		return c, merchant.ErrPaymentCodeNotFound
	}
	if err != nil {
		return c, internal("read payment code", err)
	}
	return c, nil
}

// UsePaymentCode implements merchant.Store.
func (s *Store) UsePaymentCode(ctx context.Context, hash [32]byte, request, m tongbao.ID, at time.Time) error {
	var zero tongbao.ID
	res, err := s.db.ExecContext(ctx, `UPDATE payment_codes SET request = ?, merchant = ?, used_at = ? WHERE hash = ? AND request = ?`,
		request[:], m[:], tongbao.UnixNanos(at), hash[:], zero[:])
	if err != nil {
		return internal("use payment code", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return internal("use payment code", err)
	}
	if n == 1 {
		return nil
	}
	if _, err := s.PaymentCode(ctx, hash); err != nil {
		return err
	}
	return merchant.ErrPaymentCodeUsed
}
