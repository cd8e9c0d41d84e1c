package merchant

import (
	"context"
	"errors"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/twotier"
)

// staticRequestTTL is the expiry of the payment request a static code's
// payment makes; it is paid at once, so this only bounds one left
// unfinished by a crash.
const staticRequestTTL = chargeRequestTTL

// Names is what a collection code shows the payer (see CollectionCode).
type Names struct {
	MerchantName, MerchantCity string
	LocalName, LocalCity       string
}

// StaticCode returns the payload of a merchant wallet's static collection
// code: printed once, paid many times with an amount the payer enters.
func (s *Service) StaticCode(ctx context.Context, wallet tongbao.ID, n Names) (string, error) {
	w, err := s.payments.Wallet(ctx, wallet)
	if err != nil {
		return "", err
	}
	if w.Kind != twotier.WalletMerchant {
		return "", ErrNotMerchantWallet
	}
	return Encode(CollectionCode{Kind: Static, Wallet: w.ID, Operator: w.Operator, MerchantCategory: w.MerchantCategory,
		MerchantName: n.MerchantName, MerchantCity: n.MerchantCity, LocalName: n.LocalName, LocalCity: n.LocalCity})
}

// CodePayment is a payment of a scanned collection code.
type CodePayment struct {
	// ID is the idempotency id; for a static code it becomes the id of
	// the payment request the payment makes.
	ID      tongbao.ID
	Payload string
	Payer   tongbao.ID
	// Amount is what the payer entered: required for a static code; for
	// a dynamic code it may be left zero, and if set must be the code's.
	Amount tongbao.Amount
}

// PayCode pays a scanned collection code. A dynamic code pays its payment
// request (PayRequest). A static code makes a payment request for the
// amount the payer entered and pays it at once, so every collection,
// static or not, is a request the merchant can find, refund and see on
// its statement. The merchant wallet and its operator must be the ones
// the code names.
func (s *Service) PayCode(ctx context.Context, p CodePayment) (Request, error) {
	if p.ID.IsZero() {
		return Request{}, twotier.ErrIDRequired
	}
	c, err := Decode(p.Payload)
	if err != nil {
		return Request{}, err
	}
	w, err := s.payments.Wallet(ctx, c.Wallet)
	if err != nil {
		return Request{}, err
	}
	if w.Kind != twotier.WalletMerchant || w.Operator != c.Operator {
		return Request{}, tongbao.Errorf(tongbao.EINVALID, "collection code names a wallet that is not that operator's merchant wallet")
	}
	if c.Kind == Dynamic {
		if p.Amount != 0 && p.Amount != c.Amount {
			return Request{}, tongbao.Errorf(tongbao.EINVALID, "amount differs from the code's (%s)", c.Amount)
		}
		r, err := s.store.RequestByOrder(ctx, c.Wallet, c.OrderID)
		if err != nil {
			return Request{}, err
		}
		if r.Payload != p.Payload {
			return Request{}, tongbao.Errorf(tongbao.EINVALID, "collection code is not the one of its payment request")
		}
		return s.PayRequest(ctx, r.ID, p.Payer)
	}
	if p.Amount <= 0 {
		return Request{}, tongbao.Errorf(tongbao.EINVALID, "a static code is paid with an amount above zero")
	}
	r, err := s.oneOffRequest(ctx, RequestSpec{ID: p.ID, Merchant: c.Wallet, OrderID: "S" + p.ID.String()[:24], Amount: p.Amount,
		ExpiresAt: s.clock.Now().Add(staticRequestTTL), MerchantName: c.MerchantName, MerchantCity: c.MerchantCity})
	if err != nil {
		return Request{}, err
	}
	if r.Status == RequestPaid && r.Payer == p.Payer { // a retry of a payment that went through
		return r, nil
	}
	paid, err := s.PayRequest(ctx, r.ID, p.Payer)
	if err != nil && answered(ctx, err) && !errors.Is(err, ErrRequestInProgress) {
		// Refused: the request was made for this payment alone, so it
		// must not stay open for anyone else to pay.
		if _, cerr := s.CancelRequest(ctx, r.ID); cerr != nil && !errors.Is(cerr, ErrRequestExpired) && !errors.Is(cerr, ErrRequestPaid) {
			return Request{}, cerr
		}
	}
	return paid, err
}

// oneOffRequest returns the request a payment makes for itself (a static
// code's, a payment code's charge): the one stored under spec.ID if it is
// the same payment again (its expiry, set from the clock, differs on a
// retry), else a new one.
func (s *Service) oneOffRequest(ctx context.Context, spec RequestSpec) (Request, error) {
	old, err := s.store.Request(ctx, spec.ID)
	if errors.Is(err, ErrRequestNotFound) {
		return s.CreateRequest(ctx, spec)
	}
	if err != nil {
		return Request{}, err
	}
	if old.Merchant != spec.Merchant || old.OrderID != spec.OrderID || old.Amount != spec.Amount {
		return Request{}, ErrIDConflict
	}
	return old, nil
}
