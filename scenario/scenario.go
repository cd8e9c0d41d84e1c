// Package scenario is scenario sub-wallets on the two-tier system: an
// operator defines templates (caps, the merchants that may be paid, an
// expiry, whether the holder may sweep money back before it); a holder
// pushes a sub-wallet to one from a personal wallet, funds it from that
// parent, pays the merchants the template allows, may let one merchant
// charge it without a prompt (tap to pay) and revoke that, and sweeps the
// money back.
//
// The money rules that must hold whatever the concurrency are the
// engine's: a sub-wallet is a twotier wallet of kind scenario whose
// balance cap, per-payment and daily caps and charge permission are
// ledger account limits and flags (see twotier.OpenScenarioWallet). This
// package decides the rest, which changes only with time or the holder's
// word: whether the template allows a merchant, whether the sub-wallet
// has expired, whether the holder may sweep now. After the expiry nothing
// may be paid, charged or funded, and the holder may always sweep back,
// even when the template forbids it before: money is never stuck.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/twotier"
)

// NameMax is the longest a template's name may be, in bytes.
const NameMax = 100

// Errors of the domain, besides the Store's and twotier's (returned
// wrapped, so errors.Is finds them).
var (
	ErrNameRequired       = tongbao.Sentinel(tongbao.EINVALID, "scenario-template-invalid", "a template needs a name of at most %d bytes", NameMax)
	ErrCapsInvalid        = tongbao.Sentinel(tongbao.EINVALID, "scenario-template-invalid", "balance and per-payment caps must be greater than zero and the daily cap not negative")
	ErrExpiryPast         = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "expiry must be in the future")
	ErrExpiryAfter        = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "a sub-wallet cannot expire after its template")
	ErrExpiryRequired     = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "a template that forbids sweeping back before its expiry needs an expiry")
	ErrOperatorMismatch   = tongbao.Sentinel(tongbao.EINVALID, "sub-wallet-parent-invalid", "the template is another operator's")
	ErrExpired            = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "sub-wallet-expired", "the sub-wallet has expired")
	ErrMerchantNotAllowed = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "merchant-not-allowed", "the scenario does not allow paying this merchant")
	ErrSweepForbidden     = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "sweep-not-allowed", "the scenario lets the holder sweep money back only after it expires")
	ErrChargeGranted      = tongbao.Sentinel(tongbao.ECONFLICT, "charge-already-granted", "another merchant may already charge this sub-wallet; revoke that first")
	// ErrChargeNotGranted and ErrChargeRevoked refuse a charge by a
	// merchant without a permission, or whose permission was revoked.
	ErrChargeNotGranted = twotier.ErrChargeNotGranted
	ErrChargeRevoked    = twotier.ErrChargeRevoked
)

// Config configures a Service. Payments and Store are required.
type Config struct {
	Payments *twotier.Service
	Store    Store
	Clock    tongbao.Clock
}

