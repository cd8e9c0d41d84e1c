// Package twotier expresses the two-tier system on the ledger: the central
// bank, the operators it authorises, their holders' wallets, payments
// within and across operators, settlement windows, the supply check and
// reconciliation.
//
// Every rule about money is an account flag or limit that the engine
// enforces in its single writer, so no interleaving of requests gets
// around one: a reserve floor stops issuance beyond reserves, a wallet's
// limits are its category's caps, and an operator's clearing account has
// its net debit cap as balance cap. This package only decides which
// accounts and transfers express an operation.
//
// Accounts (one ledger, one currency; ids derived from the institution and
// the kind, so a restart finds them):
//
//	central bank  issued              no flags; issuance debits it: minus its net is the supply
//	              clearing            no flags; the hub of settlement
//	              rtgs                no flags; stands for the interbank system reserves come from
//	              backing(operator)   credit-normal, floor zero: the reserves backing the operator's currency
//	operator      reserve             credit-normal, floor zero: its reserve deposit at the central bank
//	              vault               credit-normal, floor zero: its digital-currency inventory
//	              clearing(window)    no flags, balance cap = net debit cap: what it owes other operators
//	holder        wallet              credit-normal, floor zero, limits = the category's caps
//
// For every operator, at every moment: backing = vault + wallets + the net
// of its clearing accounts in windows not yet settled + its offline
// float. SupplyReport checks it from the books.
package twotier

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// Account codes: the ledger Code of every account this package creates.
const (
	CodeIssued          uint16 = 100
	CodeCentralClearing uint16 = 101
	CodeRTGS            uint16 = 102
	CodeBacking         uint16 = 103
	CodeReserve         uint16 = 110
	CodeVault           uint16 = 111
	CodeClearing        uint16 = 112
	CodePersonalWallet  uint16 = 120
	CodeMerchantWallet  uint16 = 121
)

// Transfer codes: the ledger Code of every transfer this package submits.
const (
	TransferDepositReserves  uint16 = 1
	TransferWithdrawReserves uint16 = 2
	TransferIssue            uint16 = 3
	TransferRedeem           uint16 = 4
	TransferTopUp            uint16 = 5
	TransferWithdraw         uint16 = 6
	TransferPayment          uint16 = 7
	TransferCrossPayment     uint16 = 8
	TransferSettlement       uint16 = 9
)

// Errors of the domain, besides the Store's and the ledger's (which the
// operations return wrapped, so errors.Is finds them).
var (
	ErrCurrencyMismatch   = tongbao.Sentinel(tongbao.EINVALID, "currency-mismatch", "currency is not the ledger's")
	ErrNoCentralBank      = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "no central bank yet")
	ErrCentralBankExists  = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "a central bank already exists")
	ErrNotOperator        = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "institution is not an operator")
	ErrCategoryInvalid    = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "category must be 1, 2, 3 or 4")
	ErrHolderCapsRequired = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "a category 1 wallet needs caps set for its holder")
	ErrNotUpgrade         = tongbao.Sentinel(tongbao.EINVALID, "category-change-refused", "the new category is not stronger than the present one")
	ErrNotDowngrade       = tongbao.Sentinel(tongbao.EINVALID, "category-change-refused", "the new category is not weaker than the present one")
	ErrReasonRequired     = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "a reason is required")
	ErrWalletClosed       = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "wallet-closed", "wallet is closed")
	ErrIDRequired         = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "an idempotency id is required")
	ErrWindowClosed       = tongbao.Sentinel(tongbao.EUNAVAILABLE, "unavailable", "the settlement window closed twice during the payment; retry")
	// ErrNotMerchantWallet refuses a personal wallet where a merchant
	// wallet is needed: merchant and scenario both return it.
	ErrNotMerchantWallet = tongbao.Sentinel(tongbao.EINVALID, "not-a-merchant-wallet", "wallet is not a merchant wallet")
	// ErrNetDebitCap wraps ledger.ErrBalanceLimit when the payer operator's
	// clearing account refuses a payment.
	ErrNetDebitCap = &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Kind: "net-debit-cap-exceeded", Message: "payment would breach the payer operator's net debit cap", Err: ledger.ErrBalanceLimit}
)

