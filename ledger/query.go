package ledger

import (
	"context"
	"fmt"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// Queries read what has been committed: the accounts from memory (see
// committed), transfers and histories from the store. A caller that was
// answered sees its transfers, and nobody sees a batch that might still
// fail to commit.

// AccountTransfersMax is the most transfers one page of history returns.
const AccountTransfersMax = 1000

// Account returns an account with its balances and counters, or
// ErrAccountNotFound.
func (l *Ledger) Account(ctx context.Context, id tongbao.ID) (AccountRecord, error) {
	a, ok := l.committed.get(id)
	if !ok {
		return AccountRecord{}, ErrAccountNotFound
	}
	return a, nil
}

// Accounts returns the accounts named, all as of the same commit, so sums
// over them (a supply check, say) are exact while money moves.
// ErrAccountNotFound if one is unknown.
func (l *Ledger) Accounts(ctx context.Context, ids []tongbao.ID) ([]AccountRecord, error) {
	out := make([]AccountRecord, len(ids))
	l.committed.mu.RLock()
	defer l.committed.mu.RUnlock()
	for k, id := range ids {
		i, ok := l.committed.index[id]
		if !ok || int(i) >= len(l.committed.accounts) {
			return nil, ErrAccountNotFound
		}
		out[k] = l.committed.accounts[i]
	}
	return out, nil
}

// LookupTransfer returns a posted transfer, or ErrTransferNotFound.
func (l *Ledger) LookupTransfer(ctx context.Context, id tongbao.ID) (Transfer, error) {
	return l.store.Transfer(ctx, id)
}

// AccountTransfers returns a page of the account's transfers, newest first,
// and the cursor of the next page (zero when there is none). Pass cursor
// zero for the first page, and after that only a cursor it returned.
func (l *Ledger) AccountTransfers(ctx context.Context, account tongbao.ID, cursor int64, limit int) ([]Transfer, int64, error) {
	if limit <= 0 || limit > AccountTransfersMax {
		limit = AccountTransfersMax
	}
	if cursor < 0 {
		return nil, 0, tongbao.Errorf(tongbao.EINVALID, "cursor must not be negative")
	}
	a, err := l.Account(ctx, account)
	if err != nil {
		return nil, 0, err
	}
	from := cursor
	if from == 0 {
		from = a.LastTransfer
	}
	ts, err := l.store.AccountHistory(ctx, account, from, limit)
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(ts) == limit {
		next = ts[len(ts)-1].PreviousOn(account)
	}
	return ts, next, nil
}

// PreviousOn returns the timestamp of the transfer before t on account:
// the link of t on that account's side.
func (t *Transfer) PreviousOn(account tongbao.ID) int64 {
	if t.DebitAccountID == account {
		return t.DebitPrevious
	}
	return t.CreditPrevious
}

// CheckHistory checks a page of an account's history as a store walked it:
// it starts at from, follows the account's links, and stops only at the
// limit or at the account's first transfer. Stores run it on every walk,
// so a broken chain is an error, never a silently short history.
func CheckHistory(account tongbao.ID, from int64, limit int, transfers []Transfer) error {
	if len(transfers) > limit {
		return fmt.Errorf("%d transfers for a limit of %d", len(transfers), limit)
	}
	next := from
	for i := range transfers {
		t := &transfers[i]
		if t.Timestamp != next {
			return fmt.Errorf("account %v: transfer %d where its link leads to %d", account, t.Timestamp, next)
		}
		if t.DebitAccountID != account && t.CreditAccountID != account {
			return fmt.Errorf("account %v: its link leads to transfer %d of other accounts", account, t.Timestamp)
		}
		next = t.PreviousOn(account)
	}
	if len(transfers) > 0 && len(transfers) < limit && next != 0 {
		return fmt.Errorf("account %v: history breaks at %d, where no transfer of the account is", account, next)
	}
	return nil
}

// BalanceAt returns the account's balance as it was at moment at: its
// balance now, less the effects of its transfers since. It costs one read
// per transfer on the account after at.
func (l *Ledger) BalanceAt(ctx context.Context, account tongbao.ID, at time.Time) (Balance, error) {
	// The balance and the history are read apart; the balance's head pins
	// the walk to the transfers it includes, whatever commits meanwhile.
	a, err := l.Account(ctx, account)
	if err != nil {
		return Balance{}, err
	}
	b := a.Balance
	until := at.UnixNano()
	for from := a.LastTransfer; from > until; {
		ts, err := l.store.AccountHistory(ctx, account, from, AccountTransfersMax)
		if err != nil {
			return Balance{}, err
		}
		if len(ts) == 0 {
			return Balance{}, tongbao.Errorf(tongbao.EINTERNAL, "history of account %v breaks at %d", account, from)
		}
		for i := range ts {
			if ts[i].Timestamp <= until {
				return b, nil
			}
			undoOnBalance(&b, account, &ts[i])
		}
		from = ts[len(ts)-1].PreviousOn(account)
	}
	return b, nil
}

// undoOnBalance takes one stored transfer's effect on account out of b.
func undoOnBalance(b *Balance, account tongbao.ID, t *Transfer) {
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
		b.DebitsPending -= pendingDelta
		b.DebitsPosted -= postedDelta
	}
	if t.CreditAccountID == account {
		b.CreditsPending -= pendingDelta
		b.CreditsPosted -= postedDelta
	}
}
