package ledger

import (
	"context"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// Queries read the store, which holds exactly what has been acknowledged:
// a caller that was answered sees its transfers, and nobody sees a batch
// that might still fail to commit.

// AccountTransfersMax is the most transfers one page of history returns.
const AccountTransfersMax = 1000

// Account returns an account with its balances and counters, or
// ErrAccountNotFound.
func (l *Ledger) Account(ctx context.Context, id tongbao.ID) (AccountRecord, error) {
	return l.store.Account(ctx, id)
}

// LookupTransfer returns a posted transfer, or ErrTransferNotFound.
func (l *Ledger) LookupTransfer(ctx context.Context, id tongbao.ID) (Transfer, error) {
	return l.store.Transfer(ctx, id)
}

// AccountTransfers returns a page of the account's transfers, newest first,
// and the cursor of the next page (zero when there is none). Pass cursor
// zero for the first page.
func (l *Ledger) AccountTransfers(ctx context.Context, account tongbao.ID, cursor int64, limit int) ([]Transfer, int64, error) {
	if limit <= 0 || limit > AccountTransfersMax {
		limit = AccountTransfersMax
	}
	if _, err := l.store.Account(ctx, account); err != nil {
		return nil, 0, err
	}
	ts, err := l.store.AccountTransfers(ctx, account, cursor, limit+1)
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(ts) > limit {
		ts = ts[:limit]
		next = ts[limit-1].Timestamp
	}
	return ts, next, nil
}

// BalanceAt returns the account's balance as it was at moment at: the sum of
// the effects of its transfers up to then.
func (l *Ledger) BalanceAt(ctx context.Context, account tongbao.ID, at time.Time) (Balance, error) {
	if _, err := l.store.Account(ctx, account); err != nil {
		return Balance{}, err
	}
	var b Balance
	err := l.store.ScanAccountTransfers(ctx, account, at.UnixNano(), func(t Transfer) error {
		applyToBalance(&b, account, &t)
		return nil
	})
	return b, err
}

// applyToBalance adds one stored transfer's effect on account to b.
func applyToBalance(b *Balance, account tongbao.ID, t *Transfer) {
	var pendingDelta, postedDelta tongbao.Amount
	switch {
	case t.Flags&FlagPending != 0:
		pendingDelta = t.Amount
	case t.Flags&FlagVoidPending != 0:
		pendingDelta = -t.PendingAmount
	case t.Flags&FlagPostPending != 0:
		pendingDelta = -t.PendingAmount
		postedDelta = t.Amount
	default:
		postedDelta = t.Amount
	}
	if t.DebitAccountID == account {
		b.DebitsPending += pendingDelta
		b.DebitsPosted += postedDelta
	}
	if t.CreditAccountID == account {
		b.CreditsPending += pendingDelta
		b.CreditsPosted += postedDelta
	}
}
