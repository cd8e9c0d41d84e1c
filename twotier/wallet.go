package twotier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// Limits of the text a wallet carries.
const (
	HolderNameMax       = 100 // bytes
	ReasonMax           = 200 // bytes
	MerchantCategoryLen = 4   // digits of an ISO 18245 code
	RegionMax           = 32  // bytes
)

// WalletSpec is what OpenWallet needs.
type WalletSpec struct {
	// ID is the wallet's id, chosen by the caller so a retry opens the
	// same wallet; zero picks a new one.
	ID       tongbao.ID
	Operator tongbao.ID
	Category Category
	// HolderName is masked before it is stored.
	HolderName string
	// Phone is the wallet's alias (may be empty except in category 4,
	// which is opened with a phone number and nothing else).
	Phone string
	// Merchant makes a merchant wallet, with its merchant category code
	// and region.
	Merchant         bool
	MerchantCategory string
	Region           string
	// HolderLimits are the caps of a category 1 wallet (required there,
	// ignored elsewhere).
	HolderLimits *ledger.Limits
}

// NormalizePhone returns a phone number in the form aliases are kept in:
// digits only, with a leading + kept, or an EINVALID error.
func NormalizePhone(phone string) (string, error) {
	p := strings.NewReplacer(" ", "", "-", "").Replace(phone)
	digits := strings.TrimPrefix(p, "+")
	if len(digits) < 6 || len(digits) > 15 {
		return "", tongbao.Errorf(tongbao.EINVALID, "phone number must have 6 to 15 digits")
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", tongbao.Errorf(tongbao.EINVALID, "phone number may hold only digits")
		}
	}
	return p, nil
}

// AliasKey returns the lookup key of a phone alias: a hash, so the store
// holds no phone numbers in the clear (the personal-data vault will hold
// them), or an EINVALID error.
func AliasKey(phone string) (string, error) {
	p, err := NormalizePhone(phone)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte("tongbao/alias/" + p))
	return hex.EncodeToString(sum[:]), nil
}

// MaskPhone shows the first three and last four digits: 138****5678.
func MaskPhone(p string) string {
	if len(p) <= 7 {
		return strings.Repeat("*", len(p))
	}
	return p[:3] + strings.Repeat("*", len(p)-7) + p[len(p)-4:]
}

// MaskName keeps the first character of a name and masks the rest: 张**.
func MaskName(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return ""
	}
	r, size := utf8.DecodeRuneInString(name)
	return string(r) + strings.Repeat("*", utf8.RuneCountInString(name[size:]))
}

func walletCode(merchant bool) uint16 {
	if merchant {
		return CodeMerchantWallet
	}
	return CodePersonalWallet
}

