package ledger

import (
	"encoding/binary"
	"hash/fnv"

	tongbao "github.com/tongbao/tongbao"
)

// TransferFlags say what kind of transfer it is.
type TransferFlags uint16

const (
	// FlagLinked ties a transfer to the next one in the same request: a run
	// of linked transfers, closed by the first one without the flag, all
	// succeed or all fail.
	FlagLinked TransferFlags = 1 << iota
	// FlagPending makes a hold: the amount is reserved on both accounts
	// until it is posted, voided or expires at its Timeout.
	FlagPending
	// FlagPostPending posts the hold named by PendingID, for its full amount
	// (Amount zero) or less (the rest is released).
	FlagPostPending
	// FlagVoidPending releases the hold named by PendingID.
	FlagVoidPending
	// FlagExpired marks the record the engine writes when a hold times out;
	// clients may not set it. Such a record has a zero ID.
	FlagExpired

	transferFlagsClient = FlagLinked | FlagPending | FlagPostPending | FlagVoidPending
)

// MetadataMax is the longest metadata a transfer may carry, in bytes.
const MetadataMax = 256

// Transfer moves Amount from the debit account to the credit account, or
// makes, posts or voids a hold. Transfers are immutable once posted: a
// correction is a new transfer.
type Transfer struct {
	// ID is chosen by the client and makes the transfer idempotent.
	ID              tongbao.ID
	DebitAccountID  tongbao.ID
	CreditAccountID tongbao.ID
	Amount          tongbao.Amount
	// PendingID names the hold that a post or void resolves.
	PendingID tongbao.ID
	// TimeoutSeconds is how long a hold waits before the engine voids it;
	// zero means it waits until posted or voided.
	TimeoutSeconds uint32
	Code           uint16
	Flags          TransferFlags
	Metadata       string
	// Timestamp is assigned by the engine: Unix nanoseconds, strictly
	// increasing across the ledger, unique per transfer.
	Timestamp int64
	// PendingAmount is, on a post or void, the amount of the hold it
	// resolved; set by the engine.
	PendingAmount tongbao.Amount
	// DebitPrevious and CreditPrevious are the timestamps of the previous
	// transfers on the debit and the credit account (zero if none), set by
	// the engine: each account's history is a chain through the
	// append-only transfers, so no index is ever written at a random place.
	DebitPrevious  int64
	CreditPrevious int64
}

// contentHash fingerprints what the client sent, so that a resubmission
// with the same id can be told apart from a different transfer under it.
func (t *Transfer) contentHash() uint64 {
	h := fnv.New64a()
	var b [16 + 16 + 8 + 16 + 4 + 2 + 2]byte
	copy(b[0:], t.DebitAccountID[:])
	copy(b[16:], t.CreditAccountID[:])
	binary.BigEndian.PutUint64(b[32:], uint64(t.Amount))
	copy(b[40:], t.PendingID[:])
	binary.BigEndian.PutUint32(b[56:], t.TimeoutSeconds)
	binary.BigEndian.PutUint16(b[60:], t.Code)
	binary.BigEndian.PutUint16(b[62:], uint16(t.Flags))
	h.Write(b[:])
	h.Write([]byte(t.Metadata))
	return h.Sum64()
}

// Result is the outcome of one transfer.
type Result struct {
	// Timestamp is the transfer's timestamp when it succeeded.
	Timestamp int64
	// Err is nil on success, or one of the errors of this package (test
	// with errors.Is).
	Err error
	// Duplicate is true when the transfer had been submitted before with the
	// same content and this is its first result again.
	Duplicate bool
}

// PostedTransfer is a transfer as the writer hands it to the store.
type PostedTransfer struct {
	Transfer
	Hash uint64
}

// Failure is a transfer that failed, recorded so that its id keeps failing
// the same way: a retry can never turn an answered failure into a payment.
type Failure struct {
	Transfer
	Hash      uint64
	Result    ResultCode
	Timestamp int64
}

// Hold is an open pending transfer, as the store keeps it.
type Hold struct {
	// Timestamp is the pending transfer's timestamp.
	Timestamp int64
	// ExpiresAt is Unix nanoseconds, or zero for a hold without timeout.
	ExpiresAt int64
}