// Config configures a Service. Ledger and Store are required.
type Config struct {
	Ledger *ledger.Ledger
	Store  Store
	Clock  tongbao.Clock
	// Currency is what the ledger's accounts hold; CNY by default.
	Currency tongbao.Currency
	// Location is the calendar of reconciliation days; it should be the
	// ledger's (Asia/Shanghai by default).
	Location *time.Location
}

// Service is the two-tier system on one ledger.
type Service struct {
	ledger   *ledger.Ledger
	store    Store
	clock    tongbao.Clock
	currency tongbao.Currency
	loc      *time.Location

	// adminMu serialises the operations that change institutions, windows
	// and wallet limits, so that two of them cannot interleave between the
	// ledger and the store. Payments never take it.
	adminMu sync.Mutex

	mu      sync.RWMutex
	central tongbao.ID // zero until the central bank exists
	window  uint64     // the current settlement window

	// walletOps remembers each wallet's operator (see WalletOperator).
	// A plain map under a read lock: every payment looks up two wallets,
	// and sync.Map's lookups cost several times as much.
	walletOpsMu sync.RWMutex
	walletOps   map[tongbao.ID]walletRoute
}

// Open returns a Service on a ledger and a store, finishing the settlement
// of a window a crash interrupted.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Ledger == nil || cfg.Store == nil {
		return nil, errors.New("twotier: ledger and store are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = tongbao.SystemClock{}
	}
	if cfg.Currency == "" {
		cfg.Currency = tongbao.CNY
	}
	if err := cfg.Currency.Validate(); err != nil {
		return nil, err
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation(ledger.DefaultTimeZone)
		if err != nil {
			return nil, fmt.Errorf("twotier: time zone: %w", err)
		}
		cfg.Location = loc
	}
	s := &Service{ledger: cfg.Ledger, store: cfg.Store, clock: cfg.Clock, currency: cfg.Currency, loc: cfg.Location}
	ins, err := s.store.Institutions(ctx)
	if err != nil {
		return nil, fmt.Errorf("twotier: open: %w", err)
	}
	for _, in := range ins {
		if in.Kind == KindCentralBank {
			s.central = in.ID
		}
	}
	ws, err := s.store.Windows(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("twotier: open: %w", err)
	}
	if len(ws) == 0 {
		w := Window{Number: 1, Status: WindowOpen, OpenedAt: s.clock.Now()}
		if err := s.store.CreateWindow(ctx, w); err != nil && !errors.Is(err, ErrWindowExists) {
			return nil, fmt.Errorf("twotier: open: %w", err)
		}
		s.window = 1
	}
	last := uint64(0)
	for _, w := range ws {
		if w.Status == WindowOpen && w.Number > s.window {
			s.window = w.Number
		}
		last = max(last, w.Number)
	}
	if s.window == 0 && last > 0 {
		// A crash in Settle after it marked the current window closing
		// and before it stored the next one: open the next now, as
		// Settle would have, so payments and settlements go on.
		if err := s.openWindow(ctx, last+1); err != nil {
			return nil, fmt.Errorf("twotier: open: %w", err)
		}
		s.window = last + 1
	}
	for _, w := range ws {
		if w.Status == WindowClosing {
			if _, err := s.settle(ctx, w); err != nil {
				return nil, fmt.Errorf("twotier: open: finish settling window %d: %w", w.Number, err)
			}
		}
	}
	return s, nil
}

// Currency returns the currency of the service's ledger.
func (s *Service) Currency() tongbao.Currency { return s.currency }

// CurrentWindow returns the number of the settlement window that
// cross-operator payments now accumulate in.
func (s *Service) CurrentWindow() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.window
}

func (s *Service) centralBank() (tongbao.ID, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.central.IsZero() {
		return tongbao.ID{}, ErrNoCentralBank
	}
	return s.central, nil
}

// deriveID returns a deterministic id from a label and parts: the same
// institution and kind always give the same account, and the same
// operation id the same transfer legs, so a restart or a retry finds them.
func deriveID(label string, parts ...any) tongbao.ID {
	return tongbao.DeriveID("tongbao/twotier/"+label, parts...)
}

