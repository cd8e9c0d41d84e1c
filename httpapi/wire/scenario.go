package wire

import (
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// CreateScenarioTemplate defines a scenario template at the operator named
// in the path. With no merchant, category or region listed, any merchant
// wallet at the operator may be paid; otherwise a merchant listed by id,
// or one matching the categories (if listed) and the regions (if listed).
type CreateScenarioTemplate struct {
	ID           *tongbao.ID  `json:"id,omitempty"`
	Name         string       `json:"name"`
	BalanceMax   Amount       `json:"balance_max"`
	PaymentMax   Amount       `json:"payment_max"`
	DailyMax     Amount       `json:"daily_max,omitempty"`
	Merchants    []tongbao.ID `json:"merchants"`
	Categories   []string     `json:"merchant_categories"`
	Regions      []string     `json:"regions"`
	ExpiresAt    *time.Time   `json:"expires_at,omitempty"`
	Withdrawable bool         `json:"withdrawable,omitempty"`
}

// ScenarioTemplate is a scenario template.
type ScenarioTemplate struct {
	ID           tongbao.ID   `json:"id"`
	Operator     tongbao.ID   `json:"operator"`
	Name         string       `json:"name"`
	BalanceMax   Amount       `json:"balance_max"`
	PaymentMax   Amount       `json:"payment_max"`
	DailyMax     Amount       `json:"daily_max"`
	Merchants    []tongbao.ID `json:"merchants"`
	Categories   []string     `json:"merchant_categories"`
	Regions      []string     `json:"regions"`
	ExpiresAt    *time.Time   `json:"expires_at,omitempty"`
	Withdrawable bool         `json:"withdrawable"`
	CreatedAt    time.Time    `json:"created_at"`
}

// ScenarioTemplateList is an operator's templates in creation order.
type ScenarioTemplateList struct {
	Items []ScenarioTemplate `json:"items"`
}

// PushSubWallet pushes a sub-wallet of the wallet named in the path to a
// template; ExpiresAt, if given, expires it before its template.
type PushSubWallet struct {
	ID        *tongbao.ID `json:"id,omitempty"`
	Template  tongbao.ID  `json:"template"`
	ExpiresAt *time.Time  `json:"expires_at,omitempty"`
}

// SubWallet is a scenario sub-wallet, with its balance and what it paid
// today when read alone.
type SubWallet struct {
	ID       tongbao.ID `json:"id"`
	Parent   tongbao.ID `json:"parent"`
	Template tongbao.ID `json:"template"`
	Operator tongbao.ID `json:"operator"`
	// ExpiresAt is absent when the sub-wallet never expires.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Expired   bool       `json:"expired"`
	// ChargeMerchant may charge the sub-wallet without a prompt unless
	// ChargeRevokedAt is set.
	ChargeMerchant  tongbao.ID `json:"charge_merchant,omitzero"`
	ChargeGrantedAt *time.Time `json:"charge_granted_at,omitempty"`
	ChargeRevokedAt *time.Time `json:"charge_revoked_at,omitempty"`
	// EndedAt is set once the sub-wallet, expired, was swept back and
	// closed by the operator's scheduler.
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Balance   *Amount    `json:"balance,omitempty"`
	PaidToday *Amount    `json:"paid_today,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// SubWalletList is a wallet's sub-wallets in creation order.
type SubWalletList struct {
	Items []SubWallet `json:"items"`
}

// ScenarioPay pays a merchant wallet from the sub-wallet in the path.
type ScenarioPay struct {
	Merchant tongbao.ID       `json:"merchant"`
	Amount   Amount           `json:"amount"`
	Currency tongbao.Currency `json:"currency,omitempty"`
}

// ScenarioCharge charges the sub-wallet in the path from the calling
// merchant's wallet, under the holder's permission.
type ScenarioCharge struct {
	Amount   Amount           `json:"amount"`
	Currency tongbao.Currency `json:"currency,omitempty"`
}

// GrantCharge lets a merchant wallet charge the sub-wallet in the path.
type GrantCharge struct {
	Merchant tongbao.ID `json:"merchant"`
}
