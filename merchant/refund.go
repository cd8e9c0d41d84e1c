package merchant

import (
	"context"
	"fmt"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/twotier"
)

// RefundSpec is what Refund needs.
type RefundSpec struct {
	// ID is the idempotency id: the same refund again returns its first
	// outcome; other content under the same id is tongbao.ErrIDConflict.
	ID      tongbao.ID
	Request tongbao.ID
	Amount  tongbao.Amount
	Reason  string
}

// Refund gives back all or part of a paid request, from the merchant
// wallet to the payer, as a twotier payment under RefundPaymentID. A
// request may have several refunds; together they never exceed what was
// paid, also when requested concurrently.
//
// Where that limit holds: in the store, not the ledger. The refund's
// money moves by twotier.Service.Pay, one transfer (or one linked chain
// across operators) that this package cannot extend with a leg on a
// per-payment "refundable" account; a ledger-held limit would then be a
// second, separate transfer, and a refund refused after it (the merchant
// short of funds) would need a compensating transfer, with a window in
// which the limit is wrong. Instead ReserveRefund checks the sum of the
// request's pending and posted refunds and inserts the new one as pending
// in one store transaction (SQLite serialises writers; a PostgreSQL store
// locks the request's row), before any money moves. A pending refund
// counts against the limit until the ledger answers, so a crash between
// the reservation and the payment can only leave room unused, never let a
// refund past the limit; the same refund id again resumes it.
//
// Errors: ErrRequestNotPaid, ErrRefundExceedsPayment, ErrTooManyRefunds,
// tongbao.ErrIDConflict, ErrRefundFailed (wrapping the ledger's refusal, also
// when a refund that failed before is asked again), and twotier's.
func (s *Service) Refund(ctx context.Context, spec RefundSpec) (Refund, error) {
	if spec.ID.IsZero() {
		return Refund{}, twotier.ErrIDRequired
	}
	if spec.Amount <= 0 {
		return Refund{}, tongbao.ErrAmountInvalid
	}
	if err := checkReason(spec.Reason); err != nil {
		return Refund{}, err
	}
	r, err := s.store.Request(ctx, spec.Request)
	if err != nil {
		return Refund{}, err
	}
	if r.Status != RequestPaid {
		return Refund{}, ErrRequestNotPaid
	}
	now := s.clock.Now()
	f := Refund{
		ID: spec.ID, Request: r.ID, Merchant: r.Merchant, Payer: r.Payer, Amount: spec.Amount, Reason: spec.Reason,
		Status: RefundPending, CreatedAt: now, UpdatedAt: now,
	}
	stored, created, err := s.store.ReserveRefund(ctx, f, r.Amount)
	if err != nil {
		return Refund{}, err
	}
	if !created {
		if stored.Request != f.Request || stored.Amount != f.Amount || stored.Reason != f.Reason {
			return Refund{}, tongbao.ErrIDConflict
		}
		switch stored.Status {
		case RefundPosted:
			return stored, nil
		case RefundFailed:
			return Refund{}, &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Message: "refund failed: " + stored.FailReason, Err: ErrRefundFailed}
		}
		f = stored
	}
	if err := s.checkRefunded(ctx, r); err != nil {
		return Refund{}, err
	}
	return s.book(ctx, f)
}

// checkRefunded asserts that the refunds the store let through fit in the
// payment: anything else is a bug in the store, and no more money moves.
func (s *Service) checkRefunded(ctx context.Context, r Request) error {
	fs, err := s.store.Refunds(ctx, r.ID)
	if err != nil {
		return err
	}
	var sum tongbao.Amount
	for _, f := range fs {
		if f.Status != RefundFailed {
			sum += f.Amount
		}
	}
	if sum > r.Amount {
		panic(fmt.Sprintf("merchant: request %v has %v refunded or pending of %v paid", r.ID, sum, r.Amount))
	}
	return nil
}

// book moves a pending refund's money and records the outcome.
func (s *Service) book(ctx context.Context, f Refund) (Refund, error) {
	if f.Status != RefundPending || f.Amount <= 0 {
		panic(fmt.Sprintf("merchant: booking refund %v that is not pending: %+v", f.ID, f))
	}
	res, err := s.payments.Pay(ctx, twotier.Payment{ID: RefundPaymentID(f.ID), From: f.Merchant, To: f.Payer, Amount: f.Amount})
	f.UpdatedAt = s.clock.Now()
	switch {
	case err == nil:
		f.Status, f.Timestamp = RefundPosted, res.Timestamp
	case answered(ctx, err):
		f.Status, f.FailReason = RefundFailed, tongbao.ErrorMessage(err)
	default:
		return Refund{}, fmt.Errorf("refund (outcome unknown; ask again with the same id to resume): %w", err)
	}
	if uerr := s.store.UpdateRefund(ctx, f); uerr != nil {
		return Refund{}, uerr
	}
	if err != nil {
		// The kind is the cause's (insufficient-funds, wallet-frozen):
		// ErrRefundFailed, first in the chain, would hide it.
		return Refund{}, &tongbao.Error{Code: tongbao.ErrorCode(err), Kind: tongbao.ErrorKind(err), Message: "refund failed: " + tongbao.ErrorMessage(err), Err: fmt.Errorf("%w: %w", ErrRefundFailed, err)}
	}
	return f, nil
}

// Refunds returns a request's refunds in creation order.
func (s *Service) Refunds(ctx context.Context, request tongbao.ID) ([]Refund, error) {
	return s.store.Refunds(ctx, request)
}

// Refundable returns what a payment request may still give back: its
// amount less its posted and pending refunds once it is paid, zero before.
func (s *Service) Refundable(ctx context.Context, r Request) (tongbao.Amount, error) {
	if r.Status != RequestPaid {
		return 0, nil
	}
	posted, pending, err := s.Refunded(ctx, r.ID)
	if err != nil {
		return 0, err
	}
	return r.Amount - posted - pending, nil
}

// Refunded returns how much of a request's payment has been given back
// (posted refunds) and how much is still reserved by pending ones.
func (s *Service) Refunded(ctx context.Context, request tongbao.ID) (posted, pending tongbao.Amount, err error) {
	fs, err := s.store.Refunds(ctx, request)
	if err != nil {
		return 0, 0, err
	}
	for _, f := range fs {
		switch f.Status {
		case RefundPosted:
			posted += f.Amount
		case RefundPending:
			pending += f.Amount
		}
	}
	return posted, pending, nil
}
