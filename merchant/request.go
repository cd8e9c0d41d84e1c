package merchant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/twotier"
)

// RequestTTLMax is the longest a payment request may stay open.
const RequestTTLMax = 24 * time.Hour

// RequestTTLDefault is how long a payment request made without an expiry
// stays open.
const RequestTTLDefault = 15 * time.Minute

// claimRetryMax bounds how often PayRequest reads a request again after
// another change overtook its claim.
const claimRetryMax = 4

// Errors of payment requests and refunds, besides the Store's and those
// of twotier.Service.Pay (returned wrapped, so errors.Is finds them).
var (
	ErrRequestPaid       = tongbao.Sentinel(tongbao.ECONFLICT, "payment-request-paid", "payment request is already paid")
	ErrRequestExpired    = tongbao.Sentinel(tongbao.ECONFLICT, "payment-request-expired", "payment request has expired")
	ErrRequestCancelled  = tongbao.Sentinel(tongbao.ECONFLICT, "payment-request-cancelled", "payment request was cancelled")
	ErrRequestInProgress = tongbao.Sentinel(tongbao.ECONFLICT, "payment-request-in-progress", "payment request is being paid by another wallet")
	ErrRequestNotPaid    = tongbao.Sentinel(tongbao.ECONFLICT, "payment-request-not-paid", "payment request is not paid")
	ErrRefundFailed      = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "unprocessable", "refund failed")
)

// Config configures a Service. Payments and Store are required.
type Config struct {
	Payments *twotier.Service
	Store    Store
	Clock    tongbao.Clock
}

// Service is merchant collection on the two-tier system: payment requests
// and their refunds. Every movement of money is a twotier payment, so the
// wallets' caps, states and the supply check apply to it unchanged.
type Service struct {
	payments *twotier.Service
	store    Store
	clock    tongbao.Clock
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Payments == nil || cfg.Store == nil {
		return nil, errors.New("merchant: payments and store are required")
	}
	if cfg.Payments.Currency() != tongbao.CNY {
		return nil, tongbao.Errorf(tongbao.EINVALID, "collection codes carry CNY, not %s", cfg.Payments.Currency())
	}
	if cfg.Clock == nil {
		cfg.Clock = tongbao.SystemClock{}
	}
	return &Service{payments: cfg.Payments, store: cfg.Store, clock: cfg.Clock}, nil
}

// deriveID returns a deterministic id from a label and parts, so the same
// request attempt or refund always submits the same ledger payment.
func deriveID(label string, parts ...any) tongbao.ID {
	return tongbao.DeriveID("tongbao/merchant/"+label, parts...)
}

// PaymentID returns the id of the twotier payment of a request's attempt.
func PaymentID(request tongbao.ID, attempt int64) tongbao.ID {
	return deriveID("request-payment", request, attempt)
}

// RefundPaymentID returns the id of the twotier payment of a refund.
func RefundPaymentID(refund tongbao.ID) tongbao.ID { return deriveID("refund", refund) }

// RequestSpec is what CreateRequest needs.
type RequestSpec struct {
	// ID is the request's id, chosen by the caller so a retry creates the
	// same request; zero picks a new one.
	ID       tongbao.ID
	Merchant tongbao.ID // a merchant wallet
	OrderID  string
	Amount   tongbao.Amount
	// ExpiresAt, cut to whole seconds, is when the request expires: after
	// now and at most RequestTTLMax away. When it is zero the request
	// lasts ExpiresIn from its creation (RequestTTLDefault when that is
	// zero too), and a retry of the spec, however late, finds the request
	// made first rather than a conflict.
	ExpiresAt time.Time
	ExpiresIn time.Duration
	// What the payer's wallet shows (see CollectionCode).
	MerchantName, MerchantCity string
	LocalName, LocalCity       string
}

