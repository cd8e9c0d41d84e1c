package scenario

import (
	"context"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// Template is a scenario an operator defines: the caps of the
// sub-wallets pushed to it, the merchants they may pay, their expiry and
// whether the holder may sweep money back before it. A template never
// changes once created.
type Template struct {
	ID       tongbao.ID
	Operator tongbao.ID
	Name     string
	// BalanceMax caps what a sub-wallet holds, PaymentMax one payment
	// (and one charge), DailyMax its payments in a calendar day of the
	// ledger's time zone (zero: no daily cap).
	BalanceMax tongbao.Amount
	PaymentMax tongbao.Amount
	DailyMax   tongbao.Amount
	// Merchants, Categories (ISO 18245 merchant category codes) and
	// Regions say which merchant wallets may be paid (see Allows).
	Merchants  []tongbao.ID
	Categories []string
	Regions    []string
	// ExpiresAt ends payments, charges and funding (zero: never); the
	// holder may always sweep back after it.
	ExpiresAt time.Time
	// Withdrawable lets the holder sweep money back to the parent before
	// the expiry.
	Withdrawable bool
	CreatedAt    time.Time
}

// SubWallet links a scenario sub-wallet (a twotier wallet of kind
// scenario) to its parent wallet and template, with the charge
// permission its holder granted.
type SubWallet struct {
	Wallet   tongbao.ID
	Parent   tongbao.ID
	Template tongbao.ID
	Operator tongbao.ID
	// ExpiresAt is the sub-wallet's own expiry: at the latest the
	// template's (zero: never).
	ExpiresAt time.Time
	// ChargeMerchant is the merchant wallet the holder let charge the
	// sub-wallet without a prompt (zero: none); ChargeRevokedAt is set
	// once the holder revoked it.
	ChargeMerchant  tongbao.ID
	ChargeGrantedAt time.Time
	ChargeRevokedAt time.Time
	// EndedAt is set once the sub-wallet, expired, was swept back and
	// closed (Service.EndExpired).
	EndedAt   time.Time
	CreatedAt time.Time
}

// Store errors. Implementations return these (wrapped or not) so callers
// can test them with errors.Is.
var (
	ErrTemplateExists    = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "scenario template id already used")
	ErrTemplateNotFound  = tongbao.Sentinel(tongbao.ENOTFOUND, "scenario-template-not-found", "scenario template not found")
	ErrSubWalletExists   = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "sub-wallet id already used")
	ErrSubWalletNotFound = tongbao.Sentinel(tongbao.ENOTFOUND, "sub-wallet-not-found", "sub-wallet not found")
	ErrTooManySubWallets = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "too-many-sub-wallets", "the wallet has the most sub-wallets allowed (%d)", SubWalletsMax)
	ErrTooManyTemplates  = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "unprocessable", "the operator has the most scenario templates allowed (%d)", TemplatesMax)
)

// Limits of the store's lists.
const (
	// TemplatesMax is the most templates an operator may define.
	TemplatesMax = 1000
	// SubWalletsMax is the most sub-wallets one wallet may have at a
	// time; those ended (expired, swept back and closed) do not count.
	SubWalletsMax = 50
	// ListMax is the most merchants, categories or regions one template
	// lists.
	ListMax = 100
	// ExpiredPageMax is the most links one call of Store.Expired returns.
	ExpiredPageMax = 1000
)

// Store keeps the scenario domain's records: templates and sub-wallet
// links. The money is in the ledger, the sub-wallets' records in twotier's
// store. Every method is safe for concurrent use and durable when it
// returns.
type Store interface {
	// CreateTemplate stores a new template: ErrTemplateExists if its id
	// is taken.
	CreateTemplate(ctx context.Context, t Template) error
	// Template returns a template, or ErrTemplateNotFound.
	Template(ctx context.Context, id tongbao.ID) (Template, error)
	// Templates returns up to TemplatesMax templates of an operator, in
	// creation order.
	Templates(ctx context.Context, operator tongbao.ID) ([]Template, error)

	// CreateSubWallet stores a new link: ErrSubWalletExists if its
	// wallet is already linked.
	CreateSubWallet(ctx context.Context, w SubWallet) error
	// SubWallet returns a link by its sub-wallet, or ErrSubWalletNotFound.
	SubWallet(ctx context.Context, wallet tongbao.ID) (SubWallet, error)
	// SubWallets returns up to SubWalletsMax links of a parent wallet
	// that have not ended, in creation order.
	SubWallets(ctx context.Context, parent tongbao.ID) ([]SubWallet, error)
	// UpdateSubWallet replaces a link's charge merchant, granted and
	// revoked times and ended time: ErrSubWalletNotFound if there is no
	// such link.
	UpdateSubWallet(ctx context.Context, w SubWallet) error
	// Expired returns up to limit (at most ExpiredPageMax) links not
	// ended that expire at or before t, with wallet ids greater than
	// after, in wallet id order: pass the last id of a page to get the
	// next.
	Expired(ctx context.Context, t time.Time, after tongbao.ID, limit int) ([]SubWallet, error)
}
