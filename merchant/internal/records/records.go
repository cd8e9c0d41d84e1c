// Package records is how the merchant stores keep their records: the
// columns of each table and the conversion of a row, the same on SQLite
// and PostgreSQL.
package records

import (
	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/rowscan"
	"github.com/tongbao/tongbao/merchant"
)

// RequestColumns are the columns of the requests table, in the order
// ScanRequest reads them.
const RequestColumns = `id, merchant, operator, order_id, amount, expires_at, payload, status, payer, attempt, paid_at, payment_timestamp, created_at, updated_at, one_off`

// ScanRequest reads a row of RequestColumns.
func ScanRequest(sc rowscan.Scanner) (merchant.Request, error) {
	var r merchant.Request
	var id, m, op, payer []byte
	var amount, expires, paid, created, updated int64
	var status string
	if err := sc.Scan(&id, &m, &op, &r.OrderID, &amount, &expires, &r.Payload, &status, &payer, &r.Attempt, &paid, &r.PaymentTimestamp, &created, &updated, &r.OneOff); err != nil {
		return r, err
	}
	var err error
	if r.ID, err = tongbao.IDFromBytes(id); err != nil {
		return r, err
	}
	if r.Merchant, err = tongbao.IDFromBytes(m); err != nil {
		return r, err
	}
	if r.Operator, err = tongbao.IDFromBytes(op); err != nil {
		return r, err
	}
	if r.Payer, err = tongbao.IDFromBytes(payer); err != nil {
		return r, err
	}
	r.Amount, r.Status = tongbao.Amount(amount), merchant.RequestStatus(status)
	r.ExpiresAt, r.PaidAt, r.CreatedAt, r.UpdatedAt = tongbao.FromUnixNanos(expires), tongbao.FromUnixNanos(paid), tongbao.FromUnixNanos(created), tongbao.FromUnixNanos(updated)
	return r, nil
}

// RefundColumns are the columns of the refunds table, in the order
// ScanRefund reads them.
const RefundColumns = `id, request, merchant, payer, amount, reason, status, fail_reason, timestamp, created_at, updated_at`

// ScanRefund reads a row of RefundColumns.
func ScanRefund(sc rowscan.Scanner) (merchant.Refund, error) {
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
		if *p.dst, err = tongbao.IDFromBytes(p.src); err != nil {
			return f, err
		}
	}
	f.Amount, f.Status = tongbao.Amount(amount), merchant.RefundStatus(status)
	f.CreatedAt, f.UpdatedAt = tongbao.FromUnixNanos(created), tongbao.FromUnixNanos(updated)
	return f, nil
}

// PaymentCodeColumns are the columns of the payment_codes table that
// ScanPaymentCode reads, in its order (the hash is the key looked up).
const PaymentCodeColumns = `wallet, cap, expires_at, request, merchant, used_at, created_at`

// ScanPaymentCode reads a row of PaymentCodeColumns of the code with hash.
func ScanPaymentCode(sc rowscan.Scanner, hash [32]byte) (merchant.PaymentCode, error) {
	c := merchant.PaymentCode{Hash: hash}
	var wallet, req, m []byte
	var cap, expires, used, created int64
	err := sc.Scan(&wallet, &cap, &expires, &req, &m, &used, &created)
	if err == nil {
		c.Wallet, err = tongbao.IDFromBytes(wallet)
	}
	if err == nil {
		c.Request, err = tongbao.IDFromBytes(req)
	}
	if err == nil {
		c.Merchant, err = tongbao.IDFromBytes(m)
	}
	if err != nil {
		return c, err
	}
	c.Cap = tongbao.Amount(cap)
	c.ExpiresAt, c.UsedAt, c.CreatedAt = tongbao.FromUnixNanos(expires), tongbao.FromUnixNanos(used), tongbao.FromUnixNanos(created)
	return c, nil
}