// CreateRequest creates an open payment request and its collection code.
// The same spec with the same id again returns the request already
// created; another request with the merchant's order id fails with
// ErrOrderIDTaken.
func (s *Service) CreateRequest(ctx context.Context, spec RequestSpec) (Request, error) {
	r, err := s.newRequest(ctx, spec, s.clock.Now())
	if err != nil {
		return Request{}, err
	}
	err = s.store.CreateRequest(ctx, r)
	if errors.Is(err, ErrRequestExists) || errors.Is(err, ErrOrderIDTaken) {
		// A retry may meet either constraint first: look for its id.
		old, gerr := s.store.Request(ctx, r.ID)
		if errors.Is(gerr, ErrRequestNotFound) {
			return Request{}, err
		}
		if gerr != nil {
			return Request{}, gerr
		}
		if spec.ExpiresAt.IsZero() {
			// A relative expiry counts from the first attempt: compare
			// with the request this spec made then.
			spec.ID = r.ID
			if r, err = s.newRequest(ctx, spec, old.CreatedAt); err != nil {
				return Request{}, err
			}
		}
		if old.Merchant != r.Merchant || old.OrderID != r.OrderID || old.Amount != r.Amount || !old.ExpiresAt.Equal(r.ExpiresAt) || old.Payload != r.Payload {
			return Request{}, tongbao.ErrIDConflict
		}
		return old, nil
	}
	if err != nil {
		return Request{}, err
	}
	return r, nil
}

// newRequest checks a spec and returns the open request it makes at now,
// with its collection code, not yet stored.
func (s *Service) newRequest(ctx context.Context, spec RequestSpec, now time.Time) (Request, error) {
	if spec.Amount <= 0 {
		return Request{}, tongbao.ErrAmountInvalid
	}
	if !spec.ExpiresAt.IsZero() && spec.ExpiresIn != 0 {
		return Request{}, tongbao.Errorf(tongbao.EINVALID, "give an expiry time or a duration, not both")
	}
	if spec.ExpiresIn < 0 {
		return Request{}, tongbao.Errorf(tongbao.EINVALID, "the expiry's duration must be above zero")
	}
	expires := spec.ExpiresAt.Truncate(time.Second)
	if spec.ExpiresAt.IsZero() {
		ttl := spec.ExpiresIn
		if ttl == 0 {
			ttl = RequestTTLDefault
		}
		expires = now.Add(ttl).Truncate(time.Second)
	}
	if !expires.After(now) {
		return Request{}, tongbao.Errorf(tongbao.EINVALID, "expiry must be in the future")
	}
	if expires.Sub(now) > RequestTTLMax {
		return Request{}, tongbao.Errorf(tongbao.EINVALID, "expiry must be at most %v away", RequestTTLMax)
	}
	w, err := s.payments.Wallet(ctx, spec.Merchant)
	if err != nil {
		return Request{}, err
	}
	if w.Kind != twotier.WalletMerchant {
		return Request{}, twotier.ErrNotMerchantWallet
	}
	payload, err := Encode(CollectionCode{
		Kind: Dynamic, Wallet: w.ID, Operator: w.Operator, MerchantCategory: w.MerchantCategory,
		Amount: spec.Amount, OrderID: spec.OrderID, ExpiresAt: expires,
		MerchantName: spec.MerchantName, MerchantCity: spec.MerchantCity, LocalName: spec.LocalName, LocalCity: spec.LocalCity,
	})
	if err != nil {
		return Request{}, err
	}
	r := Request{
		ID: spec.ID, Merchant: w.ID, Operator: w.Operator, OrderID: spec.OrderID, Amount: spec.Amount,
		ExpiresAt: expires, Payload: payload, Status: RequestOpen, CreatedAt: now, UpdatedAt: now,
	}
	if r.ID.IsZero() {
		r.ID = tongbao.NewID()
	}
	return r, nil
}