// OpenWallet opens a wallet at an operator: a ledger account with the
// category's caps as limits, floor zero, and the wallet's record. The same
// spec with the same id again returns the wallet already opened.
func (s *Service) OpenWallet(ctx context.Context, spec WalletSpec) (Wallet, error) {
	if !spec.Category.Valid() {
		return Wallet{}, ErrCategoryInvalid
	}
	if len(spec.HolderName) > HolderNameMax {
		return Wallet{}, tongbao.Errorf(tongbao.EINVALID, "holder name is longer than %d bytes", HolderNameMax)
	}
	w := Wallet{ID: spec.ID, Operator: spec.Operator, Kind: WalletPersonal, Category: spec.Category, HolderMasked: MaskName(spec.HolderName), State: StateActive}
	if w.ID.IsZero() {
		w.ID = tongbao.NewID()
	}
	if spec.Phone != "" {
		key, err := AliasKey(spec.Phone)
		if err != nil {
			return Wallet{}, err
		}
		p, _ := NormalizePhone(spec.Phone)
		w.AliasKey, w.AliasMasked = key, MaskPhone(p)
	} else if spec.Category == Category4 {
		return Wallet{}, tongbao.Errorf(tongbao.EINVALID, "a category 4 wallet is opened with a phone number")
	}
	if spec.Merchant {
		if len(spec.MerchantCategory) != MerchantCategoryLen || strings.Trim(spec.MerchantCategory, "0123456789") != "" {
			return Wallet{}, tongbao.Errorf(tongbao.EINVALID, "merchant category code must be %d digits", MerchantCategoryLen)
		}
		if spec.Region == "" || len(spec.Region) > RegionMax {
			return Wallet{}, tongbao.Errorf(tongbao.EINVALID, "a merchant wallet needs a region of at most %d bytes", RegionMax)
		}
		w.Kind, w.MerchantCategory, w.Region = WalletMerchant, spec.MerchantCategory, spec.Region
	}
	if _, err := s.operator(ctx, spec.Operator); err != nil {
		return Wallet{}, err
	}
	now := s.clock.Now()
	limits, version, err := s.categoryLimits(ctx, spec.Operator, spec.Category, spec.HolderLimits, now)
	if err != nil {
		return Wallet{}, err
	}
	w.CapVersion = version
	if spec.Category == Category1 {
		l := limits
		w.HolderLimits = &l
	}
	w.OpenedAt, w.UpdatedAt = now, now
	if old, err := s.store.Wallet(ctx, w.ID); err == nil {
		if old.Operator != w.Operator || old.Category != w.Category || old.AliasKey != w.AliasKey || old.Kind != w.Kind {
			return Wallet{}, ErrWalletExists
		}
		return old, nil
	}
	// The ledger account first: an account without a record holds no
	// money (nothing pays into a wallet the store does not know) and a
	// retry completes the opening.
	errs, err := s.ledger.CreateAccounts(ctx, []ledger.Account{s.account(w.ID, walletCode(spec.Merchant), ledger.FlagDebitsMustNotExceedCredits, limits)})
	if err != nil {
		return Wallet{}, err
	}
	if errs[0] != nil {
		if errors.Is(errs[0], ledger.ErrAccountExists) {
			return Wallet{}, ErrWalletExists
		}
		return Wallet{}, errs[0]
	}
	if err := s.store.CreateWallet(ctx, w); err != nil {
		return Wallet{}, err
	}
	return w, nil
}

// categoryLimits returns the caps of a category at an operator at t, and
// the schedule version they come from (zero for category 1).
func (s *Service) categoryLimits(ctx context.Context, op tongbao.ID, c Category, holder *ledger.Limits, t time.Time) (ledger.Limits, int64, error) {
	if c == Category1 {
		if holder == nil {
			return ledger.Limits{}, 0, ErrHolderCapsRequired
		}
		if err := checkLimits(*holder); err != nil {
			return ledger.Limits{}, 0, err
		}
		return *holder, 0, nil
	}
	v, err := s.capsAt(ctx, op, t)
	if err != nil {
		return ledger.Limits{}, 0, err
	}
	return v.Caps[c], v.Version, nil
}

// Wallet returns a wallet's record.
func (s *Service) Wallet(ctx context.Context, id tongbao.ID) (Wallet, error) {
	return s.store.Wallet(ctx, id)
}

// Balance returns what a wallet (or any account of this package) holds.
func (s *Service) Balance(ctx context.Context, id tongbao.ID) (tongbao.Amount, error) {
	a, err := s.ledger.Account(ctx, id)
	if err != nil {
		return 0, err
	}
	return a.Net(), nil
}

// Resolve finds the wallet an alias names: a wallet id (32 hexadecimal
// digits, with or without hyphens) or a phone number. ErrWalletNotFound if
// none.
func (s *Service) Resolve(ctx context.Context, alias string) (Wallet, error) {
	if id, err := tongbao.ParseID(alias); err == nil {
		return s.store.Wallet(ctx, id)
	}
	key, err := AliasKey(alias)
	if err != nil {
		return Wallet{}, tongbao.Errorf(tongbao.EINVALID, "alias is neither a wallet id nor a phone number")
	}
	return s.store.WalletByAlias(ctx, key)
}

