package wire

import (
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// The shapes of dual-offline payments. The protocol's signed objects
// (certificates, vouchers, tokens, acknowledgements, revocation lists)
// are CBOR; in JSON each travels as base64url without padding, and is
// passed on to the device as it came. Hashes (a token's, a key id) are
// hex.

// CertifyDevice asks for a device key's certificate: Device is the id the
// device made for itself, Wallet the wallet it spends from, PublicKey its
// Ed25519 public key, 32 bytes in base64url (padded or not) or hex.
type CertifyDevice struct {
	Device    tongbao.ID `json:"device"`
	Wallet    tongbao.ID `json:"wallet"`
	PublicKey string     `json:"public_key"`
}

// OfflineCaps are the limits a device is certified with: the most one
// payment carries, the most its purse holds, and how many payments it may
// sign before it must sync.
type OfflineCaps struct {
	PerPayment Amount `json:"per_payment"`
	Balance    Amount `json:"balance"`
	Payments   int    `json:"payments"`
}

// OfflineDevice is a device as the ledger knows it: its state, its caps,
// its latest certificate, and its purse as the ledger sees it (Purse =
// Loaded − Unloaded − Spent − Returned). Advanced is what its operator
// paid for its double spends. Vouchers is the Seq of its last load
// voucher; Acked the counter up to which the ledger holds every token it
// signed. The answer to a certification also carries what the device
// installs with its certificate: every operator's public keys and
// revocation lists.
type OfflineDevice struct {
	ID              tongbao.ID   `json:"id"`
	Wallet          tongbao.ID   `json:"wallet"`
	Operator        tongbao.ID   `json:"operator"`
	PublicKey       string       `json:"public_key"`
	State           string       `json:"state"`
	Reason          string       `json:"reason,omitempty"`
	Caps            OfflineCaps  `json:"caps"`
	Certificate     string       `json:"certificate"`
	CertExpires     time.Time    `json:"cert_expires"`
	Purse           Amount       `json:"purse"`
	Loaded          Amount       `json:"loaded"`
	Unloaded        Amount       `json:"unloaded"`
	Spent           Amount       `json:"spent"`
	Returned        Amount       `json:"returned"`
	Advanced        Amount       `json:"advanced"`
	Vouchers        uint64       `json:"vouchers"`
	Acked           uint64       `json:"acked"`
	ReturnAt        *time.Time   `json:"return_at,omitempty"`
	CreatedAt       time.Time    `json:"created_at"`
	UpdatedAt       time.Time    `json:"updated_at"`
	OperatorKeys    []OfflineKey `json:"operator_keys,omitempty"`
	RevocationLists []string     `json:"revocation_lists,omitempty"`
}

// OfflineDevicePage is a page of devices, by id.
type OfflineDevicePage struct {
	Items      []OfflineDevice `json:"items"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// LoadOfflineDevice moves an amount from a device's wallet to its purse.
type LoadOfflineDevice struct {
	Amount Amount `json:"amount"`
}

// OfflineLoad is a load of a device's purse: pending, done (with the
// voucher the device accepts, numbered Seq) or failed (Problem says why).
// Its id is the ledger transfer's, derived from the Idempotency-Key.
type OfflineLoad struct {
	ID        tongbao.ID `json:"id"`
	Device    tongbao.ID `json:"device"`
	Amount    Amount     `json:"amount"`
	Status    string     `json:"status"`
	Seq       uint64     `json:"seq,omitempty"`
	Voucher   string     `json:"voucher,omitempty"`
	Problem   string     `json:"problem,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// OfflineVoucherList is a device's done loads after a Seq, by Seq.
type OfflineVoucherList struct {
	Items []OfflineLoad `json:"items"`
}

// OfflineTokens is a batch of signed tokens to settle.
type OfflineTokens struct {
	Tokens []string `json:"tokens"`
}

// OfflineTokenResult is the outcome of one uploaded token: Result is
// settled, pending, duplicate, refused or rejected; Problem, for a token
// refused or rejected (or pending because the ledger refused it for
// now), the problem type that says why, and Detail its message. Status
// and Source are the stored token's (pending, settled or rejected; purse
// or operator); Case the fraud case it belongs to.
type OfflineTokenResult struct {
	Hash    string      `json:"hash"`
	Result  string      `json:"result"`
	Problem string      `json:"problem,omitempty"`
	Detail  string      `json:"detail,omitempty"`
	Payer   *tongbao.ID `json:"payer,omitempty"`
	Payee   *tongbao.ID `json:"payee,omitempty"`
	Counter uint64      `json:"counter,omitempty"`
	Amount  *Amount     `json:"amount,omitempty"`
	Status  string      `json:"status,omitempty"`
	Source  string      `json:"source,omitempty"`
	Case    *tongbao.ID `json:"case,omitempty"`
}

// OfflineSync answers a device's sync: each token's outcome in the order
// uploaded; Ack, the signed acknowledgement of the device's own tokens
// (with a renewed certificate when its own nears expiry); Decided, the
// hashes of the tokens the ledger has decided, which the device drops
// from its inbox; and the operator keys and revocation lists of the
// moment.
type OfflineSync struct {
	Results         []OfflineTokenResult `json:"results"`
	Ack             string               `json:"ack"`
	Decided         []string             `json:"decided"`
	OperatorKeys    []OfflineKey         `json:"operator_keys"`
	RevocationLists []string             `json:"revocation_lists"`
}

// OfflineUpload answers a bulk upload: each token's outcome in the order
// uploaded.
type OfflineUpload struct {
	Results []OfflineTokenResult `json:"results"`
}

// OfflineKey is the public half of an operator's signing key: KeyID is
// hex, PublicKey base64url.
type OfflineKey struct {
	Operator  tongbao.ID `json:"operator"`
	KeyID     string     `json:"key_id"`
	PublicKey string     `json:"public_key"`
	CreatedAt time.Time  `json:"created_at"`
}

// OfflineKeyList is every operator's public keys, oldest first: what
// devices pin.
type OfflineKeyList struct {
	Keys []OfflineKey `json:"keys"`
}

// OfflineRevocations is every operator's latest signed revocation list.
type OfflineRevocations struct {
	Lists []string `json:"lists"`
}

// OfflineCase is a fraud case: what the ledger found a device did
// (Findings: a kind and a counter, "offline-double-spend@7"), the tokens
// involved (hex hashes), and what the loss policy did: Advanced is what
// the operator paid past the device's purse, Recovered what it took back
// from the holder's wallet, Refused what payees presented and were not
// paid; Loss = Advanced − Recovered is the operator's.
type OfflineCase struct {
	ID        tongbao.ID `json:"id"`
	Device    tongbao.ID `json:"device"`
	Operator  tongbao.ID `json:"operator"`
	Wallet    tongbao.ID `json:"wallet"`
	Findings  []string   `json:"findings"`
	Tokens    []string   `json:"tokens"`
	Advanced  Amount     `json:"advanced"`
	Recovered Amount     `json:"recovered"`
	Refused   Amount     `json:"refused"`
	Loss      Amount     `json:"loss"`
	Status    string     `json:"status"`
	Note      string     `json:"note,omitempty"`
	OpenedAt  time.Time  `json:"opened_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// OfflineCasePage is a page of fraud cases, by id.
type OfflineCasePage struct {
	Items      []OfflineCase `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// CloseOfflineCase closes a fraud case with the operator's note.
type CloseOfflineCase struct {
	Note string `json:"note"`
}