// Request returns a payment request; an open one past its expiry is shown
// expired, though the store records that only when someone tries to pay.
func (s *Service) Request(ctx context.Context, id tongbao.ID) (Request, error) {
	r, err := s.store.Request(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if r.Status == RequestOpen && !s.clock.Now().Before(r.ExpiresAt) {
		r.Status = RequestExpired
	}
	return r, nil
}

// RequestByOrder returns a merchant's request by its order id.
func (s *Service) RequestByOrder(ctx context.Context, merchant tongbao.ID, orderID string) (Request, error) {
	r, err := s.store.RequestByOrder(ctx, merchant, orderID)
	if err != nil {
		return Request{}, err
	}
	return s.Request(ctx, r.ID)
}

// statusError is the refusal of a payment or cancellation of a request in
// a final status.
func statusError(st RequestStatus) error {
	switch st {
	case RequestPaid:
		return ErrRequestPaid
	case RequestExpired:
		return ErrRequestExpired
	case RequestCancelled:
		return ErrRequestCancelled
	}
	return tongbao.Errorf(tongbao.EINTERNAL, "payment request has unknown status %q", string(st))
}

// PayRequest pays an open request from a holder's wallet, exactly once:
//
//  1. the payer claims the request: open becomes paying, with the payer
//     and a new attempt number, in one compare-and-swap in the store, so
//     of two payers at the same moment one wins and the other gets
//     ErrRequestInProgress (or ErrRequestPaid once it is paid);
//  2. the money moves by twotier.Service.Pay under PaymentID(request,
//     attempt), so a retry of the same claim is answered by the ledger
//     as a duplicate and never pays twice;
//  3. the ledger's answer settles the claim: paid, or open again after a
//     refusal (funds, caps, a frozen wallet), so the payer may top up and
//     pay under a new attempt. When the answer is unknown (the ledger
//     unavailable, ctx done) the claim stays: the same payer calling again
//     resumes it.
//
// A paid request answers its own payer with the request as it is, moving
// nothing (so a retry whose answer was lost, also after a restart, gets
// the first answer), and refuses every other payer with ErrRequestPaid; an
// expired one (now at or after ExpiresAt) with ErrRequestExpired, a
// cancelled one with ErrRequestCancelled.
func (s *Service) PayRequest(ctx context.Context, request, payer tongbao.ID) (Request, error) {
	if payer.IsZero() {
		return Request{}, tongbao.Errorf(tongbao.EINVALID, "payer wallet is missing")
	}
	if _, err := s.payments.Wallet(ctx, payer); err != nil {
		return Request{}, fmt.Errorf("payer wallet: %w", err)
	}
	for range claimRetryMax {
		r, err := s.store.Request(ctx, request)
		if err != nil {
			return Request{}, err
		}
		now := s.clock.Now()
		switch r.Status {
		case RequestPaying:
			if r.Payer != payer {
				return Request{}, ErrRequestInProgress
			}
			return s.settleClaim(ctx, r)
		case RequestPaid:
			if r.Payer == payer {
				return r, nil
			}
			return Request{}, ErrRequestPaid
		case RequestOpen:
		default:
			return Request{}, statusError(r.Status)
		}
		if !now.Before(r.ExpiresAt) {
			to := r
			to.Status, to.UpdatedAt = RequestExpired, now
			if err := s.store.SwapRequest(ctx, to, RequestOpen, r.Attempt); err != nil && !errors.Is(err, ErrRequestChanged) {
				return Request{}, err
			}
			return Request{}, ErrRequestExpired
		}
		if payer == r.Merchant {
			return Request{}, tongbao.Errorf(tongbao.EINVALID, "a merchant wallet cannot pay its own request")
		}
		claim := r
		claim.Status, claim.Payer, claim.Attempt, claim.UpdatedAt = RequestPaying, payer, r.Attempt+1, now
		err = s.store.SwapRequest(ctx, claim, RequestOpen, r.Attempt)
		if errors.Is(err, ErrRequestChanged) {
			continue // read it again: paid, claimed or expired meanwhile
		}
		if err != nil {
			return Request{}, err
		}
		return s.settleClaim(ctx, claim)
	}
	return Request{}, ErrRequestChanged
}

// settleClaim pays a claimed request and records the outcome: paid, or
// after a refusal open again for another payer (a one-off request,
// made for one payment, is cancelled instead).
func (s *Service) settleClaim(ctx context.Context, r Request) (Request, error) {
	if r.Status != RequestPaying || r.Payer.IsZero() || r.Attempt < 1 {
		panic(fmt.Sprintf("merchant: settling request %v that is not claimed: %+v", r.ID, r))
	}
	if r.Amount <= 0 {
		panic(fmt.Sprintf("merchant: request %v has amount %v", r.ID, r.Amount))
	}
	res, err := s.payments.Pay(ctx, twotier.Payment{ID: PaymentID(r.ID, r.Attempt), From: r.Payer, To: r.Merchant, Amount: r.Amount})
	to := r
	to.UpdatedAt = s.clock.Now()
	switch {
	case err == nil:
		to.Status, to.PaidAt, to.PaymentTimestamp = RequestPaid, to.UpdatedAt, res.PayeeTimestamp
	case answered(ctx, err) && r.OneOff:
		to.Status = RequestCancelled
	case answered(ctx, err):
		to.Status, to.Payer = RequestOpen, tongbao.ID{}
	default:
		return Request{}, fmt.Errorf("pay request (outcome unknown; pay again to resume): %w", err)
	}
	if serr := s.store.SwapRequest(ctx, to, RequestPaying, r.Attempt); serr != nil {
		// Another call settling the same claim (a retry at the same
		// time) recorded the same answer first.
		cur, rerr := s.store.Request(ctx, r.ID)
		if !errors.Is(serr, ErrRequestChanged) || rerr != nil || cur.Status != to.Status || cur.Attempt != r.Attempt {
			return Request{}, serr
		}
		to = cur
	}
	if err != nil {
		return Request{}, err
	}
	return to, nil
}

// answered reports whether err from twotier is the rules' refusal, so that
// nothing moved and nothing will: every code but internal and unavailable,
// unless ctx ended (the request may then still commit).
func answered(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch tongbao.ErrorCode(err) {
	case tongbao.EINTERNAL, tongbao.EUNAVAILABLE:
		return false
	}
	return true
}

// CancelRequest cancels an open request. Cancelling it again does
// nothing; a paid, paying or expired request is refused.
func (s *Service) CancelRequest(ctx context.Context, id tongbao.ID) (Request, error) {
	for range claimRetryMax {
		r, err := s.store.Request(ctx, id)
		if err != nil {
			return Request{}, err
		}
		now := s.clock.Now()
		switch {
		case r.Status == RequestCancelled:
			return r, nil
		case r.Status == RequestPaying:
			return Request{}, ErrRequestInProgress
		case r.Status != RequestOpen:
			return Request{}, statusError(r.Status)
		case !now.Before(r.ExpiresAt):
			return Request{}, ErrRequestExpired
		}
		to := r
		to.Status, to.UpdatedAt = RequestCancelled, now
		err = s.store.SwapRequest(ctx, to, RequestOpen, r.Attempt)
		if errors.Is(err, ErrRequestChanged) {
			continue // read it again, to answer by the new status
		}
		if err != nil {
			return Request{}, err
		}
		return to, nil
	}
	return Request{}, ErrRequestChanged
}

// checkReason checks a refund's reason.
func checkReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return tongbao.Errorf(tongbao.EINVALID, "a refund needs a reason")
	}
	if len(reason) > twotier.ReasonMax {
		return tongbao.Errorf(tongbao.EINVALID, "reason is longer than %d bytes", twotier.ReasonMax)
	}
	return nil
}