// The ids of the central bank's and the operators' accounts.
func issuedAccount(cb tongbao.ID) tongbao.ID          { return deriveID("issued", cb) }
func centralClearingAccount(cb tongbao.ID) tongbao.ID { return deriveID("central-clearing", cb) }
func rtgsAccount(cb tongbao.ID) tongbao.ID            { return deriveID("rtgs", cb) }
func backingAccount(cb, op tongbao.ID) tongbao.ID     { return deriveID("backing", cb, op) }
func reserveAccount(op tongbao.ID) tongbao.ID         { return deriveID("reserve", op) }
func vaultAccount(op tongbao.ID) tongbao.ID           { return deriveID("vault", op) }
func clearingAccount(op tongbao.ID, window uint64) tongbao.ID {
	return deriveID("clearing", op, window)
}

// InstitutionAccounts are the ledger accounts of an institution, for
// callers that read balances.
type InstitutionAccounts struct {
	Issued, CentralClearing, RTGS tongbao.ID // central bank
	Backing, Reserve, Vault       tongbao.ID // operator (Backing is held at the central bank)
}

// AccountsOf returns the ids of an operator's accounts (and the central
// bank's), or ErrNoCentralBank.
func (s *Service) AccountsOf(op tongbao.ID) (InstitutionAccounts, error) {
	cb, err := s.centralBank()
	if err != nil {
		return InstitutionAccounts{}, err
	}
	return InstitutionAccounts{
		Issued: issuedAccount(cb), CentralClearing: centralClearingAccount(cb), RTGS: rtgsAccount(cb),
		Backing: backingAccount(cb, op), Reserve: reserveAccount(op), Vault: vaultAccount(op),
	}, nil
}

// ClearingAccount returns the id of an operator's clearing account in a
// settlement window.
func ClearingAccount(op tongbao.ID, window uint64) tongbao.ID { return clearingAccount(op, window) }

// createAccounts creates accounts and fails on the first error (an account
// that exists with the same content is no error).
func (s *Service) createAccounts(ctx context.Context, as []ledger.Account) error {
	for len(as) > 0 {
		n := min(len(as), s.ledger.BatchMax())
		errs, err := s.ledger.CreateAccounts(ctx, as[:n])
		if err != nil {
			return err
		}
		for i, e := range errs {
			if e != nil {
				return fmt.Errorf("create account %v: %w", as[i].ID, e)
			}
		}
		as = as[n:]
	}
	return nil
}

func (s *Service) account(id tongbao.ID, code uint16, flags ledger.AccountFlags, limits ledger.Limits) ledger.Account {
	return ledger.Account{ID: id, Currency: s.currency, Code: code, Flags: flags, Limits: limits}
}

