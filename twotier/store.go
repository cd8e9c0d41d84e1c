package twotier

import (
	"context"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// InstitutionKind says whether an institution is the central bank or an
// operator.
type InstitutionKind string

// The kinds of institution.
const (
	KindCentralBank InstitutionKind = "central_bank"
	KindOperator    InstitutionKind = "operator"
)

// Institution is the central bank or an authorised operator.
type Institution struct {
	ID   tongbao.ID
	Kind InstitutionKind
	Name string
	// NetDebitCap is, for an operator, the most it may owe other operators
	// in one settlement window: its clearing account's balance cap.
	NetDebitCap tongbao.Amount
	CreatedAt   time.Time
}

// WalletKind tells personal from merchant wallets.
type WalletKind string

// The kinds of wallet.
const (
	WalletPersonal WalletKind = "personal"
	WalletMerchant WalletKind = "merchant"
	// WalletScenario is a sub-wallet pushed to a scenario from a personal
	// wallet, its Parent: money enters it only from the parent and leaves
	// it only to the parent or to merchant wallets, through the
	// scenario operations (see OpenScenarioWallet).
	WalletScenario WalletKind = "scenario"
)

// WalletState is what a wallet may do; each state but active carries a
// reason. A freeze is kept apart (Wallet.FrozenUntil) because it lifts by
// itself and may overlap a state.
type WalletState string

// The states of a wallet.
const (
	StateActive      WalletState = "active"
	StateReceiveOnly WalletState = "receive_only" // 只收不付: credits only
	StateSuspended   WalletState = "suspended"    // neither debits nor credits
	StateClosed      WalletState = "closed"       // final, only at zero balance
)

// Wallet is a holder's account at one operator: what the domain knows
// beyond the ledger account of the same id.
type Wallet struct {
	ID       tongbao.ID
	Operator tongbao.ID
	Kind     WalletKind
	Category Category
	// HolderMasked is the holder's name as shown (张**); the full name
	// belongs in the personal-data vault, never here.
	HolderMasked string
	// AliasKey is the lookup key of the phone alias (see AliasKey); empty
	// when the wallet has no alias. AliasMasked is the phone as shown.
	AliasKey    string
	AliasMasked string
	// MerchantCategory (an ISO 18245 merchant category code) and Region
	// are set for merchant wallets.
	MerchantCategory string
	Region           string
	State            WalletState
	StateReason      string
	FrozenUntil      time.Time // zero when not frozen
	FreezeReason     string
	// CapVersion is the version of the operator's cap schedule whose caps
	// the ledger account carries; zero for a category 1 wallet, whose caps
	// are HolderLimits.
	CapVersion   int64
	HolderLimits *ledger.Limits
	// Parent is, for a scenario sub-wallet, the wallet it was pushed
	// from; zero for every other wallet.
	Parent    tongbao.ID
	OpenedAt  time.Time
	UpdatedAt time.Time
}

// CapVersion is one version of an operator's cap schedule: the limits of
// each category from a moment on, with who set them.
type CapVersion struct {
	Operator      tongbao.ID
	Version       int64
	EffectiveFrom time.Time
	Caps          map[Category]ledger.Limits
	SetBy         string
	SetAt         time.Time
}

// WindowStatus is where a settlement window is in its life.
type WindowStatus string

// The statuses of a settlement window.
const (
	WindowOpen    WindowStatus = "open"
	WindowClosing WindowStatus = "closing" // replaced, being settled
	WindowSettled WindowStatus = "settled"
)

// Window is a settlement window: the cross-operator payments made while it
// was current accumulate on its clearing accounts, one per operator.
type Window struct {
	Number    uint64
	Status    WindowStatus
	OpenedAt  time.Time
	ClosedAt  time.Time // zero while open
	SettledAt time.Time // zero until settled
	// Positions are the operators' net positions: positive for an
	// operator that owes (its holders paid other operators' holders more
	// than they received), negative for one that is owed; they sum to
	// zero. Final once the window is settled, running before (see
	// Service.Windows).
	Positions map[tongbao.ID]tongbao.Amount
}

// PaymentStatus is what the operator knows of a cross-operator payment.
type PaymentStatus string

// The statuses of a payment record.
const (
	// PaymentPending is recorded before the ledger is asked: a record
	// that stays pending means the answer was lost (a crash), and
	// reconciliation reports it.
	PaymentPending PaymentStatus = "pending"
	PaymentPosted  PaymentStatus = "posted"
	PaymentFailed  PaymentStatus = "failed"
)

// PaymentRecord is an operator's own record of a cross-operator payment,
// the side that reconciliation compares with the central bank's view.
type PaymentRecord struct {
	ID            tongbao.ID
	PayerOperator tongbao.ID
	PayeeOperator tongbao.ID
	PayerWallet   tongbao.ID
	PayeeWallet   tongbao.ID
	Amount        tongbao.Amount
	Currency      tongbao.Currency
	Window        uint64
	Status        PaymentStatus
	Reason        string
	// PayerTimestamp and PayeeTimestamp are the ledger timestamps of the
	// two legs once posted.
	PayerTimestamp int64
	PayeeTimestamp int64
	CreatedAt      time.Time
}

// Store errors. Implementations return these (wrapped or not) so callers
// can test them with errors.Is.
var (
	ErrInstitutionExists   = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "institution id already used with different content")
	ErrInstitutionNotFound = tongbao.Sentinel(tongbao.ENOTFOUND, "institution-not-found", "institution not found")
	ErrWalletExists        = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "wallet id already used")
	ErrWalletNotFound      = tongbao.Sentinel(tongbao.ENOTFOUND, "wallet-not-found", "wallet not found")
	ErrAliasTaken          = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "alias already belongs to another wallet")
	ErrCapVersionExists    = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "cap version already exists")
	ErrWindowExists        = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "settlement window already exists")
	ErrWindowNotFound      = tongbao.Sentinel(tongbao.ENOTFOUND, "not-found", "settlement window not found")
	ErrPaymentNotFound     = tongbao.Sentinel(tongbao.ENOTFOUND, "not-found", "payment not found")
)

