// Package wire holds the JSON shapes of tongbao's HTTP API: what the
// server (package httpapi) decodes and renders and what the Go client
// (package client) sends and reads. It imports nothing but the root
// package, so a client does not pull in the server.
//
// Amounts travel as decimal strings of the currency's major unit ("12.34"):
// never a JSON number, which many clients read as a float.
package wire

import (
	"bytes"
	"encoding/json"
	"io"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// ErrAmountSyntax is in the chain of every error of a malformed amount.
var ErrAmountSyntax = tongbao.Sentinel(tongbao.EINVALID, "invalid-amount", "amount must be a decimal string with at most two fraction digits")

// ErrTrailingData is returned by Decode for data after the JSON value.
var ErrTrailingData = tongbao.Sentinel(tongbao.EINVALID, "malformed-json", "trailing data after the JSON value")

// Amount is an amount of money that travels as a decimal string with at
// most two fraction digits.
type Amount tongbao.Amount

// MarshalJSON writes the amount as a decimal string.
func (a Amount) MarshalJSON() ([]byte, error) {
	return []byte(`"` + tongbao.Amount(a).String() + `"`), nil
}

// UnmarshalJSON reads a decimal string with tongbao.ParseAmount: a JSON
// number, an exponent or a third decimal is refused.
func (a *Amount) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' || bytes.ContainsAny(b[1:len(b)-1], `"\`) {
		return ErrAmountSyntax
	}
	v, err := tongbao.ParseAmount(string(b[1 : len(b)-1]))
	if err != nil {
		return &tongbao.Error{Code: tongbao.EINVALID, Message: tongbao.ErrorMessage(err), Err: ErrAmountSyntax}
	}
	*a = Amount(v)
	return nil
}

// Problem is an RFC 9457 problem detail: every error the API answers.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// Error makes a Problem an error, so the client can return it.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}

