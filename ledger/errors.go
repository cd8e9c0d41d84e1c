package ledger

import (
	tongbao "github.com/tongbao/tongbao"
)

// ResultCode is the stable number of a transfer's failure, as stored with a
// failed transfer. Never renumber: stored failures refer to these values.
type ResultCode uint16

// Result codes; zero is success.
const (
	ResultOK ResultCode = iota
	ResultIDZero
	ResultIDConflict
	ResultFlagsInvalid
	ResultAmountInvalid
	ResultMetadataTooLong
	ResultTimeoutInvalid
	ResultSameAccount
	ResultDebitAccountNotFound
	ResultCreditAccountNotFound
	ResultCurrencyMismatch
	ResultInsufficientFunds
	ResultCreditsExceedDebits
	ResultBalanceLimit
	ResultDebitLimit
	ResultDailyLimit
	ResultYearlyLimit
	ResultOverflow
	ResultPendingIDZero
	ResultPendingNotFound
	ResultPendingNotPending
	ResultPendingAlreadyPosted
	ResultPendingAlreadyVoided
	ResultPendingExpired
	ResultPendingAccountMismatch
	ResultPostExceedsPending
	ResultLinkedEventFailed
	ResultLinkedChainOpen
	ResultDebitsDisabled
	ResultCreditsDisabled
	ResultAccountFrozen
	ResultAccountClosed
	resultCodeCount
)

// The errors a transfer can fail with. Limits also match ErrLimitExceeded.
var (
	ErrLimitExceeded = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "unprocessable", "limit exceeded")

	ErrIDZero                 = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "id must not be zero")
	ErrFlagsInvalid           = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "flags are invalid")
	ErrMetadataTooLong        = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "metadata is longer than 256 bytes")
	ErrTimeoutInvalid         = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "a timeout is only allowed on a pending transfer")
	ErrSameAccount            = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "debit and credit accounts are the same")
	ErrDebitAccountNotFound   = tongbao.Sentinel(tongbao.ENOTFOUND, "wallet-not-found", "debit account not found")
	ErrCreditAccountNotFound  = tongbao.Sentinel(tongbao.ENOTFOUND, "wallet-not-found", "credit account not found")
	ErrCurrencyMismatch       = tongbao.Sentinel(tongbao.EINVALID, "currency-mismatch", "accounts have different currencies")
	ErrInsufficientFunds      = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "insufficient-funds", "insufficient funds")
	ErrCreditsExceedDebits    = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "unprocessable", "credits would exceed debits")
	ErrBalanceLimit           = &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Kind: "balance-cap-exceeded", Message: "balance limit exceeded", Err: ErrLimitExceeded}
	ErrDebitLimit             = &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Kind: "single-payment-cap-exceeded", Message: "single debit limit exceeded", Err: ErrLimitExceeded}
	ErrDailyLimit             = &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Kind: "daily-cap-exceeded", Message: "daily debit limit exceeded", Err: ErrLimitExceeded}
	ErrYearlyLimit            = &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Kind: "yearly-cap-exceeded", Message: "yearly debit limit exceeded", Err: ErrLimitExceeded}
	ErrOverflow               = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "invalid-amount", "a balance would overflow")
	ErrPendingIDZero          = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "pending id must not be zero on a post or void")
	ErrPendingNotFound        = tongbao.Sentinel(tongbao.ENOTFOUND, "not-found", "pending transfer not found")
	ErrPendingNotPending      = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "the transfer named by pending id is not a hold")
	ErrPendingAlreadyPosted   = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "hold already posted")
	ErrPendingAlreadyVoided   = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "hold already voided")
	ErrPendingExpired         = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "hold expired")
	ErrPendingAccountMismatch = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "accounts or currency differ from the hold's")
	ErrPostExceedsPending     = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "post amount exceeds the hold")
	ErrLinkedEventFailed      = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "unprocessable", "another transfer in the linked chain failed")
	ErrLinkedChainOpen        = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "the last transfer of a request must not be linked")
	ErrDebitsDisabled         = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "wallet-may-not-pay", "the debit account may not pay")
	ErrCreditsDisabled        = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "wallet-may-not-receive", "the credit account may not receive")
	ErrAccountFrozen          = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "wallet-frozen", "an account is frozen")
	ErrAccountClosed          = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "wallet-closed", "an account is closed")
)