// WalletOperation is a top-up or a withdrawal: money between a wallet and
// its operator's vault (the holder's bank deposit converted either way).
type WalletOperation struct {
	ID       tongbao.ID
	Wallet   tongbao.ID
	Amount   tongbao.Amount
	Currency tongbao.Currency
}

func (s *Service) walletForMoney(ctx context.Context, op WalletOperation) (Wallet, error) {
	if op.ID.IsZero() {
		return Wallet{}, ErrIDRequired
	}
	if err := s.checkMoney(op.Amount, op.Currency); err != nil {
		return Wallet{}, err
	}
	w, err := s.store.Wallet(ctx, op.Wallet)
	if err != nil {
		return Wallet{}, err
	}
	if w.Kind == WalletScenario {
		// Money enters and leaves a sub-wallet through its parent.
		return Wallet{}, ErrScenarioWallet
	}
	return w, nil
}

// TopUp loads a wallet from its operator's vault. The wallet's balance cap
// and state, and the vault's inventory, are the engine's to check. A
// scenario sub-wallet is refused (ErrScenarioWallet): it is funded from
// its parent (FundScenario).
func (s *Service) TopUp(ctx context.Context, op WalletOperation) (Receipt, error) {
	w, err := s.walletForMoney(ctx, op)
	if err != nil {
		return Receipt{}, err
	}
	rs, i, err := s.submit(ctx, []ledger.Transfer{{ID: op.ID, DebitAccountID: vaultAccount(w.Operator), CreditAccountID: w.ID, Amount: op.Amount, Code: TransferTopUp}})
	if err != nil {
		if i == 0 && errors.Is(err, ledger.ErrInsufficientFunds) {
			return Receipt{}, wrap("top-up: operator vault", err)
		}
		return Receipt{}, wrap("top-up", err)
	}
	return receipt(rs), nil
}

// Withdraw moves money from a wallet back to its operator's vault (to the
// holder's bank deposit). The engine counts it against the wallet's
// single, daily and yearly debit caps like a payment: a cap can then never
// be got around by withdrawing and paying from the bank account. A
// scenario sub-wallet is refused (ErrScenarioWallet): it is swept back to
// its parent (SweepScenario).
func (s *Service) Withdraw(ctx context.Context, op WalletOperation) (Receipt, error) {
	w, err := s.walletForMoney(ctx, op)
	if err != nil {
		return Receipt{}, err
	}
	rs, _, err := s.submit(ctx, []ledger.Transfer{{ID: op.ID, DebitAccountID: w.ID, CreditAccountID: vaultAccount(w.Operator), Amount: op.Amount, Code: TransferWithdraw}})
	if err != nil {
		return Receipt{}, wrap("withdraw", err)
	}
	return receipt(rs), nil
}

// Upgrade moves a wallet to a stronger category (a smaller number), with
// that category's caps (holder for category 1).
func (s *Service) Upgrade(ctx context.Context, wallet tongbao.ID, to Category, holder *ledger.Limits) (Wallet, error) {
	up := true
	return s.changeCategory(ctx, wallet, to, holder, &up)
}

// Downgrade moves a wallet to a weaker category. The engine refuses it
// (ledger.ErrBalanceLimit, ErrDailyLimit, ErrYearlyLimit) when the
// wallet's balance or today's or this year's payments already exceed the
// new caps, and nothing changes.
func (s *Service) Downgrade(ctx context.Context, wallet tongbao.ID, to Category, holder *ledger.Limits) (Wallet, error) {
	up := false
	return s.changeCategory(ctx, wallet, to, holder, &up)
}

// ChangeCategory moves a wallet to category to: an upgrade when to is
// stronger than the wallet's category (or category 1 again, with new
// holder limits), a downgrade when it is weaker, each as Upgrade and
// Downgrade say. The wallet's category is read under the same lock that
// changes it, so two changes sent together cannot both pass its check.
func (s *Service) ChangeCategory(ctx context.Context, wallet tongbao.ID, to Category, holder *ledger.Limits) (Wallet, error) {
	return s.changeCategory(ctx, wallet, to, holder, nil)
}

