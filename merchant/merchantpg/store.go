// Package merchantpg keeps the merchant domain's tables (merchant.Store)
// in PostgreSQL, with the same semantics as merchantsqlite. The tables may
// share a database and a schema with the ledger's (package postgres) and
// twotier's (package twotierpg): each store records its own migrations in
// schema_version.
//
// Every method is one statement or one transaction, durable when it
// returns (synchronous_commit on, PostgreSQL's default). SwapRequest is a
// conditional UPDATE (compare and swap on status and attempt), so of two
// claims on an open request exactly one wins. ReserveRefund locks the
// request's row with SELECT ... FOR UPDATE before it reads the request's
// refunds, so the refunds of one payment are reserved one at a time, in
// this process or another, and together never exceed the payment.
package merchantpg

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/tongbao/tongbao/internal/rowscan"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/merchant"
	"github.com/tongbao/tongbao/merchant/internal/records"
	"github.com/tongbao/tongbao/postgres"
)

var _ merchant.Store = (*Store)(nil)

// Store is a merchant.Store in a PostgreSQL database.
type Store struct {
	db *pgxpool.Pool
}

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database named by dsn and brings the domain's
// tables up to date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := postgres.OpenDomain(ctx, dsn, "merchant", migrations)
	if err != nil {
		return nil, fmt.Errorf("merchantpg: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.db.Close()
	return nil
}

func internal(what string, err error) error {
	return &tongbao.Error{Code: tongbao.EINTERNAL, Message: "merchant store: " + what, Err: err}
}

// CreateRequest implements merchant.Store.
func (s *Store) CreateRequest(ctx context.Context, r merchant.Request) error {
	_, err := s.db.Exec(ctx, `INSERT INTO requests (`+records.RequestColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		r.ID[:], r.Merchant[:], r.Operator[:], r.OrderID, int64(r.Amount), tongbao.UnixNanos(r.ExpiresAt), r.Payload, string(r.Status),
		r.Payer[:], r.Attempt, tongbao.UnixNanos(r.PaidAt), r.PaymentTimestamp, tongbao.UnixNanos(r.CreatedAt), tongbao.UnixNanos(r.UpdatedAt), r.OneOff)
	switch {
	case postgres.IsUniqueViolation(err, "requests_pkey"):
		return merchant.ErrRequestExists
	case postgres.IsUniqueViolation(err, "requests_merchant_order_id_key"):
		return merchant.ErrOrderIDTaken
	case err != nil:
		return internal("create request", err)
	}
	return nil
}

func (s *Store) oneRequest(ctx context.Context, where string, args ...any) (merchant.Request, error) {
	r, err := records.ScanRequest(s.db.QueryRow(ctx, `SELECT `+records.RequestColumns+` FROM requests WHERE `+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return merchant.Request{}, merchant.ErrRequestNotFound
	}
	if err != nil {
		return merchant.Request{}, internal("read request", err)
	}
	return r, nil
}

// Request implements merchant.Store.
func (s *Store) Request(ctx context.Context, id tongbao.ID) (merchant.Request, error) {
	return s.oneRequest(ctx, `id = $1`, id[:])
}

// RequestByOrder implements merchant.Store.
func (s *Store) RequestByOrder(ctx context.Context, m tongbao.ID, orderID string) (merchant.Request, error) {
	return s.oneRequest(ctx, `merchant = $1 AND order_id = $2`, m[:], orderID)
}

// SwapRequest implements merchant.Store. The UPDATE's condition is
// evaluated again on the latest version of the row once any concurrent
// update of it commits (READ COMMITTED), so of two swaps from the same
// status and attempt exactly one changes the row.
func (s *Store) SwapRequest(ctx context.Context, r merchant.Request, status merchant.RequestStatus, attempt int64) error {
	tag, err := s.db.Exec(ctx, `UPDATE requests SET status = $1, payer = $2, attempt = $3, paid_at = $4, payment_timestamp = $5, updated_at = $6
		WHERE id = $7 AND status = $8 AND attempt = $9`,
		string(r.Status), r.Payer[:], r.Attempt, tongbao.UnixNanos(r.PaidAt), r.PaymentTimestamp, tongbao.UnixNanos(r.UpdatedAt), r.ID[:], string(status), attempt)
	if err != nil {
		return internal("update request", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := s.Request(ctx, r.ID); err != nil {
		return err
	}
	return merchant.ErrRequestChanged
}

// ReserveRefund implements merchant.Store. It first locks the request's
// row (SELECT ... FOR UPDATE), which every reservation for the request
// takes, so they run one after another; each later statement of the
// transaction (READ COMMITTED) then sees the refunds the previous holder
// of the lock committed. Unlike merchantsqlite, which serialises all
// writers, it needs the request's row to lock: ErrRequestNotFound if the
// request is not stored (the service reserves refunds only for requests it
// has read as paid).
func (s *Store) ReserveRefund(ctx context.Context, f merchant.Refund, paid tongbao.Amount) (merchant.Refund, bool, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	defer tx.Rollback(context.Background())
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM requests WHERE id = $1 FOR UPDATE`, f.Request[:]).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		// The refund may still be stored (under another request): an
		// idempotent retry answers with it whatever its content.
		if old, err := s.Refund(ctx, f.ID); err == nil {
			return old, false, nil
		}
		return merchant.Refund{}, false, merchant.ErrRequestNotFound
	}
	if err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	old, err := records.ScanRefund(tx.QueryRow(ctx, `SELECT `+records.RefundColumns+` FROM refunds WHERE id = $1`, f.ID[:]))
	if err == nil {
		return old, false, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	var count, held, seq int64
	if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(CASE WHEN status <> $1 THEN amount ELSE 0 END), 0)::bigint, coalesce(max(seq), 0)
		FROM refunds WHERE request = $2`, string(merchant.RefundFailed), f.Request[:]).Scan(&count, &held, &seq); err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	if count >= merchant.RefundsMax {
		return merchant.Refund{}, false, merchant.ErrTooManyRefunds
	}
	if tongbao.Amount(held)+f.Amount > paid || f.Amount <= 0 {
		return merchant.Refund{}, false, merchant.ErrRefundExceedsPayment
	}
	tag, err := tx.Exec(ctx, `INSERT INTO refunds (`+records.RefundColumns+`, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (id) DO NOTHING`,
		f.ID[:], f.Request[:], f.Merchant[:], f.Payer[:], int64(f.Amount), f.Reason, string(f.Status), f.FailReason, f.Timestamp,
		tongbao.UnixNanos(f.CreatedAt), tongbao.UnixNanos(f.UpdatedAt), seq+1)
	if err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	if tag.RowsAffected() == 0 {
		// The id was stored meanwhile for another request (whose lock
		// this transaction does not hold): answer with that refund.
		tx.Rollback(ctx)
		old, err := s.Refund(ctx, f.ID)
		if err != nil {
			return merchant.Refund{}, false, err
		}
		return old, false, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	return f, true, nil
}

// UpdateRefund implements merchant.Store.
func (s *Store) UpdateRefund(ctx context.Context, f merchant.Refund) error {
	tag, err := s.db.Exec(ctx, `UPDATE refunds SET status = $1, fail_reason = $2, timestamp = $3, updated_at = $4 WHERE id = $5`,
		string(f.Status), f.FailReason, f.Timestamp, tongbao.UnixNanos(f.UpdatedAt), f.ID[:])
	if err != nil {
		return internal("update refund", err)
	}
	if tag.RowsAffected() == 0 {
		return merchant.ErrRefundNotFound
	}
	return nil
}

// Refund implements merchant.Store.
func (s *Store) Refund(ctx context.Context, id tongbao.ID) (merchant.Refund, error) {
	f, err := records.ScanRefund(s.db.QueryRow(ctx, `SELECT `+records.RefundColumns+` FROM refunds WHERE id = $1`, id[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return merchant.Refund{}, merchant.ErrRefundNotFound
	}
	if err != nil {
		return merchant.Refund{}, internal("read refund", err)
	}
	return f, nil
}

// Refunds implements merchant.Store.
func (s *Store) Refunds(ctx context.Context, request tongbao.ID) ([]merchant.Refund, error) {
	rows, err := s.db.Query(ctx, `SELECT `+records.RefundColumns+` FROM refunds WHERE request = $1 ORDER BY seq LIMIT $2`, request[:], merchant.RefundsMax)
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
	rows, err := s.db.Query(ctx, `SELECT `+records.RequestColumns+` FROM requests WHERE `+where, args...)
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
	return s.requests(ctx, "list paid requests", `merchant = $1 AND status = 'paid' AND payment_timestamp >= $2 AND payment_timestamp < $3 ORDER BY payment_timestamp LIMIT $4`, m[:], from, to, limit)
}

// StaleClaims implements merchant.Store.
func (s *Store) StaleClaims(ctx context.Context, before time.Time, limit int) ([]merchant.Request, error) {
	return s.requests(ctx, "list stale claims", `status = 'paying' AND updated_at < $1 ORDER BY updated_at LIMIT $2`, tongbao.UnixNanos(before), limit)
}

// PostedRefunds implements merchant.Store.
func (s *Store) PostedRefunds(ctx context.Context, m tongbao.ID, from, to int64, limit int) ([]merchant.Refund, error) {
	rows, err := s.db.Query(ctx, `SELECT `+records.RefundColumns+` FROM refunds
		WHERE merchant = $1 AND status = 'posted' AND timestamp >= $2 AND timestamp < $3 ORDER BY timestamp LIMIT $4`,
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
	_, err := s.db.Exec(ctx, `INSERT INTO payment_codes (hash, wallet, cap, expires_at, request, merchant, used_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c.Hash[:], c.Wallet[:], int64(c.Cap), tongbao.UnixNanos(c.ExpiresAt), c.Request[:], c.Merchant[:],
		tongbao.UnixNanos(c.UsedAt), tongbao.UnixNanos(c.CreatedAt))
	switch {
	case postgres.IsUniqueViolation(err, "payment_codes_pkey"):
		return merchant.ErrPaymentCodeExists
	case err != nil:
		return internal("create payment code", err)
	}
	return nil
}

// PaymentCode implements merchant.Store.
func (s *Store) PaymentCode(ctx context.Context, hash [32]byte) (merchant.PaymentCode, error) {
	c, err := records.ScanPaymentCode(s.db.QueryRow(ctx, `SELECT `+records.PaymentCodeColumns+` FROM payment_codes WHERE hash = $1`, hash[:]), hash)
	if errors.Is(err, pgx.ErrNoRows) {
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
	res, err := s.db.Exec(ctx, `UPDATE payment_codes SET request = $1, merchant = $2, used_at = $3 WHERE hash = $4 AND request = $5`,
		request[:], m[:], tongbao.UnixNanos(at), hash[:], zero[:])
	if err != nil {
		return internal("use payment code", err)
	}
	if res.RowsAffected() == 1 {
		return nil
	}
	if _, err := s.PaymentCode(ctx, hash); err != nil {
		return err
	}
	return merchant.ErrPaymentCodeUsed
}
