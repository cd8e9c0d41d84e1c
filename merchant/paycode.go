package merchant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/twotier"
)

// Payment codes are consumer-presented: the holder's wallet shows a
// one-time code (a barcode and a QR code of the same digits), the
// merchant's till scans it and charges an amount up to the code's cap.
const (
	// PaymentCodeTTL is how long a code may be charged after it is made.
	PaymentCodeTTL = time.Minute
	// PaymentCodeCapDefault is a code's cap when the holder sets none.
	PaymentCodeCapDefault tongbao.Amount = 1_000_00
	// PaymentCodeLen is the digits of a code: PaymentCodePrefix, 15
	// random digits and a Luhn check digit, so a misread digit is caught
	// by the till before it asks the server.
	PaymentCodeLen    = 18
	PaymentCodePrefix = "01"
	// chargeRequestTTL is the expiry of the payment request a charge
	// makes; it is paid at once, so this only bounds a charge left
	// unfinished by a crash.
	chargeRequestTTL = time.Minute
)

// Errors of payment codes.
var (
	ErrPaymentCodeInvalid  = tongbao.Sentinel(tongbao.EINVALID, "payment-code-invalid", "payment code must be %d digits with a valid check digit", PaymentCodeLen)
	ErrPaymentCodeNotFound = tongbao.Sentinel(tongbao.ENOTFOUND, "payment-code-not-found", "payment code not found")
	ErrPaymentCodeUsed     = tongbao.Sentinel(tongbao.ECONFLICT, "payment-code-used", "payment code was already used")
	ErrPaymentCodeExpired  = tongbao.Sentinel(tongbao.ECONFLICT, "payment-code-expired", "payment code has expired")
	ErrPaymentCodeCap      = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "payment-code-cap-exceeded", "amount is above the payment code's cap")
	ErrPaymentCodeExists   = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "payment code already exists")
)

// PaymentCode is a one-time code as the store keeps it: by the hash of its
// digits, never the digits themselves.
type PaymentCode struct {
	Hash      [32]byte
	Wallet    tongbao.ID // the payer
	Cap       tongbao.Amount
	ExpiresAt time.Time
	// Request is the payment request of the charge that used the code,
	// zero while it is unused; Merchant is that charge's merchant.
	Request   tongbao.ID
	Merchant  tongbao.ID
	UsedAt    time.Time
	CreatedAt time.Time
}

// IssuedCode is a payment code as its holder sees it, once.
type IssuedCode struct {
	Code      string // the digits
	Wallet    tongbao.ID
	Cap       tongbao.Amount
	ExpiresAt time.Time
}

// HashPaymentCode returns the key a code is stored under.
func HashPaymentCode(code string) [32]byte {
	return sha256.Sum256([]byte("tongbao/payment-code/" + code))
}