func (s *Service) changeCategory(ctx context.Context, id tongbao.ID, to Category, holder *ledger.Limits, upgrade *bool) (Wallet, error) {
	if !to.Valid() {
		return Wallet{}, ErrCategoryInvalid
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	w, err := s.store.Wallet(ctx, id)
	if err != nil {
		return Wallet{}, err
	}
	up := to <= w.Category
	if upgrade != nil {
		up = *upgrade
	}
	if w.Kind == WalletScenario {
		// Its limits are its scenario's, not a category's.
		return Wallet{}, ErrScenarioWallet
	}
	if up && to >= w.Category && !(to == Category1 && w.Category == Category1) {
		return Wallet{}, ErrNotUpgrade
	}
	if !up && to <= w.Category {
		return Wallet{}, ErrNotDowngrade
	}
	now := s.clock.Now()
	limits, version, err := s.categoryLimits(ctx, w.Operator, to, holder, now)
	if err != nil {
		return Wallet{}, err
	}
	held, err := s.lessSubWallets(ctx, w, limits, nil, true) // the sub-wallets keep their part of the cap
	if err != nil {
		return Wallet{}, err
	}
	errs, err := s.ledger.UpdateAccounts(ctx, []ledger.AccountUpdate{{ID: id, Limits: &held, WithinLimits: true}})
	if err != nil {
		return Wallet{}, err
	}
	if errs[0] != nil {
		return Wallet{}, wrap("change category", errs[0])
	}
	w.Category, w.CapVersion, w.HolderLimits, w.UpdatedAt = to, version, nil, now
	if to == Category1 {
		w.HolderLimits = &limits
	}
	if err := s.store.UpdateWallet(ctx, w); err != nil {
		return Wallet{}, err
	}
	return w, nil
}

// stateFlags are the ledger state flags of each wallet state.
var stateFlags = map[WalletState]ledger.AccountFlags{
	StateActive:      0,
	StateReceiveOnly: ledger.FlagDebitsDisabled,
	StateSuspended:   ledger.FlagDebitsDisabled | ledger.FlagCreditsDisabled,
	StateClosed:      ledger.FlagClosed,
}

// SetState puts a wallet in a state, with a reason (required for every
// state but active). Active lifts receive-only and suspended. Closing is
// final and the engine refuses it (ledger.ErrAccountNotEmpty) while the
// wallet holds money; a wallet with sub-wallets not closed is refused too
// (ErrSubWalletsOpen).
func (s *Service) SetState(ctx context.Context, id tongbao.ID, state WalletState, reason string) (Wallet, error) {
	flags, ok := stateFlags[state]
	if !ok {
		return Wallet{}, tongbao.Errorf(tongbao.EINVALID, "wallet state %q is unknown", string(state))
	}
	if state != StateActive && strings.TrimSpace(reason) == "" {
		return Wallet{}, ErrReasonRequired
	}
	if len(reason) > ReasonMax {
		return Wallet{}, tongbao.Errorf(tongbao.EINVALID, "reason is longer than %d bytes", ReasonMax)
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	w, err := s.store.Wallet(ctx, id)
	if err != nil {
		return Wallet{}, err
	}
	if w.State == StateClosed {
		return Wallet{}, ErrWalletClosed
	}
	if state == StateClosed && w.Kind == WalletPersonal {
		// A sub-wallet's money goes back only to its parent: a closed
		// parent would hold it in the sub-wallet for good.
		subs, err := s.store.SubWallets(ctx, id)
		if err != nil {
			return Wallet{}, err
		}
		for _, sub := range subs {
			if sub.State != StateClosed {
				return Wallet{}, ErrSubWalletsOpen
			}
		}
	}
	us := []ledger.AccountUpdate{{ID: id, SetFlags: flags, ClearFlags: (ledger.FlagDebitsDisabled | ledger.FlagCreditsDisabled) &^ flags}}
	if state != StateClosed {
		// A wallet that may not pay may not pay through its sub-wallets
		// either: their payment meters, debited by every payment and
		// charge of theirs, follow it. Sweeps back are left alone.
		meters, err := s.subWalletMeters(ctx, w)
		if err != nil {
			return Wallet{}, err
		}
		for _, m := range meters {
			u := ledger.AccountUpdate{ID: m, ClearFlags: ledger.FlagDebitsDisabled}
			if flags&ledger.FlagDebitsDisabled != 0 {
				u = ledger.AccountUpdate{ID: m, SetFlags: ledger.FlagDebitsDisabled}
			}
			us = append(us, u)
		}
	}
	errs, err := s.ledger.UpdateAccounts(ctx, us)
	if err != nil {
		return Wallet{}, err
	}
	for _, e := range errs {
		if e != nil {
			return Wallet{}, wrap("set wallet state", e)
		}
	}
	w.State, w.StateReason, w.UpdatedAt = state, reason, s.clock.Now()
	if err := s.store.UpdateWallet(ctx, w); err != nil {
		return Wallet{}, err
	}
	if state == StateClosed && w.Kind == WalletScenario {
		// Its part of the parent's balance cap goes back to the parent.
		parent, err := s.store.Wallet(ctx, w.Parent)
		if err != nil {
			return Wallet{}, err
		}
		if err := s.reserveForSubWallets(ctx, parent, nil, false); err != nil {
			return Wallet{}, err
		}
	}
	return w, nil
}

// Freeze freezes a wallet until a moment, with a reason: every payment in
// or out is refused (ledger.ErrAccountFrozen) until then, and the freeze
// lifts by itself. A zero until lifts a freeze at once.
func (s *Service) Freeze(ctx context.Context, id tongbao.ID, until time.Time, reason string) (Wallet, error) {
	if !until.IsZero() && strings.TrimSpace(reason) == "" {
		return Wallet{}, ErrReasonRequired
	}
	if len(reason) > ReasonMax {
		return Wallet{}, tongbao.Errorf(tongbao.EINVALID, "reason is longer than %d bytes", ReasonMax)
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	w, err := s.store.Wallet(ctx, id)
	if err != nil {
		return Wallet{}, err
	}
	if w.State == StateClosed {
		return Wallet{}, ErrWalletClosed
	}
	var nanos int64
	if !until.IsZero() {
		nanos = until.UnixNano()
	}
	us := []ledger.AccountUpdate{{ID: id, FrozenUntil: &nanos}}
	meters, err := s.subWalletMeters(ctx, w)
	if err != nil {
		return Wallet{}, err
	}
	for _, m := range meters { // its sub-wallets pay nothing while it is frozen
		us = append(us, ledger.AccountUpdate{ID: m, FrozenUntil: &nanos})
	}
	errs, err := s.ledger.UpdateAccounts(ctx, us)
	if err != nil {
		return Wallet{}, err
	}
	for _, e := range errs {
		if e != nil {
			return Wallet{}, wrap("freeze wallet", e)
		}
	}
	w.FrozenUntil, w.FreezeReason, w.UpdatedAt = until, reason, s.clock.Now()
	if until.IsZero() {
		w.FreezeReason = ""
	}
	if err := s.store.UpdateWallet(ctx, w); err != nil {
		return Wallet{}, err
	}
	return w, nil
}

// subWalletMeters returns the payment meters of a personal wallet's
// sub-wallets that are not closed.
func (s *Service) subWalletMeters(ctx context.Context, w Wallet) ([]tongbao.ID, error) {
	if w.Kind != WalletPersonal {
		return nil, nil
	}
	subs, err := s.store.SubWallets(ctx, w.ID)
	if err != nil {
		return nil, err
	}
	var ms []tongbao.ID
	for _, sub := range subs {
		if sub.State != StateClosed {
			ms = append(ms, scenarioMeter(sub.ID))
		}
	}
	return ms, nil
}

// Frozen reports whether a wallet is frozen at now.
func (w Wallet) Frozen(now time.Time) bool {
	return !w.FrozenUntil.IsZero() && w.FrozenUntil.After(now)
}