// CreateCentralBank creates the central bank and its accounts. There is
// one per ledger: a second one with another id fails with
// ErrCentralBankExists; the same call again does nothing.
func (s *Service) CreateCentralBank(ctx context.Context, id tongbao.ID, name string) error {
	if id.IsZero() {
		return ErrIDRequired
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	s.mu.RLock()
	cur := s.central
	s.mu.RUnlock()
	if !cur.IsZero() && cur != id {
		return ErrCentralBankExists
	}
	if err := s.createAccounts(ctx, []ledger.Account{
		s.account(issuedAccount(id), CodeIssued, 0, ledger.Limits{}),
		s.account(centralClearingAccount(id), CodeCentralClearing, 0, ledger.Limits{}),
		s.account(rtgsAccount(id), CodeRTGS, 0, ledger.Limits{}),
	}); err != nil {
		return fmt.Errorf("create central bank: %w", err)
	}
	in := Institution{ID: id, Kind: KindCentralBank, Name: name, CreatedAt: s.clock.Now()}
	if old, err := s.store.Institution(ctx, id); err == nil {
		in.CreatedAt = old.CreatedAt
	}
	if err := s.store.CreateInstitution(ctx, in); err != nil {
		return fmt.Errorf("create central bank: %w", err)
	}
	s.mu.Lock()
	s.central = id
	s.mu.Unlock()
	return nil
}

// AddOperator authorises an operator: creates its accounts (reserve,
// vault, the backing account at the central bank, its clearing account in
// the current window) and its cap schedule's first version, the default
// caps, in effect from now. Calling it again with the same content does
// nothing; with another name or cap, ErrInstitutionExists.
func (s *Service) AddOperator(ctx context.Context, id tongbao.ID, name string, netDebitCap tongbao.Amount) error {
	if id.IsZero() {
		return ErrIDRequired
	}
	if netDebitCap <= 0 {
		return tongbao.Errorf(tongbao.EINVALID, "net debit cap must be greater than zero")
	}
	cb, err := s.centralBank()
	if err != nil {
		return err
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	now := s.clock.Now()
	in := Institution{ID: id, Kind: KindOperator, Name: name, NetDebitCap: netDebitCap, CreatedAt: now}
	if old, err := s.store.Institution(ctx, id); err == nil {
		in.CreatedAt = old.CreatedAt
	}
	window := s.CurrentWindow()
	floor := ledger.FlagDebitsMustNotExceedCredits
	if err := s.createAccounts(ctx, []ledger.Account{
		s.account(backingAccount(cb, id), CodeBacking, floor, ledger.Limits{}),
		s.account(reserveAccount(id), CodeReserve, floor, ledger.Limits{}),
		s.account(vaultAccount(id), CodeVault, floor, ledger.Limits{}),
		s.clearing(id, window, netDebitCap),
	}); err != nil {
		return fmt.Errorf("add operator: %w", err)
	}
	if err := s.store.CreateInstitution(ctx, in); err != nil {
		return fmt.Errorf("add operator: %w", err)
	}
	vs, err := s.store.CapVersions(ctx, id)
	if err != nil {
		return fmt.Errorf("add operator: %w", err)
	}
	if len(vs) == 0 {
		v := CapVersion{Operator: id, Version: 1, EffectiveFrom: time.Unix(0, 0), Caps: DefaultCaps(), SetBy: "default", SetAt: now}
		if err := s.store.AddCapVersion(ctx, v); err != nil && !errors.Is(err, ErrCapVersionExists) {
			return fmt.Errorf("add operator: %w", err)
		}
	}
	return nil
}

func (s *Service) clearing(op tongbao.ID, window uint64, netDebitCap tongbao.Amount) ledger.Account {
	return s.account(clearingAccount(op, window), CodeClearing, 0, ledger.Limits{BalanceMax: netDebitCap})
}

// operator returns an operator, or an error if the id names none.
func (s *Service) operator(ctx context.Context, id tongbao.ID) (Institution, error) {
	in, err := s.store.Institution(ctx, id)
	if err != nil {
		return Institution{}, err
	}
	if in.Kind != KindOperator {
		return Institution{}, ErrNotOperator
	}
	return in, nil
}

// operators returns every operator.
func (s *Service) operators(ctx context.Context) ([]Institution, error) {
	ins, err := s.store.Institutions(ctx)
	if err != nil {
		return nil, err
	}
	var ops []Institution
	for _, in := range ins {
		if in.Kind == KindOperator {
			ops = append(ops, in)
		}
	}
	return ops, nil
}

// checkMoney validates an amount and currency from a caller.
func (s *Service) checkMoney(amount tongbao.Amount, currency tongbao.Currency) error {
	if amount <= 0 {
		return tongbao.ErrAmountInvalid
	}
	if currency != "" && currency != s.currency {
		if err := currency.Validate(); err != nil {
			return err
		}
		return ErrCurrencyMismatch
	}
	return nil
}

// wrap gives a ledger error a domain message and keeps it in the chain.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return &tongbao.Error{Code: tongbao.ErrorCode(err), Message: what + ": " + tongbao.ErrorMessage(err), Err: err}
}

// submit submits one operation's transfers (one linked chain or a single
// transfer) and returns the first real failure, ignoring the
// ErrLinkedEventFailed of the innocent members.
func (s *Service) submit(ctx context.Context, ts []ledger.Transfer) ([]ledger.Result, int, error) {
	rs, err := s.ledger.Submit(ctx, ts)
	if err != nil {
		return nil, -1, err
	}
	i, err := firstFailure(rs)
	return rs, i, err
}

// firstFailure returns the index and error of the first real failure in
// the results of one operation, ignoring the ErrLinkedEventFailed of the
// innocent members; -1 and nil when every one succeeded.
func firstFailure(rs []ledger.Result) (int, error) {
	for i, r := range rs {
		if r.Err != nil && !errors.Is(r.Err, ledger.ErrLinkedEventFailed) {
			return i, r.Err
		}
	}
	for i, r := range rs {
		if r.Err != nil {
			return i, r.Err
		}
	}
	return -1, nil
}

// chain links the transfers in order.
func chain(ts ...ledger.Transfer) []ledger.Transfer {
	for i := range ts[:len(ts)-1] {
		ts[i].Flags |= ledger.FlagLinked
	}
	return ts
}