var resultErrors = [resultCodeCount]error{
	ResultOK:                     nil,
	ResultIDZero:                 ErrIDZero,
	ResultIDConflict:             tongbao.ErrIDConflict,
	ResultFlagsInvalid:           ErrFlagsInvalid,
	ResultAmountInvalid:          tongbao.ErrAmountInvalid,
	ResultMetadataTooLong:        ErrMetadataTooLong,
	ResultTimeoutInvalid:         ErrTimeoutInvalid,
	ResultSameAccount:            ErrSameAccount,
	ResultDebitAccountNotFound:   ErrDebitAccountNotFound,
	ResultCreditAccountNotFound:  ErrCreditAccountNotFound,
	ResultCurrencyMismatch:       ErrCurrencyMismatch,
	ResultInsufficientFunds:      ErrInsufficientFunds,
	ResultCreditsExceedDebits:    ErrCreditsExceedDebits,
	ResultBalanceLimit:           ErrBalanceLimit,
	ResultDebitLimit:             ErrDebitLimit,
	ResultDailyLimit:             ErrDailyLimit,
	ResultYearlyLimit:            ErrYearlyLimit,
	ResultOverflow:               ErrOverflow,
	ResultPendingIDZero:          ErrPendingIDZero,
	ResultPendingNotFound:        ErrPendingNotFound,
	ResultPendingNotPending:      ErrPendingNotPending,
	ResultPendingAlreadyPosted:   ErrPendingAlreadyPosted,
	ResultPendingAlreadyVoided:   ErrPendingAlreadyVoided,
	ResultPendingExpired:         ErrPendingExpired,
	ResultPendingAccountMismatch: ErrPendingAccountMismatch,
	ResultPostExceedsPending:     ErrPostExceedsPending,
	ResultLinkedEventFailed:      ErrLinkedEventFailed,
	ResultLinkedChainOpen:        ErrLinkedChainOpen,
	ResultDebitsDisabled:         ErrDebitsDisabled,
	ResultCreditsDisabled:        ErrCreditsDisabled,
	ResultAccountFrozen:          ErrAccountFrozen,
	ResultAccountClosed:          ErrAccountClosed,
}

// Err returns the error of a result code, nil for ResultOK.
func (c ResultCode) Err() error {
	if c >= resultCodeCount {
		return tongbao.Errorf(tongbao.EINTERNAL, "unknown result code %d", c)
	}
	return resultErrors[c]
}

// Errors that concern a whole request or account, not one transfer.
var (
	ErrClosed = tongbao.Sentinel(tongbao.EUNAVAILABLE, "unavailable", "ledger is closed")
	// ErrNotWriter is answered by a process that does not hold the ledger's
	// writer (another does, by a lease in the database): retry there, or
	// here later.
	ErrNotWriter        = tongbao.Sentinel(tongbao.EUNAVAILABLE, "not-the-writer", "not the writer")
	ErrRequestTooLarge  = tongbao.Sentinel(tongbao.EINVALID, "request-too-large", "request holds more transfers than the batch maximum")
	ErrAccountNotFound  = tongbao.Sentinel(tongbao.ENOTFOUND, "not-found", "account not found")
	ErrAccountExists    = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "account id already used with different content")
	ErrAccountInvalid   = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "account is invalid")
	ErrTransferNotFound = tongbao.Sentinel(tongbao.ENOTFOUND, "not-found", "transfer not found")
	ErrAccountNotEmpty  = tongbao.Sentinel(tongbao.ECONFLICT, "wallet-not-empty", "account still holds money or holds")
	ErrAccountReopen    = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "a closed account cannot be reopened")
)
