package merchant

import (
	"context"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// RequestStatus is where a payment request is in its life.
type RequestStatus string

// The statuses of a payment request. Paying is the short step between a
// payer claiming an open request and the ledger's answer: it is what makes
// a request paid at most once even when two payers scan it at the same
// moment (see Service.PayRequest).
const (
	RequestOpen      RequestStatus = "open"
	RequestPaying    RequestStatus = "paying"
	RequestPaid      RequestStatus = "paid"
	RequestExpired   RequestStatus = "expired"
	RequestCancelled RequestStatus = "cancelled"
)

// Request is a payment request: a dynamic collection code made for one
// order, with its amount and expiry fixed by the merchant.
type Request struct {
	ID tongbao.ID
	// Merchant is the merchant wallet that is paid; Operator keeps it.
	Merchant tongbao.ID
	Operator tongbao.ID
	// OrderID is the merchant's own reference, unique per merchant.
	OrderID   string
	Amount    tongbao.Amount
	ExpiresAt time.Time // whole seconds, as the payload carries it
	// Payload is the QR payload of the request's collection code.
	Payload string
	Status  RequestStatus
	// Payer is the wallet that claimed the request (paying) or paid it.
	Payer tongbao.ID
	// Attempt counts the claims made on the request: the ledger payment
	// of each claim has an id derived from the request and its attempt,
	// so a retry of one claim is idempotent and a new claim after a
	// refused one is not answered with the old refusal.
	Attempt int64
	// OneOff marks a request made for one payment (a static code's, a
	// payment code's charge), claimed by its payer from the start: after
	// a refusal it is cancelled, not opened to other payers.
	OneOff bool
	// PaidAt and PaymentTimestamp are set once paid: PaymentTimestamp is
	// the ledger timestamp of the transfer that credited the merchant
	// wallet (across operators, the payee's leg), by which a statement
	// finds the request in the wallet's history.
	PaidAt           time.Time
	PaymentTimestamp int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// RefundStatus is what is known of a refund.
type RefundStatus string

// The statuses of a refund. A pending refund counts against what may still
// be refunded, so a refund whose outcome is unknown can never be
// overtaken by another; a failed one no longer counts.
const (
	RefundPending RefundStatus = "pending"
	RefundPosted  RefundStatus = "posted"
	RefundFailed  RefundStatus = "failed"
)

// Refund is money given back from a paid request's merchant wallet to its
// payer: all of it or part, possibly in several refunds.
type Refund struct {
	// ID is the idempotency id given by the merchant.
	ID       tongbao.ID
	Request  tongbao.ID
	Merchant tongbao.ID // debited
	Payer    tongbao.ID // credited
	Amount   tongbao.Amount
	Reason   string
	Status   RefundStatus
	// FailReason is the refusal's message when failed.
	FailReason string
	// Timestamp is the ledger timestamp of the refund's transfer once
	// posted.
	Timestamp int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Store errors. Implementations return these (wrapped or not) so callers
// can test them with errors.Is.
var (
	ErrRequestExists   = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "payment request id already used")
	ErrOrderIDTaken    = tongbao.Sentinel(tongbao.ECONFLICT, "order-id-taken", "the merchant already has a payment request with this order id")
	ErrRequestNotFound = tongbao.Sentinel(tongbao.ENOTFOUND, "payment-request-not-found", "payment request not found")
	ErrRequestChanged  = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "payment request changed meanwhile; retry")
	ErrRefundNotFound  = tongbao.Sentinel(tongbao.ENOTFOUND, "not-found", "refund not found")
	// ErrRefundExceedsPayment refuses a refund that, with the refunds
	// posted or pending before it, would give back more than was paid.
	ErrRefundExceedsPayment = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "refund-exceeds-payment", "refund would exceed what is left of the payment")
)

// RefundsMax is the most refunds one paid request may have, failed ones
// included: a limit on every loop, and on the rows ReserveRefund sums.
const RefundsMax = 100

// ErrTooManyRefunds refuses a refund past RefundsMax.
var ErrTooManyRefunds = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "too-many-refunds", "payment has the most refunds allowed (%d)", RefundsMax)

// Store keeps the merchant domain's records. The money is in the ledger;
// the store holds requests and refunds and makes the two decisions that
// must not interleave: which claim on a request wins (SwapRequest) and
// whether a refund still fits in the payment (ReserveRefund). Every method
// is safe for concurrent use, also from several processes on one
// database, and durable when it returns.
type Store interface {
	// CreateRequest stores a new request: ErrRequestExists if its id is
	// taken, ErrOrderIDTaken if its merchant already has its order id.
	CreateRequest(ctx context.Context, r Request) error
	// Request returns a request, or ErrRequestNotFound.
	Request(ctx context.Context, id tongbao.ID) (Request, error)
	// RequestByOrder returns a merchant's request by its order id, or
	// ErrRequestNotFound.
	RequestByOrder(ctx context.Context, merchant tongbao.ID, orderID string) (Request, error)
	// SwapRequest replaces a request's status, payer, attempt, paid time,
	// payment timestamp and updated time with r's if the stored request
	// still has status and attempt (compare and swap):
	// ErrRequestChanged if it has not, ErrRequestNotFound if there is no
	// such request.
	SwapRequest(ctx context.Context, r Request, status RequestStatus, attempt int64) error

	// ReserveRefund stores a new pending refund if the sum of the
	// request's refunds that are pending or posted, plus this one, is at
	// most paid; the check and the insert are one transaction, so
	// concurrent refunds cannot together pass the limit. If the refund's
	// id is already stored it returns the stored refund and created false,
	// whatever its content (the caller compares). Errors:
	// ErrRefundExceedsPayment, ErrTooManyRefunds.
	ReserveRefund(ctx context.Context, f Refund, paid tongbao.Amount) (stored Refund, created bool, err error)
	// UpdateRefund replaces a refund's status, fail reason, timestamp and
	// updated time: ErrRefundNotFound if there is no such refund.
	UpdateRefund(ctx context.Context, f Refund) error
	// Refund returns a refund, or ErrRefundNotFound.
	Refund(ctx context.Context, id tongbao.ID) (Refund, error)
	// Refunds returns a request's refunds in creation order.
	Refunds(ctx context.Context, request tongbao.ID) ([]Refund, error)

	// StaleClaims returns requests in status paying last updated before
	// a moment, oldest first, at most limit of them.
	StaleClaims(ctx context.Context, before time.Time, limit int) ([]Request, error)
	// PaidRequests returns a merchant's paid requests whose
	// PaymentTimestamp is in [from, to), at most limit of them.
	PaidRequests(ctx context.Context, merchant tongbao.ID, from, to int64, limit int) ([]Request, error)
	// PostedRefunds returns a merchant's posted refunds whose Timestamp is
	// in [from, to), at most limit of them.
	PostedRefunds(ctx context.Context, merchant tongbao.ID, from, to int64, limit int) ([]Refund, error)

	// CreatePaymentCode stores a new unused payment code:
	// ErrPaymentCodeExists if its hash is taken.
	CreatePaymentCode(ctx context.Context, c PaymentCode) error
	// PaymentCode returns a code by its hash, or ErrPaymentCodeNotFound.
	PaymentCode(ctx context.Context, hash [32]byte) (PaymentCode, error)
	// UsePaymentCode marks an unused code used by a request and merchant
	// at a moment (compare and swap on the code being unused):
	// ErrPaymentCodeUsed if it is used, ErrPaymentCodeNotFound if there
	// is no such code.
	UsePaymentCode(ctx context.Context, hash [32]byte, request, merchant tongbao.ID, at time.Time) error
}