// ClaimStaleAfter is how long a claim may wait for its payer to come back
// before ResolveStaleClaims settles it.
const ClaimStaleAfter = time.Minute

// staleClaimsPage is how many stale claims one ResolveStaleClaims call
// settles at most.
const staleClaimsPage = 100

// ResolveStaleClaims settles the claims whose payer never learned the
// outcome (the ledger unavailable, the connection lost) and did not come
// back within ClaimStaleAfter: each claim's payment is submitted again
// under its own id, which the ledger answers as a duplicate if it went
// through (the request becomes paid) or decides now (paid, or open again
// after a refusal). The payer asked for exactly this payment, and the id
// makes it happen at most once; without this a request would stay
// "paying" and refuse every other payer. It returns how many claims it
// settled and the first error of those it could not.
func (s *Service) ResolveStaleClaims(ctx context.Context) (int, error) {
	rs, err := s.store.StaleClaims(ctx, s.clock.Now().Add(-ClaimStaleAfter), staleClaimsPage)
	if err != nil {
		return 0, err
	}
	n := 0
	var first error
	for _, r := range rs {
		if _, err := s.settleClaim(ctx, r); err != nil && !answered(ctx, err) {
			if first == nil {
				first = err
			}
			continue
		}
		n++
	}
	return n, first
}