// Institution is the central bank or an operator.
type Institution struct {
	ID          tongbao.ID `json:"id"`
	Kind        string     `json:"kind"`
	Name        string     `json:"name"`
	NetDebitCap *Amount    `json:"net_debit_cap,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// InstitutionPage is a page of institutions.
type InstitutionPage struct {
	Items      []Institution `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// CreateOperator authorises an operator. ID may be omitted: the server
// then derives it from the Idempotency-Key, or picks one.
type CreateOperator struct {
	ID          *tongbao.ID `json:"id,omitempty"`
	Name        string      `json:"name"`
	NetDebitCap Amount      `json:"net_debit_cap"`
}

// Money is the body of every request that moves an amount to or from an
// operator or a wallet: reserves, issuance, redemption, top-up, withdrawal.
type Money struct {
	Amount   Amount           `json:"amount"`
	Currency tongbao.Currency `json:"currency,omitempty"`
}

// Receipt answers a request that moved money.
type Receipt struct {
	// ID is the transfer id the server derived from the caller and the
	// Idempotency-Key.
	ID        tongbao.ID `json:"id"`
	Timestamp int64      `json:"timestamp"`
	Duplicate bool       `json:"duplicate"`
}

// Limits are a category's or a holder's caps; zero means none.
type Limits struct {
	BalanceMax     Amount `json:"balance_max"`
	DebitMax       Amount `json:"debit_max"`
	DailyDebitMax  Amount `json:"daily_debit_max"`
	YearlyDebitMax Amount `json:"yearly_debit_max"`
}

// OpenWallet opens a wallet at the operator named in the path.
type OpenWallet struct {
	ID               *tongbao.ID `json:"id,omitempty"`
	Category         int         `json:"category"`
	HolderName       string      `json:"holder_name,omitempty"`
	Phone            string      `json:"phone,omitempty"`
	Merchant         bool        `json:"merchant,omitempty"`
	MerchantCategory string      `json:"merchant_category,omitempty"`
	Region           string      `json:"region,omitempty"`
	HolderLimits     *Limits     `json:"holder_limits,omitempty"`
}

// Wallet is a wallet with its balance.
type Wallet struct {
	ID               tongbao.ID `json:"id"`
	Operator         tongbao.ID `json:"operator"`
	Kind             string     `json:"kind"`
	Category         int        `json:"category"`
	HolderMasked     string     `json:"holder,omitempty"`
	AliasMasked      string     `json:"phone,omitempty"`
	MerchantCategory string     `json:"merchant_category,omitempty"`
	Region           string     `json:"region,omitempty"`
	State            string     `json:"state"`
	StateReason      string     `json:"state_reason,omitempty"`
	FrozenUntil      *time.Time `json:"frozen_until,omitempty"`
	FreezeReason     string     `json:"freeze_reason,omitempty"`
	CapVersion       int64      `json:"cap_version,omitempty"`
	HolderLimits     *Limits    `json:"holder_limits,omitempty"`
	// Balance and Available are present when the wallet is read alone.
	Balance   *Amount   `json:"balance,omitempty"`
	Available *Amount   `json:"available,omitempty"`
	OpenedAt  time.Time `json:"opened_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// WalletPage is a page of wallets.
type WalletPage struct {
	Items      []Wallet `json:"items"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// ResolvedWallet is what anyone may learn of a payee from its alias.
type ResolvedWallet struct {
	ID           tongbao.ID `json:"id"`
	Kind         string     `json:"kind"`
	HolderMasked string     `json:"holder,omitempty"`
	Operator     tongbao.ID `json:"operator"`
}

// SetState puts a wallet in a state with a reason.
type SetState struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// Freeze freezes a wallet until a moment; a null or absent until lifts
// the freeze.
type Freeze struct {
	Until  *time.Time `json:"until,omitempty"`
	Reason string     `json:"reason,omitempty"`
}

// ChangeCategory upgrades or downgrades a wallet.
type ChangeCategory struct {
	Category     int     `json:"category"`
	HolderLimits *Limits `json:"holder_limits,omitempty"`
}

// SetCaps adds a version to an operator's cap schedule.
type SetCaps struct {
	EffectiveFrom time.Time         `json:"effective_from"`
	Caps          map[string]Limits `json:"caps"`
}

// CapVersion is one version of an operator's cap schedule.
type CapVersion struct {
	Version       int64             `json:"version"`
	EffectiveFrom time.Time         `json:"effective_from"`
	Caps          map[string]Limits `json:"caps"`
	SetBy         string            `json:"set_by"`
	SetAt         time.Time         `json:"set_at"`
}

// CapSchedule lists an operator's cap versions.
type CapSchedule struct {
	Items []CapVersion `json:"items"`
}

// Pay is a payment from a wallet to a wallet id or phone alias.
type Pay struct {
	From     tongbao.ID       `json:"from"`
	To       string           `json:"to"`
	Amount   Amount           `json:"amount"`
	Currency tongbao.Currency `json:"currency,omitempty"`
}

// Payment answers a payment that went through.
type Payment struct {
	ID            tongbao.ID `json:"id"`
	From          tongbao.ID `json:"from"`
	To            tongbao.ID `json:"to"`
	Amount        Amount     `json:"amount"`
	Timestamp     int64      `json:"timestamp"`
	CrossOperator bool       `json:"cross_operator"`
	Window        uint64     `json:"window,omitempty"`
	Duplicate     bool       `json:"duplicate"`
}

// PayBatchMax is the most payments one batch request carries.
const PayBatchMax = 8190

// PayBatch is many payments in one request; each gets its own result.
type PayBatch struct {
	Payments []Pay `json:"payments"`
}

// PayBatchResult is the outcome of one payment of a batch: a Payment or
// a Problem.
type PayBatchResult struct {
	Payment *Payment `json:"payment,omitempty"`
	Problem *Problem `json:"problem,omitempty"`
}

// PayBatchResults answers a batch, in the order of its payments.
type PayBatchResults struct {
	Results []PayBatchResult `json:"results"`
}

// Transfer is one entry of a wallet's history.
type Transfer struct {
	ID        tongbao.ID `json:"id"`
	Kind      string     `json:"kind"`
	Direction string     `json:"direction"` // "in" or "out" for the wallet
	Debit     tongbao.ID `json:"debit_account"`
	Credit    tongbao.ID `json:"credit_account"`
	Amount    Amount     `json:"amount"`
	Timestamp int64      `json:"timestamp"`
	At        time.Time  `json:"at"`
}

// TransferPage is a page of a wallet's history, newest first.
type TransferPage struct {
	Items      []Transfer `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// Window is a settlement window.
type Window struct {
	Number    uint64            `json:"number"`
	Status    string            `json:"status"`
	OpenedAt  time.Time         `json:"opened_at"`
	ClosedAt  *time.Time        `json:"closed_at,omitempty"`
	SettledAt *time.Time        `json:"settled_at,omitempty"`
	Positions map[string]Amount `json:"positions,omitempty"`
}

// WindowPage is a page of settlement windows.
type WindowPage struct {
	Items      []Window `json:"items"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// Settlement answers the closing of a window.
type Settlement struct {
	Window    uint64            `json:"window"`
	Positions map[string]Amount `json:"positions"`
}

// OperatorSupply is one operator's side of the supply check.
type OperatorSupply struct {
	Operator     tongbao.ID `json:"operator"`
	Backing      Amount     `json:"backing"`
	Vault        Amount     `json:"vault"`
	Wallets      Amount     `json:"wallets"`
	Clearing     Amount     `json:"clearing"`
	OfflineFloat Amount     `json:"offline_float"`
	Liabilities  Amount     `json:"liabilities"`
	OK           bool       `json:"ok"`
}

// Supply is the supply check computed from the books.
type Supply struct {
	At        time.Time        `json:"at"`
	Issued    Amount           `json:"issued"`
	Backing   Amount           `json:"backing"`
	Operators []OperatorSupply `json:"operators"`
	OK        bool             `json:"ok"`
}

// SandboxClock is a sandbox node's clock: its time, and how far it runs
// ahead of the machine's (a Go duration, such as "24h0m0s").
type SandboxClock struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"`
}

// AdvanceClock moves a sandbox node's clock forward: By a positive Go
// duration ("24h", "90m"), or To a moment not before its present. Give one.
// A retry of To moves nothing (the clock is past it: refused as going
// backwards); a retry of By moves the clock again.
type AdvanceClock struct {
	By string     `json:"by,omitempty"`
	To *time.Time `json:"to,omitempty"`
}

// Difference is one disagreement found by reconciliation.
type Difference struct {
	Kind       string     `json:"kind"`
	PaymentID  tongbao.ID `json:"payment_id"`
	TransferID tongbao.ID `json:"transfer_id"`
	Window     uint64     `json:"window,omitempty"`
	Ours       Amount     `json:"ours"`
	Theirs     Amount     `json:"theirs"`
	Detail     string     `json:"detail,omitempty"`
}

// Reconciliation is an operator's daily reconciliation report.
type Reconciliation struct {
	Operator    tongbao.ID   `json:"operator"`
	Day         string       `json:"day"`
	Records     int          `json:"records"`
	Transfers   int          `json:"transfers"`
	Settled     []uint64     `json:"settled"`
	Differences []Difference `json:"differences"`
}

// The roles a key carries.
const (
	RoleCentralBank   = "central_bank"
	RoleOperatorAdmin = "operator_admin"
	RoleMerchant      = "merchant"
	RoleHolder        = "holder"
)

// CreateKey asks for a new API key or holder token. The central bank
// creates operator admin keys (Operator set); an operator admin creates
// merchant keys and holder tokens for its own wallets (Wallet set).
type CreateKey struct {
	Role     string      `json:"role"`
	Operator *tongbao.ID `json:"operator,omitempty"`
	Wallet   *tongbao.ID `json:"wallet,omitempty"`
	Name     string      `json:"name,omitempty"`
}

// Key is an API key. Secret is present only in the answer that created
// it: the server keeps only its hash.
type Key struct {
	ID          string      `json:"id"`
	Secret      string      `json:"secret,omitempty"`
	Role        string      `json:"role"`
	Institution *tongbao.ID `json:"institution,omitempty"`
	Wallet      *tongbao.ID `json:"wallet,omitempty"`
	Name        string      `json:"name,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	RevokedAt   *time.Time  `json:"revoked_at,omitempty"`
	// RevokeReason says why, once revoked.
	RevokeReason string `json:"revoke_reason,omitempty"`
}

// KeyList lists keys, never their secrets.
type KeyList struct {
	Items      []Key  `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// RevokeKey revokes a key; the reason is kept with it.
type RevokeKey struct {
	Reason string `json:"reason,omitempty"`
}

// Health answers /healthz and /readyz.
type Health struct {
	Status string `json:"status"`
	// Writer, in /readyz only, says whether this process holds the
	// ledger's writer and so serves writes.
	Writer *bool `json:"writer,omitempty"`
}

// Decode decodes one JSON value strictly: unknown fields, a member named
// twice in one object (names that differ only in case count as the same,
// as encoding/json fills one field with both), strings that are not valid
// UTF-8 and trailing data are errors. Both sides use it, so they agree on
// what is valid.
func Decode(data []byte, v any) error {
	if decodeFast(data, v) {
		return nil
	}
	return decodeStrict(data, v)
}

// decodeStrict is Decode without the fast path: the reference that the
// fast path is checked against.
func decodeStrict(data []byte, v any) error {
	if err := checkStrict(data); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return ErrTrailingData
	}
	return nil
}
