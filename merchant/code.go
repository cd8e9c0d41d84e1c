package merchant

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

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
		return "", twotier.ErrNotMerchantWallet
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
	r, _, err := s.oneOff(ctx, RequestSpec{ID: p.ID, Merchant: c.Wallet, OrderID: orderIDOf("S", p.ID), Amount: p.Amount,
		ExpiresAt: s.clock.Now().Add(staticRequestTTL), MerchantName: c.MerchantName, MerchantCity: c.MerchantCity}, p.Payer)
	if err != nil {
		return Request{}, err
	}
	return s.payOneOff(ctx, r)
}

// oneOff returns the request a payment makes for itself (a static code's,
// a payment code's charge): created claimed by its payer (paying, attempt
// one), so that no one else can pay it, or the one stored under spec.ID
// by an earlier try of the same payment (its expiry, set from the clock,
// differs on a retry). created says which.
func (s *Service) oneOff(ctx context.Context, spec RequestSpec, payer tongbao.ID) (r Request, created bool, err error) {
	if payer.IsZero() {
		return Request{}, false, tongbao.Errorf(tongbao.EINVALID, "payer wallet is missing")
	}
	if _, err := s.payments.Wallet(ctx, payer); err != nil {
		return Request{}, false, fmt.Errorf("payer wallet: %w", err)
	}
	if payer == spec.Merchant {
		return Request{}, false, tongbao.Errorf(tongbao.EINVALID, "a merchant wallet cannot pay itself")
	}
	if r, err = s.newRequest(ctx, spec, s.clock.Now()); err != nil {
		return Request{}, false, err
	}
	r.Status, r.Payer, r.Attempt, r.OneOff = RequestPaying, payer, 1, true
	err = s.store.CreateRequest(ctx, r)
	if errors.Is(err, ErrRequestExists) || errors.Is(err, ErrOrderIDTaken) {
		old, gerr := s.store.Request(ctx, r.ID)
		if errors.Is(gerr, ErrRequestNotFound) {
			return Request{}, false, err
		}
		if gerr != nil {
			return Request{}, false, gerr
		}
		if !old.OneOff || old.Merchant != r.Merchant || old.OrderID != r.OrderID || old.Amount != r.Amount || old.Payer != payer {
			return Request{}, false, tongbao.ErrIDConflict
		}
		return old, false, nil
	}
	if err != nil {
		return Request{}, false, err
	}
	return r, true, nil
}

// payOneOff pays a one-off request, or answers with its outcome if it
// has one: paid, or refused (the request was cancelled by the refusal).
func (s *Service) payOneOff(ctx context.Context, r Request) (Request, error) {
	switch r.Status {
	case RequestPaid:
		return r, nil
	case RequestPaying:
		return s.settleClaim(ctx, r)
	case RequestCancelled:
		return Request{}, fmt.Errorf("refused before: %w", ErrRequestCancelled)
	}
	return Request{}, statusError(r.Status)
}

// orderIDOf makes the order id of a payment that came without one: a
// letter for its kind and the last 12 bytes of its id in hex, 25
// characters (the most a code carries). The id's first bytes may be a
// time (see httpapi's ids), so the last ones are the ones that differ.
func orderIDOf(kind string, id tongbao.ID) string {
	return kind + hex.EncodeToString(id[4:])
}
