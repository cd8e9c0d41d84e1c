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
	ErrLimitExceeded = tongbao.Errorf(tongbao.EUNPROCESSABLE, "limit exceeded")

	ErrIDZero                 = tongbao.Errorf(tongbao.EINVALID, "id must not be zero")
	ErrIDConflict             = tongbao.Errorf(tongbao.ECONFLICT, "id already used with different content")
	ErrFlagsInvalid           = tongbao.Errorf(tongbao.EINVALID, "flags are invalid")
	ErrAmountInvalid          = tongbao.Errorf(tongbao.EINVALID, "amount must be greater than zero")
	ErrMetadataTooLong        = tongbao.Errorf(tongbao.EINVALID, "metadata is longer than 256 bytes")
	ErrTimeoutInvalid         = tongbao.Errorf(tongbao.EINVALID, "a timeout is only allowed on a pending transfer")
	ErrSameAccount            = tongbao.Errorf(tongbao.EINVALID, "debit and credit accounts are the same")
	ErrDebitAccountNotFound   = tongbao.Errorf(tongbao.ENOTFOUND, "debit account not found")
	ErrCreditAccountNotFound  = tongbao.Errorf(tongbao.ENOTFOUND, "credit account not found")
	ErrCurrencyMismatch       = tongbao.Errorf(tongbao.EINVALID, "accounts have different currencies")
	ErrInsufficientFunds      = tongbao.Errorf(tongbao.EUNPROCESSABLE, "insufficient funds")
	ErrCreditsExceedDebits    = tongbao.Errorf(tongbao.EUNPROCESSABLE, "credits would exceed debits")
	ErrBalanceLimit           = &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Message: "balance limit exceeded", Err: ErrLimitExceeded}
	ErrDebitLimit             = &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Message: "single debit limit exceeded", Err: ErrLimitExceeded}
	ErrDailyLimit             = &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Message: "daily debit limit exceeded", Err: ErrLimitExceeded}
	ErrYearlyLimit            = &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Message: "yearly debit limit exceeded", Err: ErrLimitExceeded}
	ErrOverflow               = tongbao.Errorf(tongbao.EUNPROCESSABLE, "a balance would overflow")
	ErrPendingIDZero          = tongbao.Errorf(tongbao.EINVALID, "pending id must not be zero on a post or void")
	ErrPendingNotFound        = tongbao.Errorf(tongbao.ENOTFOUND, "pending transfer not found")
	ErrPendingNotPending      = tongbao.Errorf(tongbao.EINVALID, "the transfer named by pending id is not a hold")
	ErrPendingAlreadyPosted   = tongbao.Errorf(tongbao.ECONFLICT, "hold already posted")
	ErrPendingAlreadyVoided   = tongbao.Errorf(tongbao.ECONFLICT, "hold already voided")
	ErrPendingExpired         = tongbao.Errorf(tongbao.ECONFLICT, "hold expired")
	ErrPendingAccountMismatch = tongbao.Errorf(tongbao.EINVALID, "accounts or currency differ from the hold's")
	ErrPostExceedsPending     = tongbao.Errorf(tongbao.EINVALID, "post amount exceeds the hold")
	ErrLinkedEventFailed      = tongbao.Errorf(tongbao.EUNPROCESSABLE, "another transfer in the linked chain failed")
	ErrLinkedChainOpen        = tongbao.Errorf(tongbao.EINVALID, "the last transfer of a request must not be linked")
	ErrDebitsDisabled         = tongbao.Errorf(tongbao.EFORBIDDEN, "the debit account may not pay")
	ErrCreditsDisabled        = tongbao.Errorf(tongbao.EFORBIDDEN, "the credit account may not receive")
	ErrAccountFrozen          = tongbao.Errorf(tongbao.EFORBIDDEN, "an account is frozen")
	ErrAccountClosed          = tongbao.Errorf(tongbao.EFORBIDDEN, "an account is closed")
)

var resultErrors = [resultCodeCount]error{
	ResultOK:                     nil,
	ResultIDZero:                 ErrIDZero,
	ResultIDConflict:             ErrIDConflict,
	ResultFlagsInvalid:           ErrFlagsInvalid,
	ResultAmountInvalid:          ErrAmountInvalid,
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
	ErrClosed = tongbao.Errorf(tongbao.EUNAVAILABLE, "ledger is closed")
	// ErrNotWriter is answered by a process that does not hold the ledger's
	// writer (another does, by a lease in the database): retry there, or
	// here later.
	ErrNotWriter        = tongbao.Errorf(tongbao.EUNAVAILABLE, "not the writer")
	ErrRequestTooLarge  = tongbao.Errorf(tongbao.EINVALID, "request holds more transfers than the batch maximum")
	ErrAccountNotFound  = tongbao.Errorf(tongbao.ENOTFOUND, "account not found")
	ErrAccountExists    = tongbao.Errorf(tongbao.ECONFLICT, "account id already used with different content")
	ErrAccountInvalid   = tongbao.Errorf(tongbao.EINVALID, "account is invalid")
	ErrTransferNotFound = tongbao.Errorf(tongbao.ENOTFOUND, "transfer not found")
	ErrAccountNotEmpty  = tongbao.Errorf(tongbao.ECONFLICT, "account still holds money or holds")
	ErrAccountReopen    = tongbao.Errorf(tongbao.ECONFLICT, "a closed account cannot be reopened")
)
