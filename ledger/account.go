package ledger

import (
	tongbao "github.com/tongbao/tongbao"
)

// AccountFlags constrain an account's balance.
type AccountFlags uint16

const (
	// FlagDebitsMustNotExceedCredits keeps a credit-normal account (a
	// liability such as a wallet) at or above minus its credit line: posted
	// and pending debits may not exceed posted credits plus CreditLine.
	FlagDebitsMustNotExceedCredits AccountFlags = 1 << iota
	// FlagCreditsMustNotExceedDebits is the mirror for a debit-normal
	// account (an asset): posted and pending credits may not exceed posted
	// debits plus CreditLine.
	FlagCreditsMustNotExceedDebits
	// FlagDebitsDisabled refuses debits: a receive-only account.
	FlagDebitsDisabled
	// FlagCreditsDisabled refuses credits.
	FlagCreditsDisabled
	// FlagClosed refuses every transfer. Only an account with nothing
	// posted on balance and nothing pending can be closed, and closing is
	// final.
	FlagClosed

	accountFlagsBalance = FlagDebitsMustNotExceedCredits | FlagCreditsMustNotExceedDebits
	accountFlagsState   = FlagDebitsDisabled | FlagCreditsDisabled | FlagClosed
	accountFlagsAll     = accountFlagsBalance | accountFlagsState
)

// Limits caps what an account may hold and spend. Zero means no limit.
// Every limit counts pending amounts, so a hold can never make room that a
// posted transfer would not have.
type Limits struct {
	// BalanceMax caps the balance on the account's normal side, counting
	// pending credits (for a credit-normal account) but not pending debits.
	BalanceMax tongbao.Amount
	// DebitMax caps a single debit: a wallet's single-payment cap.
	DebitMax tongbao.Amount
	// DailyDebitMax and YearlyDebitMax cap the debits authorised in one
	// calendar day and one calendar year of the ledger's time zone. A debit
	// counts towards the day its transfer (or hold) was made; voiding a hold
	// the same day gives the room back.
	DailyDebitMax  tongbao.Amount
	YearlyDebitMax tongbao.Amount
}

// Account is a ledger account: what the engine knows of a wallet, a vault,
// a reserve or any other pot of money. Its id, currency, code and balance
// flags are set at creation; its state flags, freeze, credit line and
// limits change only through UpdateAccounts, in the writer's order.
type Account struct {
	ID       tongbao.ID
	Currency tongbao.Currency
	// Code is the kind of account, chosen by the domain (wallet, vault, ...).
	Code  uint16
	Flags AccountFlags
	// CreditLine is how far past zero the flagged side may go: the floor.
	CreditLine tongbao.Amount
	Limits     Limits
	// FrozenUntil refuses every transfer until this moment (Unix
	// nanoseconds): a freeze that lifts by itself.
	FrozenUntil int64
	// Timestamp is assigned by the engine when the account is created.
	Timestamp int64
}

// creditNormal reports whether the account's balance is credits minus debits.
func (a *Account) creditNormal() bool { return a.Flags&FlagCreditsMustNotExceedDebits == 0 }

// Balance is an account's money, posted and pending kept apart.
type Balance struct {
	DebitsPending  tongbao.Amount
	DebitsPosted   tongbao.Amount
	CreditsPending tongbao.Amount
	CreditsPosted  tongbao.Amount
}

// Net returns posted credits minus posted debits: what a credit-normal
// account holds, and the negative of what a debit-normal one holds.
func (b Balance) Net() tongbao.Amount { return b.CreditsPosted - b.DebitsPosted }

// Available returns what a credit-normal account may still spend before its
// floor: posted credits minus posted and pending debits.
func (b Balance) Available() tongbao.Amount {
	return b.CreditsPosted - b.DebitsPosted - b.DebitsPending
}

// Counters are the debits an account has authorised in the current day and
// year, kept by the engine for the daily and yearly limits.
type Counters struct {
	Day        int32 // yyyymmdd in the ledger's time zone
	DayDebits  tongbao.Amount
	Year       int32
	YearDebits tongbao.Amount
}

// AccountRecord is an account with its balances and counters, as stored.
type AccountRecord struct {
	Account
	Balance
	Counters
	// LastTransfer is the timestamp of the latest transfer on the account,
	// zero if none: the head of its history.
	LastTransfer int64
	// Checkpoint is the timestamp up to which the stored balances include
	// the account's transfers; the engine replays the later ones on start.
	Checkpoint int64
}

// AccountUpdate changes an account's state and limits. Nil fields are left
// as they are; the update is applied whole or not at all.
type AccountUpdate struct {
	ID tongbao.ID
	// SetFlags and ClearFlags change the state flags (DebitsDisabled,
	// CreditsDisabled, Closed); the balance flags never change.
	SetFlags, ClearFlags AccountFlags
	FrozenUntil          *int64
	CreditLine           *tongbao.Amount
	Limits               *Limits
	// WithinLimits refuses new limits that the account's present balance
	// or today's and this year's debits already exceed (ErrLimitExceeded),
	// so a downgrade cannot leave an account past its caps.
	WithinLimits bool
}