// WalletsPageMax is the most wallets one call of Store.Wallets returns.
const WalletsPageMax = 1000

// Store keeps the domain's own tables: institutions, wallets, cap
// schedules, settlement windows and cross-operator payment records. The
// money itself is in the ledger; a Store holds what the ledger cannot
// (names, categories, states with reasons, aliases, configuration).
// Every method is safe for concurrent use and durable when it returns.
type Store interface {
	// CreateInstitution stores an institution. It returns nil if the same
	// institution is already stored, ErrInstitutionExists if its id is
	// taken by a different one.
	CreateInstitution(ctx context.Context, in Institution) error
	// Institution returns one institution, or ErrInstitutionNotFound.
	Institution(ctx context.Context, id tongbao.ID) (Institution, error)
	// Institutions returns every institution, ordered by creation.
	Institutions(ctx context.Context) ([]Institution, error)

	// CreateWallet stores a new wallet: ErrWalletExists if its id is
	// taken, ErrAliasTaken if its non-empty alias key is.
	CreateWallet(ctx context.Context, w Wallet) error
	// Wallet returns a wallet, or ErrWalletNotFound.
	Wallet(ctx context.Context, id tongbao.ID) (Wallet, error)
	// WalletByAlias returns the wallet with the alias key, or
	// ErrWalletNotFound.
	WalletByAlias(ctx context.Context, aliasKey string) (Wallet, error)
	// UpdateWallet replaces a wallet's mutable fields (category, state,
	// reasons, freeze, cap version, holder limits, updated time):
	// ErrWalletNotFound if there is no such wallet.
	UpdateWallet(ctx context.Context, w Wallet) error
	// Wallets returns up to limit (at most WalletsPageMax) wallets of the
	// operator with ids greater than after, in id order: pass the last id
	// of a page to get the next.
	Wallets(ctx context.Context, operator tongbao.ID, after tongbao.ID, limit int) ([]Wallet, error)
	// WalletsBehindCaps returns up to limit wallets of the operator in the
	// category whose CapVersion is not version, in id order; never a
	// scenario sub-wallet, whose limits come from its scenario.
	WalletsBehindCaps(ctx context.Context, operator tongbao.ID, category Category, version int64, limit int) ([]Wallet, error)
	// SubWallets returns up to WalletsPageMax scenario sub-wallets of a
	// parent wallet, in id order.
	SubWallets(ctx context.Context, parent tongbao.ID) ([]Wallet, error)

	// AddCapVersion stores a cap version: ErrCapVersionExists if the
	// operator already has that version number.
	AddCapVersion(ctx context.Context, v CapVersion) error
	// CapVersions returns every version of the operator's schedule, in
	// version order.
	CapVersions(ctx context.Context, operator tongbao.ID) ([]CapVersion, error)

	// CreateWindow stores a new settlement window: ErrWindowExists if its
	// number is taken.
	CreateWindow(ctx context.Context, w Window) error
	// UpdateWindow replaces a window's status, times and positions:
	// ErrWindowNotFound if there is no such window.
	UpdateWindow(ctx context.Context, w Window) error
	// Windows returns the windows numbered from on, in order.
	Windows(ctx context.Context, from uint64) ([]Window, error)

	// CreatePayment stores a payment record if its id is new and returns
	// it with created true; if the id exists it returns the stored record
	// and created false, whatever its content (the caller compares).
	CreatePayment(ctx context.Context, p PaymentRecord) (stored PaymentRecord, created bool, err error)
	// UpdatePayment replaces a record's window, status, reason and
	// timestamps: ErrPaymentNotFound if there is no such record.
	UpdatePayment(ctx context.Context, p PaymentRecord) error
	// CreatePayments is CreatePayment for many records in one
	// transaction, in order: stored[i] and created[i] are what
	// CreatePayment would have returned for ps[i] after the ones before
	// it (so a repeated id within ps returns the first record).
	CreatePayments(ctx context.Context, ps []PaymentRecord) (stored []PaymentRecord, created []bool, err error)
	// UpdatePayments is UpdatePayment for many records in one
	// transaction, in order: ErrPaymentNotFound, and nothing updated, if
	// any record is missing.
	UpdatePayments(ctx context.Context, ps []PaymentRecord) error
	// Payment returns a record, or ErrPaymentNotFound.
	Payment(ctx context.Context, id tongbao.ID) (PaymentRecord, error)
	// Payments returns the records in which the operator is payer or
	// payee and whose CreatedAt is in [from, to), in creation order.
	Payments(ctx context.Context, operator tongbao.ID, from, to time.Time) ([]PaymentRecord, error)
}