// luhn returns the Luhn check digit of digits.
func luhn(digits string) byte {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// CheckPaymentCode returns ErrPaymentCodeInvalid unless code has the form
// of a payment code: the length, the prefix, digits only and the check
// digit. A till calls it before it charges.
func CheckPaymentCode(code string) error {
	if len(code) != PaymentCodeLen || code[:len(PaymentCodePrefix)] != PaymentCodePrefix || !numeric(code) {
		return ErrPaymentCodeInvalid
	}
	if luhn(code[:PaymentCodeLen-1]) != code[PaymentCodeLen-1] {
		return ErrPaymentCodeInvalid
	}
	return nil
}

// newPaymentCode returns fresh random digits with prefix and check digit.
func newPaymentCode() (string, error) {
	n := PaymentCodeLen - len(PaymentCodePrefix) - 1
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	r, err := rand.Int(rand.Reader, max)
	if err != nil {
		return "", err
	}
	body := PaymentCodePrefix + fmt.Sprintf("%0*d", n, r)
	return body + string(luhn(body)), nil
}

// IssuePaymentCode makes a one-time payment code for a holder's wallet,
// chargeable until PaymentCodeTTL from now for at most cap
// (PaymentCodeCapDefault when zero). The wallet must be one that may pay:
// a personal wallet that exists; its states and caps are checked again
// when the code is charged.
func (s *Service) IssuePaymentCode(ctx context.Context, wallet tongbao.ID, cap tongbao.Amount) (IssuedCode, error) {
	if cap == 0 {
		cap = PaymentCodeCapDefault
	}
	if cap < 0 {
		return IssuedCode{}, tongbao.Errorf(tongbao.EINVALID, "payment code cap must be positive")
	}
	w, err := s.payments.Wallet(ctx, wallet)
	if err != nil {
		return IssuedCode{}, err
	}
	if w.Kind != twotier.WalletPersonal {
		return IssuedCode{}, tongbao.Errorf(tongbao.EINVALID, "payment codes are for personal wallets")
	}
	if w.State == twotier.StateClosed {
		return IssuedCode{}, tongbao.Errorf(tongbao.EUNPROCESSABLE, "wallet is closed")
	}
	now := s.clock.Now()
	for range 3 { // a collision of 15 random digits among live codes is rare; try again
		code, err := newPaymentCode()
		if err != nil {
			return IssuedCode{}, &tongbao.Error{Code: tongbao.EINTERNAL, Message: "payment code: randomness failed", Err: err}
		}
		pc := PaymentCode{Hash: HashPaymentCode(code), Wallet: wallet, Cap: cap, ExpiresAt: now.Add(PaymentCodeTTL), CreatedAt: now}
		err = s.store.CreatePaymentCode(ctx, pc)
		if errors.Is(err, ErrPaymentCodeExists) {
			continue
		}
		if err != nil {
			return IssuedCode{}, err
		}
		return IssuedCode{Code: code, Wallet: wallet, Cap: cap, ExpiresAt: pc.ExpiresAt}, nil
	}
	return IssuedCode{}, tongbao.Errorf(tongbao.EUNAVAILABLE, "payment code: no free code found; try again")
}

// ChargeSpec is what Charge needs.
type ChargeSpec struct {
	// ID is the idempotency id of the charge; it becomes the id of the
	// payment request the charge makes.
	ID       tongbao.ID
	Merchant tongbao.ID // the merchant wallet charging
	Code     string
	Amount   tongbao.Amount
	// OrderID is the merchant's reference; empty gives one made from ID.
	OrderID string
}

// Charge takes a payment from the wallet behind a payment code, once:
//
//  1. the code is marked used by the charge (a compare-and-swap in the
//     store: of two tills scanning one code one wins, and a code is spent
//     even when the payment is then refused: the holder shows a new one);
//  2. a one-off payment request for the amount is made, claimed by the
//     code's wallet, so no one else can pay it;
//  3. the request is paid (or, refused, cancelled).
//
// The code is bound before the request exists, so a crash in between
// leaves a spent code and no money moved, and a request is only ever paid
// for a code bound to it. The same spec again (a retry, also at the same
// time) resumes and answers with the one outcome; another spec under its
// id is tongbao.ErrIDConflict.
//
// Errors: ErrPaymentCodeInvalid, ErrPaymentCodeNotFound,
// ErrPaymentCodeUsed, ErrPaymentCodeExpired, ErrPaymentCodeCap, and those
// of CreateRequest and PayRequest.
func (s *Service) Charge(ctx context.Context, spec ChargeSpec) (Request, error) {
	if spec.ID.IsZero() {
		return Request{}, twotier.ErrIDRequired
	}
	if err := CheckPaymentCode(spec.Code); err != nil {
		return Request{}, err
	}
	if spec.Amount <= 0 {
		return Request{}, tongbao.ErrAmountInvalid
	}
	if spec.OrderID == "" {
		spec.OrderID = orderIDOf("C", spec.ID)
	}
	hash := HashPaymentCode(spec.Code)
	pc, err := s.store.PaymentCode(ctx, hash)
	if err != nil {
		return Request{}, err
	}
	mine := func(pc PaymentCode) bool { return pc.Request == spec.ID && pc.Merchant == spec.Merchant }
	req := RequestSpec{ID: spec.ID, Merchant: spec.Merchant, OrderID: spec.OrderID, Amount: spec.Amount,
		ExpiresAt: s.clock.Now().Add(chargeRequestTTL), MerchantName: "Merchant", MerchantCity: "-"}
	if !mine(pc) {
		// Bad input is refused before the code is spent.
		if _, err := s.newRequest(ctx, req, s.clock.Now()); err != nil {
			return Request{}, err
		}
		if pc.Wallet == spec.Merchant {
			return Request{}, tongbao.Errorf(tongbao.EINVALID, "a merchant wallet cannot pay itself")
		}
		now := s.clock.Now()
		switch {
		case !pc.Request.IsZero():
			return Request{}, ErrPaymentCodeUsed
		case !now.Before(pc.ExpiresAt):
			return Request{}, ErrPaymentCodeExpired
		case spec.Amount > pc.Cap:
			return Request{}, ErrPaymentCodeCap
		}
		// The id of an earlier charge, of another code or content, must
		// not spend this one.
		if old, err := s.store.Request(ctx, spec.ID); err == nil &&
			(old.Payer != pc.Wallet || !old.OneOff || old.Merchant != spec.Merchant || old.Amount != spec.Amount || old.OrderID != spec.OrderID) {
			return Request{}, tongbao.ErrIDConflict
		} else if err != nil && !errors.Is(err, ErrRequestNotFound) {
			return Request{}, err
		}
		err := s.store.UsePaymentCode(ctx, hash, spec.ID, spec.Merchant, now)
		if errors.Is(err, ErrPaymentCodeUsed) {
			// A copy of this charge may have bound it first.
			if pc, err = s.store.PaymentCode(ctx, hash); err == nil && !mine(pc) {
				err = ErrPaymentCodeUsed
			}
		}
		if err != nil {
			return Request{}, err
		}
	}
	r, _, err := s.oneOff(ctx, req, pc.Wallet)
	if err != nil {
		return Request{}, err
	}
	return s.payOneOff(ctx, r)
}
