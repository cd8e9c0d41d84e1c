// Package merchantsql keeps the merchant domain's tables (merchant.Store)
// in SQLite or PostgreSQL, one implementation for both (see internal/sqldb
// for where they differ). On SQLite the tables live in a file of their own
// (merchant.db beside the ledger's), in WAL mode with synchronous=FULL; on
// PostgreSQL they may share a schema with the ledger's and the other
// domains', recorded as component "merchant" in schema_version.
//
// The two decisions that must not interleave are made by the database:
// SwapRequest is a conditional UPDATE (compare and swap on status and
// attempt), so of two claims on an open request exactly one wins (on
// PostgreSQL the condition is evaluated again on the row's latest version
// once a concurrent update commits). ReserveRefund reads the request's row
// first, locking it until the transaction ends (SELECT … FOR UPDATE on
// PostgreSQL; on SQLite the transaction holds the file's write lock from
// its BEGIN), so the refunds of one payment are reserved one at a time, in
// this process or another, and together never exceed the payment.
package merchantsql

import (
	"context"
	"embed"
	"fmt"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/sqldb"
	"github.com/tongbao/tongbao/merchant"
)

var _ merchant.Store = (*Store)(nil)

// Store is a merchant.Store in a SQLite file or a PostgreSQL database.
type Store struct {
	db *sqldb.DB
}

//go:embed migrations
var migrations embed.FS

