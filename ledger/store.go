package ledger

import (
	"context"

	tongbao "github.com/tongbao/tongbao"
)

// Batch is everything one group commit writes: it commits whole or not at all.
type Batch struct {
	// Accounts are created.
	Accounts []AccountRecord
	// Transfers are appended, in timestamp order.
	Transfers []PostedTransfer
	// Failures are recorded against their ids.
	Failures []Failure
	// Balances replace the balances, counters, history heads and
	// checkpoints of some accounts. Balance rows are written lazily: a row
	// may lag its account, by transfers that are all stored and that the
	// engine replays from ReplayFrom on start.
	Balances []AccountRecord
	// ReplayFrom is the timestamp from which the transfers must be replayed
	// over the stored balance rows to rebuild every account.
	ReplayFrom int64
	// Updated replace the state flags, freeze, credit line and limits of
	// the accounts changed by UpdateAccounts, and nothing else: their
	// balances are written, lazily, through Balances.
	Updated []AccountRecord
	// HoldsOpened and HoldsClosed keep the set of open holds.
	HoldsOpened []Hold
	HoldsClosed []int64
}

// IDRecord is what the store knows of a used transfer id.
type IDRecord struct {
	Hash      uint64
	Timestamp int64      // of the transfer, or of the failure
	Result    ResultCode // ResultOK for a transfer that was posted
}

// Store is the durable state of one ledger. The writer is its only writer;
// the query methods may run concurrently with Commit.
type Store interface {
	// Commit writes the batch in one transaction and returns once it is
	// durable (it survives a crash of the process or of the machine).
	Commit(ctx context.Context, b *Batch) error

	// LoadAccounts calls fn for every account, in no particular order.
	LoadAccounts(ctx context.Context, fn func(AccountRecord) error) error
	// LoadHolds calls fn for every open hold's pending transfer, with its expiry.
	LoadHolds(ctx context.Context, fn func(Transfer, int64) error) error
	// LoadIDs calls fn for every transfer and failure id.
	LoadIDs(ctx context.Context, fn func(tongbao.ID) error) error
	// LastTimestamp returns the largest timestamp stored, or zero.
	LastTimestamp(ctx context.Context) (int64, error)
	// ReplayFrom returns the ReplayFrom of the last batch committed, or zero.
	ReplayFrom(ctx context.Context) (int64, error)
	// ScanTransfers calls fn for every stored transfer with a timestamp at
	// or after from, oldest first.
	ScanTransfers(ctx context.Context, from int64, fn func(Transfer) error) error

	// LookupID returns what is stored under a transfer id; ok is false if none.
	LookupID(ctx context.Context, id tongbao.ID) (rec IDRecord, ok bool, err error)
	// Resolution returns the flags of the transfer that resolved a hold;
	// ok is false when the hold has not been resolved.
	Resolution(ctx context.Context, pendingID tongbao.ID) (flags TransferFlags, ok bool, err error)
	// Account returns an account with its balances; ErrAccountNotFound if none.
	Account(ctx context.Context, id tongbao.ID) (AccountRecord, error)
	// Transfer returns a posted transfer; ErrTransferNotFound if none.
	Transfer(ctx context.Context, id tongbao.ID) (Transfer, error)
	// AccountHistory returns up to limit transfers of the account, newest
	// first, starting with the transfer at timestamp from (which touches the
	// account) and following the account's previous links. from <= 0 returns
	// nothing.
	AccountHistory(ctx context.Context, account tongbao.ID, from int64, limit int) ([]Transfer, error)

	Close() error
}