// Service is scenario sub-wallets on a twotier.Service.
type Service struct {
	payments *twotier.Service
	store    Store
	clock    tongbao.Clock

	// chargeMu serialises grants and revocations in this process, so the
	// store's record follows the ledger's meters in the same order. The
	// ledger refuses a revoked charge whatever the record says.
	chargeMu sync.Mutex
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Payments == nil || cfg.Store == nil {
		return nil, errors.New("scenario: payments and store are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = tongbao.SystemClock{}
	}
	return &Service{payments: cfg.Payments, store: cfg.Store, clock: cfg.Clock}, nil
}

// TemplateSpec is what CreateTemplate needs.
type TemplateSpec struct {
	// ID is the template's id, chosen by the caller so a retry creates
	// the same template; zero picks a new one.
	ID                               tongbao.ID
	Operator                         tongbao.ID
	Name                             string
	BalanceMax, PaymentMax, DailyMax tongbao.Amount
	Merchants                        []tongbao.ID
	Categories                       []string
	Regions                          []string
	ExpiresAt                        time.Time
	Withdrawable                     bool
}

// CreateTemplate defines a template at an operator. The same spec with
// the same id again returns the template already created; another spec
// under its id, tongbao.ErrIDConflict.
func (s *Service) CreateTemplate(ctx context.Context, spec TemplateSpec) (Template, error) {
	now := s.clock.Now()
	t := Template{
		ID: spec.ID, Operator: spec.Operator, Name: strings.TrimSpace(spec.Name),
		BalanceMax: spec.BalanceMax, PaymentMax: spec.PaymentMax, DailyMax: spec.DailyMax,
		ExpiresAt: spec.ExpiresAt, Withdrawable: spec.Withdrawable, CreatedAt: now,
	}
	if t.Name == "" || len(t.Name) > NameMax || !utf8.ValidString(t.Name) {
		return Template{}, ErrNameRequired
	}
	if t.BalanceMax <= 0 || t.PaymentMax <= 0 || t.DailyMax < 0 {
		return Template{}, ErrCapsInvalid
	}
	if len(spec.Merchants) > ListMax || len(spec.Categories) > ListMax || len(spec.Regions) > ListMax {
		return Template{}, tongbao.Errorf(tongbao.EINVALID, "a template lists at most %d merchants, categories and regions each", ListMax)
	}
	for _, m := range spec.Merchants {
		if m.IsZero() {
			return Template{}, tongbao.Errorf(tongbao.EINVALID, "a listed merchant wallet id is zero")
		}
		if !slices.Contains(t.Merchants, m) {
			t.Merchants = append(t.Merchants, m)
		}
	}
	for _, c := range spec.Categories {
		if len(c) != twotier.MerchantCategoryLen || strings.Trim(c, "0123456789") != "" {
			return Template{}, tongbao.Errorf(tongbao.EINVALID, "merchant category code %q is not %d digits", c, twotier.MerchantCategoryLen)
		}
		if !slices.Contains(t.Categories, c) {
			t.Categories = append(t.Categories, c)
		}
	}
	for _, r := range spec.Regions {
		if r == "" || len(r) > twotier.RegionMax || !utf8.ValidString(r) {
			return Template{}, tongbao.Errorf(tongbao.EINVALID, "a region is 1 to %d bytes", twotier.RegionMax)
		}
		if !slices.Contains(t.Regions, r) {
			t.Regions = append(t.Regions, r)
		}
	}
	if !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(now) {
		return Template{}, ErrExpiryPast
	}
	if !t.Withdrawable && t.ExpiresAt.IsZero() {
		// Money the holder may not sweep back before an expiry that
		// never comes would be stuck.
		return Template{}, ErrExpiryRequired
	}
	in, err := s.payments.Institution(ctx, t.Operator)
	if err != nil {
		return Template{}, err
	}
	if in.Kind != twotier.KindOperator {
		return Template{}, twotier.ErrNotOperator
	}
	if t.ID.IsZero() {
		t.ID = tongbao.NewID()
	} else if old, err := s.store.Template(ctx, t.ID); err == nil {
		return sameTemplate(old, t)
	} else if !errors.Is(err, ErrTemplateNotFound) {
		return Template{}, err
	}
	ts, err := s.store.Templates(ctx, t.Operator)
	if err != nil {
		return Template{}, err
	}
	if len(ts) >= TemplatesMax {
		return Template{}, ErrTooManyTemplates
	}
	if err := s.store.CreateTemplate(ctx, t); errors.Is(err, ErrTemplateExists) {
		old, gerr := s.store.Template(ctx, t.ID)
		if gerr != nil {
			return Template{}, gerr
		}
		return sameTemplate(old, t)
	} else if err != nil {
		return Template{}, err
	}
	return t, nil
}

// sameTemplate answers a repeated CreateTemplate: the stored template if
// it has the content asked for, tongbao.ErrIDConflict if not.
func sameTemplate(old, t Template) (Template, error) {
	if old.Operator != t.Operator || old.Name != t.Name || old.BalanceMax != t.BalanceMax || old.PaymentMax != t.PaymentMax ||
		old.DailyMax != t.DailyMax || !slices.Equal(old.Merchants, t.Merchants) || !slices.Equal(old.Categories, t.Categories) ||
		!slices.Equal(old.Regions, t.Regions) || !old.ExpiresAt.Equal(t.ExpiresAt) || old.Withdrawable != t.Withdrawable {
		return Template{}, tongbao.ErrIDConflict
	}
	return old, nil
}

// Template returns a template.
func (s *Service) Template(ctx context.Context, id tongbao.ID) (Template, error) {
	return s.store.Template(ctx, id)
}

// Templates returns an operator's templates in creation order.
func (s *Service) Templates(ctx context.Context, operator tongbao.ID) ([]Template, error) {
	return s.store.Templates(ctx, operator)
}

// Allows reports whether the template lets its sub-wallets pay a wallet.
// Only merchant wallets may ever be paid. With no merchant, category or
// region listed, every merchant wallet may; otherwise a merchant listed
// by id may, and so may one that matches the categories (when any are
// listed) and the regions (when any are listed): "canteens in Shanghai"
// is category 5814 and region Shanghai.
func (t Template) Allows(w twotier.Wallet) bool {
	if w.Kind != twotier.WalletMerchant {
		return false
	}
	if len(t.Merchants) == 0 && len(t.Categories) == 0 && len(t.Regions) == 0 {
		return true
	}
	if slices.Contains(t.Merchants, w.ID) {
		return true
	}
	if len(t.Categories) == 0 && len(t.Regions) == 0 {
		return false
	}
	return (len(t.Categories) == 0 || slices.Contains(t.Categories, w.MerchantCategory)) &&
		(len(t.Regions) == 0 || slices.Contains(t.Regions, w.Region))
}

// limits returns the template's caps as the engine's limits.
func (t Template) limits() ledger.Limits {
	return ledger.Limits{BalanceMax: t.BalanceMax, DebitMax: t.PaymentMax, DailyDebitMax: t.DailyMax}
}

// Expired reports whether the sub-wallet has expired at now.
func (w SubWallet) Expired(now time.Time) bool {
	return !w.ExpiresAt.IsZero() && !now.Before(w.ExpiresAt)
}

// Charging reports whether a merchant may charge the sub-wallet now (by
// the record; the ledger's charge meter has the last word).
func (w SubWallet) Charging(merchant tongbao.ID) bool {
	return !w.ChargeMerchant.IsZero() && w.ChargeMerchant == merchant && w.ChargeRevokedAt.IsZero()
}

// PushSpec is what Push needs.
type PushSpec struct {
	// ID is the sub-wallet's id, chosen by the caller so a retry pushes
	// the same sub-wallet; zero picks a new one.
	ID       tongbao.ID
	Parent   tongbao.ID
	Template tongbao.ID
	// ExpiresAt, if set, expires the sub-wallet before its template.
	ExpiresAt time.Time
}

// Push opens a sub-wallet of a holder's personal wallet for a template of
// the wallet's operator: a twotier wallet of kind scenario with the
// template's caps, linked to its parent and template. The same spec with
// the same id again returns the sub-wallet already pushed; another spec
// under its id, tongbao.ErrIDConflict.
func (s *Service) Push(ctx context.Context, spec PushSpec) (SubWallet, error) {
	now := s.clock.Now()
	t, err := s.store.Template(ctx, spec.Template)
	if err != nil {
		return SubWallet{}, err
	}
	parent, err := s.payments.Wallet(ctx, spec.Parent)
	if err != nil {
		return SubWallet{}, err
	}
	if parent.Kind != twotier.WalletPersonal {
		return SubWallet{}, twotier.ErrParentInvalid
	}
	if parent.Operator != t.Operator {
		return SubWallet{}, ErrOperatorMismatch
	}
	w := SubWallet{Wallet: spec.ID, Parent: parent.ID, Template: t.ID, Operator: t.Operator, ExpiresAt: t.ExpiresAt, CreatedAt: now}
	if !spec.ExpiresAt.IsZero() {
		if !spec.ExpiresAt.After(now) {
			return SubWallet{}, ErrExpiryPast
		}
		if !t.ExpiresAt.IsZero() && spec.ExpiresAt.After(t.ExpiresAt) {
			return SubWallet{}, ErrExpiryAfter
		}
		w.ExpiresAt = spec.ExpiresAt
	}
	if w.Wallet.IsZero() {
		w.Wallet = tongbao.NewID()
	} else if old, err := s.store.SubWallet(ctx, w.Wallet); err == nil {
		return sameSubWallet(old, w)
	} else if !errors.Is(err, ErrSubWalletNotFound) {
		return SubWallet{}, err
	}
	if w.Expired(now) {
		return SubWallet{}, ErrExpired
	}
	siblings, err := s.store.SubWallets(ctx, parent.ID)
	if err != nil {
		return SubWallet{}, err
	}
	if len(siblings) >= SubWalletsMax {
		return SubWallet{}, ErrTooManySubWallets
	}
	// The twotier wallet first: a wallet without a link holds no money
	// (only the scenario service funds sub-wallets, and it needs the
	// link), and a retry completes the push.
	if _, err := s.payments.OpenScenarioWallet(ctx, twotier.ScenarioWalletSpec{ID: w.Wallet, Parent: parent.ID, Limits: t.limits()}); err != nil {
		if errors.Is(err, twotier.ErrWalletExists) {
			return SubWallet{}, tongbao.ErrIDConflict
		}
		return SubWallet{}, err
	}
	if err := s.store.CreateSubWallet(ctx, w); errors.Is(err, ErrSubWalletExists) {
		old, gerr := s.store.SubWallet(ctx, w.Wallet)
		if gerr != nil {
			return SubWallet{}, gerr
		}
		return sameSubWallet(old, w)
	} else if err != nil {
		return SubWallet{}, err
	}
	return w, nil
}

func sameSubWallet(old, w SubWallet) (SubWallet, error) {
	if old.Parent != w.Parent || old.Template != w.Template || !old.ExpiresAt.Equal(w.ExpiresAt) {
		return SubWallet{}, tongbao.ErrIDConflict
	}
	return old, nil
}

// SubWallet returns a sub-wallet's link.
func (s *Service) SubWallet(ctx context.Context, id tongbao.ID) (SubWallet, error) {
	return s.store.SubWallet(ctx, id)
}

// SubWallets returns the sub-wallets of a parent wallet in creation order.
func (s *Service) SubWallets(ctx context.Context, parent tongbao.ID) ([]SubWallet, error) {
	return s.store.SubWallets(ctx, parent)
}

// Detail is a sub-wallet as its holder sees it.
type Detail struct {
	SubWallet
	Template  Template
	Balance   tongbao.Amount
	PaidToday tongbao.Amount
	Expired   bool
}

// Describe returns a sub-wallet with its template, balance and what it
// paid today.
func (s *Service) Describe(ctx context.Context, id tongbao.ID) (Detail, error) {
	w, err := s.store.SubWallet(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	t, err := s.store.Template(ctx, w.Template)
	if err != nil {
		return Detail{}, err
	}
	b, err := s.payments.Balance(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	u, err := s.payments.ScenarioUsage(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	return Detail{SubWallet: w, Template: t, Balance: b, PaidToday: u.PaidToday, Expired: w.Expired(s.clock.Now())}, nil
}

// Move is a funding or a sweep: money between a sub-wallet and its
// parent.
type Move struct {
	// ID is the idempotency id.
	ID        tongbao.ID
	SubWallet tongbao.ID
	Amount    tongbao.Amount
	Currency  tongbao.Currency // empty means the service's currency
}

// check validates what every move and payment carries.
func (s *Service) check(id tongbao.ID, amount tongbao.Amount, currency tongbao.Currency) error {
	if id.IsZero() {
		return twotier.ErrIDRequired
	}
	if amount <= 0 {
		return tongbao.ErrAmountInvalid
	}
	if currency != "" && currency != s.payments.Currency() {
		return twotier.ErrCurrencyMismatch
	}
	return nil
}

// repeated answers an operation that a rule now refuses but that may have
// posted under its id before the rule changed (an expiry, a revocation):
// the first result when the ledger has the same transfer, tongbao.ErrIDConflict
// when it has another under the id, and refusal when it has none.
func (s *Service) repeated(ctx context.Context, want ledger.Transfer, refusal error) (int64, error) {
	got, err := s.payments.Transfer(ctx, want.ID)
	if errors.Is(err, ledger.ErrTransferNotFound) {
		return 0, refusal
	}
	if err != nil {
		return 0, err
	}
	if got.DebitAccountID != want.DebitAccountID || got.CreditAccountID != want.CreditAccountID || got.Amount != want.Amount || got.Code != want.Code {
		return 0, tongbao.ErrIDConflict
	}
	return got.Timestamp, nil
}

func (s *Service) moveReceipt(ctx context.Context, m Move, debit, credit tongbao.ID, code uint16, refusal error) (twotier.Receipt, error) {
	ts, err := s.repeated(ctx, ledger.Transfer{ID: m.ID, DebitAccountID: debit, CreditAccountID: credit, Amount: m.Amount, Code: code}, refusal)
	if err != nil {
		return twotier.Receipt{}, err
	}
	return twotier.Receipt{Timestamp: ts, Duplicate: true}, nil
}

// Fund moves money from the sub-wallet's parent into it. The engine
// checks the parent's funds and caps and the sub-wallet's balance cap
// (ledger.ErrBalanceLimit); an expired sub-wallet is refused (ErrExpired).
func (s *Service) Fund(ctx context.Context, m Move) (twotier.Receipt, error) {
	if err := s.check(m.ID, m.Amount, m.Currency); err != nil {
		return twotier.Receipt{}, err
	}
	w, err := s.store.SubWallet(ctx, m.SubWallet)
	if err != nil {
		return twotier.Receipt{}, err
	}
	if w.Expired(s.clock.Now()) {
		return s.moveReceipt(ctx, m, w.Parent, w.Wallet, twotier.TransferScenarioFund, ErrExpired)
	}
	return s.payments.FundScenario(ctx, twotier.WalletOperation{ID: m.ID, Wallet: w.Wallet, Amount: m.Amount, Currency: m.Currency})
}

// Sweep moves money from the sub-wallet back to its parent: refused
// before the expiry when the template forbids it (ErrSweepForbidden),
// always allowed after. It uses none of the sub-wallet's payment caps;
// the parent's balance cap may refuse it (ledger.ErrBalanceLimit).
func (s *Service) Sweep(ctx context.Context, m Move) (twotier.Receipt, error) {
	if err := s.check(m.ID, m.Amount, m.Currency); err != nil {
		return twotier.Receipt{}, err
	}
	w, err := s.store.SubWallet(ctx, m.SubWallet)
	if err != nil {
		return twotier.Receipt{}, err
	}
	t, err := s.store.Template(ctx, w.Template)
	if err != nil {
		return twotier.Receipt{}, err
	}
	if !t.Withdrawable && !w.Expired(s.clock.Now()) {
		return s.moveReceipt(ctx, m, w.Wallet, w.Parent, twotier.TransferScenarioSweep, ErrSweepForbidden)
	}
	return s.payments.SweepScenario(ctx, twotier.WalletOperation{ID: m.ID, Wallet: w.Wallet, Amount: m.Amount, Currency: m.Currency})
}

// Payment is a payment from a sub-wallet to a merchant wallet: made by
// the holder (Pay) or, tap to pay, by the merchant (Charge).
type Payment struct {
	// ID is the idempotency id.
	ID        tongbao.ID
	SubWallet tongbao.ID
	Merchant  tongbao.ID
	Amount    tongbao.Amount
	Currency  tongbao.Currency // empty means the service's currency
}

// Pay pays a merchant from a sub-wallet, as its holder: refused when the
// sub-wallet has expired (ErrExpired) or the template does not allow the
// merchant (ErrMerchantNotAllowed); the engine refuses a payment past the
// per-payment or daily cap (ledger.ErrDebitLimit, ErrDailyLimit) or the
// funds.
func (s *Service) Pay(ctx context.Context, p Payment) (twotier.PaymentResult, error) {
	return s.pay(ctx, p, false)
}

// Charge is a payment from a sub-wallet that the merchant makes without
// the holder's prompt, under the permission the holder granted it
// (GrantCharge): refused, besides Pay's refusals, when the merchant has
// no permission (ErrChargeNotGranted) or the holder revoked it
// (ErrChargeRevoked). A charge is at most the template's per-payment cap.
func (s *Service) Charge(ctx context.Context, p Payment) (twotier.PaymentResult, error) {
	return s.pay(ctx, p, true)
}

func (s *Service) pay(ctx context.Context, p Payment, charge bool) (twotier.PaymentResult, error) {
	if err := s.check(p.ID, p.Amount, p.Currency); err != nil {
		return twotier.PaymentResult{}, err
	}
	w, err := s.store.SubWallet(ctx, p.SubWallet)
	if err != nil {
		return twotier.PaymentResult{}, err
	}
	var refusal error
	switch {
	case charge && !w.Charging(p.Merchant) && w.ChargeMerchant == p.Merchant:
		refusal = ErrChargeRevoked
	case charge && !w.Charging(p.Merchant):
		refusal = ErrChargeNotGranted
	case w.Expired(s.clock.Now()):
		refusal = ErrExpired
	}
	sp := twotier.ScenarioPayment{ID: p.ID, From: w.Wallet, To: p.Merchant, Amount: p.Amount, Currency: p.Currency, Charge: charge}
	if refusal != nil {
		// It may have gone through before the rule changed.
		r, posted, err := s.payments.ScenarioPaymentPosted(ctx, sp)
		switch {
		case errors.Is(err, tongbao.ErrIDConflict):
			return twotier.PaymentResult{}, tongbao.ErrIDConflict
		case tongbao.ErrorCode(err) == tongbao.EINTERNAL || tongbao.ErrorCode(err) == tongbao.EUNAVAILABLE || ctx.Err() != nil:
			return twotier.PaymentResult{}, err // the outcome is still unknown
		case err != nil || !posted: // a payment that could not have gone through
			return twotier.PaymentResult{}, refusal
		}
		return r, nil
	}
	t, err := s.store.Template(ctx, w.Template)
	if err != nil {
		return twotier.PaymentResult{}, err
	}
	m, err := s.payments.Wallet(ctx, p.Merchant)
	if err != nil {
		return twotier.PaymentResult{}, err
	}
	if m.Kind != twotier.WalletMerchant {
		return twotier.PaymentResult{}, twotier.ErrNotMerchantWallet
	}
	if !t.Allows(m) {
		return twotier.PaymentResult{}, ErrMerchantNotAllowed
	}
	return s.payments.PayScenario(ctx, sp)
}

// GrantCharge lets one merchant wallet, which the template allows, charge
// the sub-wallet without a prompt, up to the template's per-payment cap
// each time. Granting the merchant already granted does nothing; another
// merchant while one may charge is ErrChargeGranted.
func (s *Service) GrantCharge(ctx context.Context, sub, merchant tongbao.ID) (SubWallet, error) {
	s.chargeMu.Lock()
	defer s.chargeMu.Unlock()
	w, err := s.store.SubWallet(ctx, sub)
	if err != nil {
		return SubWallet{}, err
	}
	if w.Charging(merchant) {
		return w, nil
	}
	if !w.ChargeMerchant.IsZero() && w.ChargeRevokedAt.IsZero() {
		return SubWallet{}, ErrChargeGranted
	}
	now := s.clock.Now()
	if w.Expired(now) {
		return SubWallet{}, ErrExpired
	}
	t, err := s.store.Template(ctx, w.Template)
	if err != nil {
		return SubWallet{}, err
	}
	m, err := s.payments.Wallet(ctx, merchant)
	if err != nil {
		return SubWallet{}, err
	}
	if m.Kind != twotier.WalletMerchant {
		return SubWallet{}, twotier.ErrNotMerchantWallet
	}
	if !t.Allows(m) {
		return SubWallet{}, ErrMerchantNotAllowed
	}
	// The ledger first: a permission the record does not show yet is
	// refused here (Charge reads the record), and a retry records it.
	if err := s.payments.GrantCharge(ctx, sub, merchant, t.PaymentMax); err != nil {
		return SubWallet{}, err
	}
	w.ChargeMerchant, w.ChargeGrantedAt, w.ChargeRevokedAt = merchant, now, time.Time{}
	if err := s.store.UpdateSubWallet(ctx, w); err != nil {
		return SubWallet{}, err
	}
	return w, nil
}

// RevokeCharge withdraws the merchant's permission to charge the
// sub-wallet: once it returns, every charge is refused (the ledger
// disables the permission's meter in its writer's order). Revoking again
// does nothing; with no permission ever granted, ErrChargeNotGranted.
func (s *Service) RevokeCharge(ctx context.Context, sub tongbao.ID) (SubWallet, error) {
	s.chargeMu.Lock()
	defer s.chargeMu.Unlock()
	w, err := s.store.SubWallet(ctx, sub)
	if err != nil {
		return SubWallet{}, err
	}
	if w.ChargeMerchant.IsZero() {
		return SubWallet{}, ErrChargeNotGranted
	}
	if !w.ChargeRevokedAt.IsZero() {
		return w, nil
	}
	// The ledger first: a revocation recorded is one the engine applies.
	if err := s.payments.RevokeCharge(ctx, sub, w.ChargeMerchant); err != nil {
		return SubWallet{}, err
	}
	w.ChargeRevokedAt = s.clock.Now()
	if err := s.store.UpdateSubWallet(ctx, w); err != nil {
		return SubWallet{}, err
	}
	return w, nil
}

// EndFailuresMax bounds the failures EndExpired reports in one call.
const EndFailuresMax = 10

// EndExpired ends the sub-wallets whose expiry has passed: sweeps what
// each still holds back to its parent, closes it and records it ended, so
// money left at the expiry returns to the holder without a word from it.
// A sub-wallet the engine refuses to sweep (its parent frozen, suspended
// or at its balance cap) is left for the next call and reported in the
// error, with at most EndFailuresMax others; the rest are ended. A
// scheduler may call it as often as it likes: it sweeps what the
// sub-wallet holds when read, the floor refuses sweeping it twice, and a
// call cut short is finished by the next.
func (s *Service) EndExpired(ctx context.Context) (ended int, err error) {
	now := s.clock.Now()
	var failures []error
	for after := (tongbao.ID{}); ; {
		ws, err := s.store.Expired(ctx, now, after, ExpiredPageMax)
		if err != nil {
			return ended, err
		}
		for _, w := range ws {
			if err := s.end(ctx, w, now); err != nil {
				if len(failures) < EndFailuresMax {
					failures = append(failures, fmt.Errorf("end sub-wallet %v: %w", w.Wallet, err))
				}
				continue
			}
			ended++
		}
		if len(ws) < ExpiredPageMax {
			break
		}
		after = ws[len(ws)-1].Wallet
	}
	return ended, errors.Join(failures...)
}

// end sweeps an expired sub-wallet back, closes it and records it ended.
func (s *Service) end(ctx context.Context, w SubWallet, now time.Time) error {
	b, err := s.payments.Balance(ctx, w.Wallet)
	if err != nil {
		return err
	}
	if b > 0 {
		// The ledger remembers a refused id's refusal: each run sweeps
		// under an id of its own. Never twice the same money: the
		// sub-wallet's floor refuses a sweep of more than it holds.
		id := deriveID("expiry-sweep", w.Wallet, int64(b), now.UnixNano())
		if _, err := s.payments.SweepScenario(ctx, twotier.WalletOperation{ID: id, Wallet: w.Wallet, Amount: b}); err != nil {
			return err
		}
	}
	if _, err := s.payments.SetState(ctx, w.Wallet, twotier.StateClosed, "scenario expired"); err != nil && !errors.Is(err, twotier.ErrWalletClosed) {
		return err
	}
	w.EndedAt = now
	return s.store.UpdateSubWallet(ctx, w)
}

// deriveID returns a deterministic id from a label and parts.
func deriveID(label string, parts ...any) tongbao.ID {
	return tongbao.DeriveID("tongbao/scenario/"+label, parts...)
}