// Open opens the store on target: a postgres:// connection string, or
// the path of a SQLite file (created if needed). It brings the tables up
// to date.
func Open(ctx context.Context, target string) (*Store, error) {
	db, err := sqldb.Open(ctx, target, "merchant", migrations)
	if err != nil {
		return nil, fmt.Errorf("merchantsql: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func internal(what string, err error) error {
	return &tongbao.Error{Code: tongbao.EINTERNAL, Message: "merchant store: " + what, Err: err}
}

// requestColumns are the columns of the requests table, in the order
// scanRequest reads them.
const requestColumns = `id, merchant, operator, order_id, amount, expires_at, payload, status, payer, attempt, paid_at, payment_timestamp, created_at, updated_at, one_off`

func scanRequest(sc sqldb.Scanner) (merchant.Request, error) {
	var r merchant.Request
	var id, m, op, payer []byte
	var amount, expires, paid, created, updated int64
	var status string
	if err := sc.Scan(&id, &m, &op, &r.OrderID, &amount, &expires, &r.Payload, &status, &payer, &r.Attempt, &paid, &r.PaymentTimestamp, &created, &updated, &r.OneOff); err != nil {
		return r, err
	}
	if err := ids([]*tongbao.ID{&r.ID, &r.Merchant, &r.Operator, &r.Payer}, [][]byte{id, m, op, payer}); err != nil {
		return r, err
	}
	r.Amount, r.Status = tongbao.Amount(amount), merchant.RequestStatus(status)
	r.ExpiresAt, r.PaidAt, r.CreatedAt, r.UpdatedAt = tongbao.FromUnixNanos(expires), tongbao.FromUnixNanos(paid), tongbao.FromUnixNanos(created), tongbao.FromUnixNanos(updated)
	return r, nil
}

// ids converts the id columns src into dst.
func ids(dst []*tongbao.ID, src [][]byte) error {
	for i := range dst {
		var err error
		if *dst[i], err = tongbao.IDFromBytes(src[i]); err != nil {
			return err
		}
	}
	return nil
}

// refundColumns are the columns of the refunds table, in the order
// scanRefund reads them.
const refundColumns = `id, request, merchant, payer, amount, reason, status, fail_reason, timestamp, created_at, updated_at`

func scanRefund(sc sqldb.Scanner) (merchant.Refund, error) {
	var f merchant.Refund
	var id, req, m, payer []byte
	var amount, created, updated int64
	var status string
	if err := sc.Scan(&id, &req, &m, &payer, &amount, &f.Reason, &status, &f.FailReason, &f.Timestamp, &created, &updated); err != nil {
		return f, err
	}
	if err := ids([]*tongbao.ID{&f.ID, &f.Request, &f.Merchant, &f.Payer}, [][]byte{id, req, m, payer}); err != nil {
		return f, err
	}
	f.Amount, f.Status = tongbao.Amount(amount), merchant.RefundStatus(status)
	f.CreatedAt, f.UpdatedAt = tongbao.FromUnixNanos(created), tongbao.FromUnixNanos(updated)
	return f, nil
}

// paymentCodeColumns are the columns of the payment_codes table that
// scanPaymentCode reads, in its order (the hash is the key looked up).
const paymentCodeColumns = `wallet, cap, expires_at, request, merchant, used_at, created_at`

func scanPaymentCode(sc sqldb.Scanner, hash [32]byte) (merchant.PaymentCode, error) {
	c := merchant.PaymentCode{Hash: hash}
	var wallet, req, m []byte
	var cap, expires, used, created int64
	if err := sc.Scan(&wallet, &cap, &expires, &req, &m, &used, &created); err != nil {
		return c, err
	}
	if err := ids([]*tongbao.ID{&c.Wallet, &c.Request, &c.Merchant}, [][]byte{wallet, req, m}); err != nil {
		return c, err
	}
	c.Cap = tongbao.Amount(cap)
	c.ExpiresAt, c.UsedAt, c.CreatedAt = tongbao.FromUnixNanos(expires), tongbao.FromUnixNanos(used), tongbao.FromUnixNanos(created)
	return c, nil
}

// CreateRequest implements merchant.Store. Of the table's two unique
// keys, the id and the merchant's order id, the one violated is told by
// whether the id is stored.
func (s *Store) CreateRequest(ctx context.Context, r merchant.Request) error {
	_, err := s.db.Exec(ctx, `INSERT INTO requests (`+requestColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID[:], r.Merchant[:], r.Operator[:], r.OrderID, int64(r.Amount), tongbao.UnixNanos(r.ExpiresAt), r.Payload, string(r.Status),
		r.Payer[:], r.Attempt, tongbao.UnixNanos(r.PaidAt), r.PaymentTimestamp, tongbao.UnixNanos(r.CreatedAt), tongbao.UnixNanos(r.UpdatedAt), r.OneOff)
	switch {
	case sqldb.IsUniqueViolation(err):
		if _, gerr := s.Request(ctx, r.ID); gerr == nil {
			return merchant.ErrRequestExists
		} else if tongbao.ErrorCode(gerr) != tongbao.ENOTFOUND {
			return gerr
		}
		return merchant.ErrOrderIDTaken
	case err != nil:
		return internal("create request", err)
	}
	return nil
}

func (s *Store) oneRequest(ctx context.Context, where string, args ...any) (merchant.Request, error) {
	r, err := scanRequest(s.db.QueryRow(ctx, `SELECT `+requestColumns+` FROM requests WHERE `+where, args...))
	if sqldb.IsNoRows(err) {
		return merchant.Request{}, merchant.ErrRequestNotFound
	}
	if err != nil {
		return merchant.Request{}, internal("read request", err)
	}
	return r, nil
}

// Request implements merchant.Store.
func (s *Store) Request(ctx context.Context, id tongbao.ID) (merchant.Request, error) {
	return s.oneRequest(ctx, `id = ?`, id[:])
}

// RequestByOrder implements merchant.Store.
func (s *Store) RequestByOrder(ctx context.Context, m tongbao.ID, orderID string) (merchant.Request, error) {
	return s.oneRequest(ctx, `merchant = ? AND order_id = ?`, m[:], orderID)
}

// SwapRequest implements merchant.Store.
func (s *Store) SwapRequest(ctx context.Context, r merchant.Request, status merchant.RequestStatus, attempt int64) error {
	res, err := s.db.Exec(ctx, `UPDATE requests SET status = ?, payer = ?, attempt = ?, paid_at = ?, payment_timestamp = ?, updated_at = ?
		WHERE id = ? AND status = ? AND attempt = ?`,
		string(r.Status), r.Payer[:], r.Attempt, tongbao.UnixNanos(r.PaidAt), r.PaymentTimestamp, tongbao.UnixNanos(r.UpdatedAt), r.ID[:], string(status), attempt)
	if err != nil {
		return internal("update request", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal("update request", err)
	} else if n == 1 {
		return nil
	}
	if _, err := s.Request(ctx, r.ID); err != nil {
		return err
	}
	return merchant.ErrRequestChanged
}

// ReserveRefund implements merchant.Store. Every reservation for a
// request first reads the request's row, locking it (see the package
// comment), so they run one after another, each seeing the refunds the
// one before committed. It needs the request's row to lock:
// ErrRequestNotFound if the request is not stored (the service reserves
// refunds only for requests it has read as paid).
func (s *Store) ReserveRefund(ctx context.Context, f merchant.Refund, paid tongbao.Amount) (merchant.Refund, bool, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM requests WHERE id = ?`+s.db.ForUpdate(), f.Request[:]).Scan(&one)
	if sqldb.IsNoRows(err) {
		tx.Rollback()
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
	old, err := scanRefund(tx.QueryRow(ctx, `SELECT `+refundColumns+` FROM refunds WHERE id = ?`, f.ID[:]))
	if err == nil {
		return old, false, nil
	}
	if !sqldb.IsNoRows(err) {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	var count, held, seq int64
	if err := tx.QueryRow(ctx, `SELECT count(*), CAST(coalesce(sum(CASE WHEN status <> ? THEN amount ELSE 0 END), 0) AS BIGINT), coalesce(max(seq), 0)
		FROM refunds WHERE request = ?`, string(merchant.RefundFailed), f.Request[:]).Scan(&count, &held, &seq); err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	if count >= merchant.RefundsMax {
		return merchant.Refund{}, false, merchant.ErrTooManyRefunds
	}
	if tongbao.Amount(held)+f.Amount > paid || f.Amount <= 0 {
		return merchant.Refund{}, false, merchant.ErrRefundExceedsPayment
	}
	res, err := tx.Exec(ctx, `INSERT INTO refunds (`+refundColumns+`, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		f.ID[:], f.Request[:], f.Merchant[:], f.Payer[:], int64(f.Amount), f.Reason, string(f.Status), f.FailReason, f.Timestamp,
		tongbao.UnixNanos(f.CreatedAt), tongbao.UnixNanos(f.UpdatedAt), seq+1)
	if err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	} else if n == 0 {
		// The id was stored meanwhile for another request (whose lock
		// this transaction does not hold): answer with that refund.
		tx.Rollback()
		old, err := s.Refund(ctx, f.ID)
		if err != nil {
			return merchant.Refund{}, false, err
		}
		return old, false, nil
	}
	if err := tx.Commit(); err != nil {
		return merchant.Refund{}, false, internal("reserve refund", err)
	}
	return f, true, nil
}

// UpdateRefund implements merchant.Store.
func (s *Store) UpdateRefund(ctx context.Context, f merchant.Refund) error {
	res, err := s.db.Exec(ctx, `UPDATE refunds SET status = ?, fail_reason = ?, timestamp = ?, updated_at = ? WHERE id = ?`,
		string(f.Status), f.FailReason, f.Timestamp, tongbao.UnixNanos(f.UpdatedAt), f.ID[:])
	if err != nil {
		return internal("update refund", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal("update refund", err)
	} else if n == 0 {
		return merchant.ErrRefundNotFound
	}
	return nil
}

// Refund implements merchant.Store.
func (s *Store) Refund(ctx context.Context, id tongbao.ID) (merchant.Refund, error) {
	f, err := scanRefund(s.db.QueryRow(ctx, `SELECT `+refundColumns+` FROM refunds WHERE id = ?`, id[:]))
	if sqldb.IsNoRows(err) {
		return merchant.Refund{}, merchant.ErrRefundNotFound
	}
	if err != nil {
		return merchant.Refund{}, internal("read refund", err)
	}
	return f, nil
}

// refunds lists the refunds a query selects.
func (s *Store) refunds(ctx context.Context, what, query string, args ...any) ([]merchant.Refund, error) {
	rows, err := s.db.Query(ctx, `SELECT `+refundColumns+` FROM refunds WHERE `+query, args...)
	if err != nil {
		return nil, internal(what, err)
	}
	fs, err := sqldb.All(rows, scanRefund)
	if err != nil {
		return nil, internal(what, err)
	}
	return fs, nil
}

// Refunds implements merchant.Store.
func (s *Store) Refunds(ctx context.Context, request tongbao.ID) ([]merchant.Refund, error) {
	return s.refunds(ctx, "list refunds", `request = ? ORDER BY seq LIMIT ?`, request[:], merchant.RefundsMax)
}

// PostedRefunds implements merchant.Store.
func (s *Store) PostedRefunds(ctx context.Context, m tongbao.ID, from, to int64, limit int) ([]merchant.Refund, error) {
	return s.refunds(ctx, "list posted refunds", `merchant = ? AND status = 'posted' AND timestamp >= ? AND timestamp < ? ORDER BY timestamp LIMIT ?`,
		m[:], from, to, limit)
}

// requests lists the requests a condition selects.
func (s *Store) requests(ctx context.Context, what, where string, args ...any) ([]merchant.Request, error) {
	rows, err := s.db.Query(ctx, `SELECT `+requestColumns+` FROM requests WHERE `+where, args...)
	if err != nil {
		return nil, internal(what, err)
	}
	rs, err := sqldb.All(rows, scanRequest)
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

// CreatePaymentCode implements merchant.Store.
func (s *Store) CreatePaymentCode(ctx context.Context, c merchant.PaymentCode) error {
	_, err := s.db.Exec(ctx, `INSERT INTO payment_codes (hash, wallet, cap, expires_at, request, merchant, used_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.Hash[:], c.Wallet[:], int64(c.Cap), tongbao.UnixNanos(c.ExpiresAt), c.Request[:], c.Merchant[:],
		tongbao.UnixNanos(c.UsedAt), tongbao.UnixNanos(c.CreatedAt))
	switch {
	case sqldb.IsUniqueViolation(err):
		return merchant.ErrPaymentCodeExists
	case err != nil:
		return internal("create payment code", err)
	}
	return nil
}

// PaymentCode implements merchant.Store.
func (s *Store) PaymentCode(ctx context.Context, hash [32]byte) (merchant.PaymentCode, error) {
	c, err := scanPaymentCode(s.db.QueryRow(ctx, `SELECT `+paymentCodeColumns+` FROM payment_codes WHERE hash = ?`, hash[:]), hash)
	if sqldb.IsNoRows(err) {
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
	res, err := s.db.Exec(ctx, `UPDATE payment_codes SET request = ?, merchant = ?, used_at = ? WHERE hash = ? AND request = ?`,
		request[:], m[:], tongbao.UnixNanos(at), hash[:], zero[:])
	if err != nil {
		return internal("use payment code", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal("use payment code", err)
	} else if n == 1 {
		return nil
	}
	if _, err := s.PaymentCode(ctx, hash); err != nil {
		return err
	}
	return merchant.ErrPaymentCodeUsed
}
