package offline

import (
	"context"
	"crypto/ed25519"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// DeviceState is where a device is in its lifecycle.
type DeviceState string

// The states of a device.
const (
	// DeviceActive: certified; loads, and its tokens settle.
	DeviceActive DeviceState = "active"
	// DeviceSuspended: reported lost from another channel, or frozen by a
	// fraud case. No loads and no new certificate; tokens it signed still
	// settle from its purse (they may be honest payments made before).
	DeviceSuspended DeviceState = "suspended"
	// DeviceRevoked: its key is taken for compromised. It is on the
	// operator's revocation list, and the ledger settles none of its
	// tokens not settled before: they cannot be told from forgeries.
	DeviceRevoked DeviceState = "revoked"
	// DeviceDecommissioned: retired by its holder. Its tokens keep
	// settling until ReturnAt; then what is left of its purse returns to
	// the wallet, and any later token is a double spend.
	DeviceDecommissioned DeviceState = "decommissioned"
)

// Device is what the ledger knows of a device.
type Device struct {
	ID       tongbao.ID
	Wallet   tongbao.ID
	Operator tongbao.ID
	Key      ed25519.PublicKey
	Caps     Caps
	State    DeviceState
	Reason   string
	// Certificate is the latest certificate issued; CertExpires its end.
	Certificate []byte
	CertExpires time.Time
	// The purse as the ledger sees it: Loaded − Unloaded − Spent −
	// Returned is what the float still holds for the device (Purse).
	Loaded   tongbao.Amount
	Unloaded tongbao.Amount
	Spent    tongbao.Amount
	Returned tongbao.Amount
	// Advanced is what the operator paid for the device's tokens beyond
	// its purse, under the loss policy.
	Advanced tongbao.Amount
	// Vouchers is how many load vouchers were issued (the last Seq).
	Vouchers uint64
	// Acked is the counter up to which the ledger holds every token the
	// device signed.
	Acked uint64
	// ReturnAt is, for a decommissioned device, when its purse returns.
	ReturnAt  time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version counts the record's updates: UpdateDevice compares it.
	Version int64
}

// Purse is what the float still holds for the device.
func (d Device) Purse() tongbao.Amount { return d.Loaded - d.Unloaded - d.Spent - d.Returned }

// LoadStatus is where a load is.
type LoadStatus string

// The statuses of a load.
const (
	LoadPending LoadStatus = "pending" // recorded; the ledger not yet known to have moved
	LoadDone    LoadStatus = "done"    // moved and its voucher signed
	LoadFailed  LoadStatus = "failed"  // the ledger refused it: nothing moved
)

// Load is one load of a device's purse from its wallet.
type Load struct {
	ID     tongbao.ID // the caller's idempotency id, also the ledger transfer's
	Device tongbao.ID
	Amount tongbao.Amount
	Status LoadStatus
	// Problem is, for a failed load, why (an error kind).
	Problem string
	// Seq and Voucher are set once done.
	Seq       uint64
	Voucher   []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TokenStatus is where a token is at the ledger.
type TokenStatus string

// The statuses of a token the ledger stored.
const (
	// TokenPending: accepted and its source decided; the ledger not yet
	// known to have paid the payee.
	TokenPending TokenStatus = "pending"
	// TokenSettled: the payee was credited.
	TokenSettled TokenStatus = "settled"
	// TokenRejected: a conflicting token the loss policy does not
	// honour; nothing was credited for it.
	TokenRejected TokenStatus = "rejected"
)

// Source says where a settled token's money came from.
type Source string

// The sources of a token's money.
const (
	// SourcePurse: the device's purse in the float.
	SourcePurse Source = "purse"
	// SourceOperator: the operator's vault, under the loss policy (a
	// double spend past the purse).
	SourceOperator Source = "operator"
)

// TokenRecord is a token the ledger stored.
type TokenRecord struct {
	Hash        Hash
	Payer       tongbao.ID
	Counter     uint64
	Prev        Hash
	Payee       tongbao.ID // the payee device
	PayeeWallet tongbao.ID
	Amount      tongbao.Amount
	Kind        TokenKind
	Status      TokenStatus
	Source      Source
	// Case is the fraud case the token belongs to, if any.
	Case tongbao.ID
	// Problem is, for a rejected token, why (an error kind).
	Problem    string
	Raw        []byte
	UploadedAt time.Time
	SettledAt  time.Time
}

// TokenLink is what links a stored token into its payer's chain.
type TokenLink struct {
	Counter uint64
	Hash    Hash
	Prev    Hash
}

// CaseStatus is where a fraud case is.
type CaseStatus string

// The statuses of a fraud case.
const (
	CaseOpen   CaseStatus = "open"
	CaseClosed CaseStatus = "closed"
)

// Case is a fraud case: what the ledger found a device did, and what the
// loss policy did about it.
type Case struct {
	ID       tongbao.ID
	Device   tongbao.ID
	Operator tongbao.ID
	Wallet   tongbao.ID
	// Findings lists what was found, in the order found (an error kind
	// and the counter: "offline-double-spend@7").
	Findings []string
	// Tokens are the hashes of the tokens involved.
	Tokens []Hash
	// Advanced is what the operator paid payees past the device's purse;
	// Recovered what it took back from the holder's wallet; Refused what
	// payees presented and were not paid. Loss = Advanced − Recovered is
	// the operator's.
	Advanced  tongbao.Amount
	Recovered tongbao.Amount
	Refused   tongbao.Amount
	Status    CaseStatus
	Note      string
	OpenedAt  time.Time
	UpdatedAt time.Time
	Version   int64
}

// Loss is what the operator bears.
func (c Case) Loss() tongbao.Amount { return c.Advanced - c.Recovered }

// Batch is what one sync writes in one transaction: new tokens, the
// devices they changed and the cases they opened or changed.
type Batch struct {
	Tokens  []TokenRecord
	Devices []Device // each at its Version: stored at Version+1 if the stored is at Version
	Cases   []Case   // a Version of 0 creates the case
	// Settled are pending tokens to mark settled at SettledAt, as
	// SetTokensSettled does: the payments of an earlier batch.
	Settled   []Hash
	SettledAt time.Time
}

// ListMax is the most records one list call returns.
const ListMax = 1000

// Store keeps the offline domain's records. Every method is durable when
// it returns; a refused call changes nothing.
type Store interface {
	// CreateKey stores an operator key (with its private half), or
	// ErrKeyExists if a key with its id is stored.
	CreateKey(ctx context.Context, k OperatorKey) error
	// Keys returns every operator key, oldest first.
	Keys(ctx context.Context) ([]OperatorKey, error)

	// CreateDevice stores a new device at version 1, or ErrDeviceExists.
	CreateDevice(ctx context.Context, d Device) error
	// Device returns a device, or ErrDeviceNotFound.
	Device(ctx context.Context, id tongbao.ID) (Device, error)
	// DevicesByID returns the devices of ids that exist, by id.
	DevicesByID(ctx context.Context, ids []tongbao.ID) (map[tongbao.ID]Device, error)
	// Devices returns up to limit devices of an operator (zero: all) with
	// ids after after, by id.
	Devices(ctx context.Context, operator, after tongbao.ID, limit int) ([]Device, error)
	// DevicesToReturn returns up to limit decommissioned devices whose
	// ReturnAt is at or before t and whose purse is not yet returned.
	DevicesToReturn(ctx context.Context, t time.Time, limit int) ([]Device, error)
	// UpdateDevice stores d at d.Version+1 if the stored version is
	// d.Version, else ErrVersionConflict (ErrDeviceNotFound if none is).
	UpdateDevice(ctx context.Context, d Device) error

	// CreateLoad stores a pending load and returns it with true, or the
	// load stored under its id and false.
	CreateLoad(ctx context.Context, l Load) (Load, bool, error)
	// FinishLoad stores a load's outcome and, in the same transaction,
	// d as UpdateDevice does (ErrVersionConflict storing nothing). A load
	// not pending (finished meanwhile) is refused with ErrVersionConflict.
	FinishLoad(ctx context.Context, l Load, d Device) error
	// Vouchers returns up to limit done loads of a device with a Seq
	// after after, by Seq.
	Vouchers(ctx context.Context, device tongbao.ID, after uint64, limit int) ([]Load, error)
	// PendingLoads returns up to limit pending loads, oldest first.
	PendingLoads(ctx context.Context, limit int) ([]Load, error)

	// WriteBatch stores a sync's batch in one transaction; a device or a
	// case at another version (a new case whose id is stored) refuses it
	// all with ErrVersionConflict; a token whose hash is stored already
	// (or twice in the batch) refuses it all with ErrTokenExists.
	WriteBatch(ctx context.Context, b Batch) error
	// Tokens returns the stored tokens among hashes.
	Tokens(ctx context.Context, hashes []Hash) (map[Hash]TokenRecord, error)
	// TokensOf returns the tokens a device signed with a counter from
	// from to to inclusive, by counter (several for one counter when it
	// double-spent).
	TokensOf(ctx context.Context, payer tongbao.ID, from, to uint64) ([]TokenRecord, error)
	// TokenLinks is TokensOf's links only, by counter then hash: what a
	// chain check reads.
	TokenLinks(ctx context.Context, payer tongbao.ID, from, to uint64) ([]TokenLink, error)
	// SetTokensSettled marks pending tokens settled at t.
	SetTokensSettled(ctx context.Context, hashes []Hash, t time.Time) error
	// PendingTokens returns up to limit pending tokens, oldest first.
	PendingTokens(ctx context.Context, limit int) ([]TokenRecord, error)

	// Case returns a fraud case, or ErrCaseNotFound.
	Case(ctx context.Context, id tongbao.ID) (Case, error)
	// Cases returns up to limit cases of an operator (zero: all) with ids
	// after after, by id.
	Cases(ctx context.Context, operator, after tongbao.ID, limit int) ([]Case, error)
	// UpdateCase stores c at c.Version+1 if the stored version is
	// c.Version, else ErrVersionConflict (ErrCaseNotFound if none is).
	UpdateCase(ctx context.Context, c Case) error

	// SetOperatorCaps stores the caps an operator certifies its devices
	// with, replacing those it set before.
	SetOperatorCaps(ctx context.Context, operator tongbao.ID, c Caps, at time.Time) error
	// OperatorCaps returns the caps every operator that set its own set.
	OperatorCaps(ctx context.Context) (map[tongbao.ID]Caps, error)

	// SaveRevocations stores an operator's signed revocation list,
	// replacing an older one (a lower Seq); a list not newer is refused
	// with ErrVersionConflict.
	SaveRevocations(ctx context.Context, l RevocationList) error
	// Revocations returns every operator's latest list.
	Revocations(ctx context.Context) ([]RevocationList, error)
}

// Errors of the store.
var (
	ErrKeyExists       = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "a key with this id exists")
	ErrDeviceExists    = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "a device with this id exists")
	ErrDeviceNotFound  = tongbao.Sentinel(tongbao.ENOTFOUND, "offline-device-not-found", "no such device")
	ErrCaseNotFound    = tongbao.Sentinel(tongbao.ENOTFOUND, "offline-case-not-found", "no such fraud case")
	ErrVersionConflict = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "the record changed meanwhile; retry")
	ErrTokenExists     = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "a token with this hash is stored")
)
