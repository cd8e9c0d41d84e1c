package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// This file is the one place where errors become HTTP: every failure the
// API answers has a stable problem type URI, a title and a status. Clients
// branch on the type; the title and detail are for people.
//
// An error names its problem type by its kind (tongbao.Error.Kind), set
// where the error is defined; an error without a kind is answered by its
// code. So this file knows no domain package: a new domain adds kinds to
// its errors and rows to the table below, and nothing here imports it.

// ProblemBase prefixes every problem type URI.
const ProblemBase = "https://tongbao.dev/problems/"

// RetryAfterSeconds is the Retry-After of every 503 answer: about how
// long a standby takes to notice that the writer gave its lease up.
const RetryAfterSeconds = "1"

// ProblemType is a kind of failure the API answers.
type ProblemType struct {
	Name   string // the last segment of the type URI
	Title  string
	Status int
}

// URI returns the problem type's stable URI.
func (t ProblemType) URI() string { return ProblemBase + t.Name }

// problemTypes is the one table of the problem types the API answers, by
// name: every Problem variable below is a row of it, and an error's kind
// is looked up in it.
var problemTypes = map[string]ProblemType{}

// problem adds a row to problemTypes. A name used twice is a bug that
// would make one of the two rows unreachable: it stops the program at
// start.
func problem(name, title string, status int) ProblemType {
	if _, ok := problemTypes[name]; ok {
		panic("httpapi: problem type " + name + " defined twice")
	}
	t := ProblemType{Name: name, Title: title, Status: status}
	problemTypes[name] = t
	return t
}

// The problem types. Never rename one: clients match on them.
var (
	ProblemMalformedJSON        = problem("malformed-json", "The body is not the JSON this endpoint takes", http.StatusBadRequest)
	ProblemInvalidRequest       = problem("invalid-request", "The request is invalid", http.StatusBadRequest)
	ProblemInvalidAmount        = problem("invalid-amount", "The amount is invalid", http.StatusBadRequest)
	ProblemCurrencyMismatch     = problem("currency-mismatch", "The currency is not the ledger's", http.StatusBadRequest)
	ProblemIdempotencyRequired  = problem("idempotency-key-required", "This request moves money and needs an Idempotency-Key header", http.StatusBadRequest)
	ProblemIdempotencyConflict  = problem("idempotency-key-conflict", "The Idempotency-Key was used with a different request", http.StatusConflict)
	ProblemUnauthorized         = problem("unauthorized", "A valid API key or holder token is required", http.StatusUnauthorized)
	ProblemForbidden            = problem("forbidden", "The caller's role may not do this", http.StatusForbidden)
	ProblemNotFound             = problem("not-found", "No such resource", http.StatusNotFound)
	ProblemWalletNotFound       = problem("wallet-not-found", "No such wallet", http.StatusNotFound)
	ProblemInstitutionNotFound  = problem("institution-not-found", "No such institution", http.StatusNotFound)
	ProblemMethodNotAllowed     = problem("method-not-allowed", "The method is not allowed on this resource", http.StatusMethodNotAllowed)
	ProblemTooLarge             = problem("request-too-large", "The request is too large", http.StatusRequestEntityTooLarge)
	ProblemUnsupportedMediaType = problem("unsupported-media-type", "The body must be sent as application/json", http.StatusUnsupportedMediaType)
	ProblemInsufficientFunds    = problem("insufficient-funds", "Insufficient funds", http.StatusUnprocessableEntity)
	ProblemBalanceCap           = problem("balance-cap-exceeded", "The payee's balance cap would be exceeded", http.StatusUnprocessableEntity)
	ProblemSingleCap            = problem("single-payment-cap-exceeded", "The single-payment cap would be exceeded", http.StatusUnprocessableEntity)
	ProblemDailyCap             = problem("daily-cap-exceeded", "The daily payment cap would be exceeded", http.StatusUnprocessableEntity)
	ProblemYearlyCap            = problem("yearly-cap-exceeded", "The yearly payment cap would be exceeded", http.StatusUnprocessableEntity)
	ProblemNetDebitCap          = problem("net-debit-cap-exceeded", "The payer operator's net debit cap would be breached", http.StatusUnprocessableEntity)
	ProblemWalletClosed         = problem("wallet-closed", "The wallet is closed", http.StatusUnprocessableEntity)
	ProblemWalletFrozen         = problem("wallet-frozen", "The wallet is frozen", http.StatusUnprocessableEntity)
	ProblemDebitsDisabled       = problem("wallet-may-not-pay", "The paying wallet may not pay in its state", http.StatusUnprocessableEntity)
	ProblemCreditsDisabled      = problem("wallet-may-not-receive", "The receiving wallet may not receive in its state", http.StatusUnprocessableEntity)
	ProblemWalletNotEmpty       = problem("wallet-not-empty", "The wallet still holds money", http.StatusConflict)
	ProblemCategoryChange       = problem("category-change-refused", "The category change is refused", http.StatusUnprocessableEntity)
	ProblemConflict             = problem("conflict", "The request conflicts with the present state", http.StatusConflict)
	ProblemUnprocessable        = problem("unprocessable", "The rules refuse the request", http.StatusUnprocessableEntity)
	ProblemUnavailable          = problem("unavailable", "Try again later", http.StatusServiceUnavailable)
	ProblemNotWriter            = problem("not-the-writer", "This process does not hold the ledger's writer; retry, here or at the process that does", http.StatusServiceUnavailable)
	ProblemInternal             = problem("internal", "Internal error", http.StatusInternalServerError)
	ProblemSandboxDisabled      = problem("sandbox-disabled", "The node is not in sandbox mode: its clock cannot be read or moved", http.StatusConflict)
	ProblemClockBackwards       = problem("sandbox-clock-backwards", "The sandbox clock never goes backwards", http.StatusConflict)

	ProblemNotMerchantWallet    = problem("not-a-merchant-wallet", "The wallet is not a merchant wallet", http.StatusBadRequest)
	ProblemRequestNotFound      = problem("payment-request-not-found", "No such payment request", http.StatusNotFound)
	ProblemOrderIDTaken         = problem("order-id-taken", "The merchant already has a payment request with this order id", http.StatusConflict)
	ProblemRequestPaid          = problem("payment-request-paid", "The payment request is already paid", http.StatusConflict)
	ProblemRequestExpired       = problem("payment-request-expired", "The payment request has expired", http.StatusConflict)
	ProblemRequestCancelled     = problem("payment-request-cancelled", "The payment request was cancelled", http.StatusConflict)
	ProblemRequestInProgress    = problem("payment-request-in-progress", "Another wallet is paying the payment request", http.StatusConflict)
	ProblemRequestNotPaid       = problem("payment-request-not-paid", "The payment request is not paid", http.StatusConflict)
	ProblemRefundExceedsPayment = problem("refund-exceeds-payment", "The refund would give back more than was paid", http.StatusUnprocessableEntity)
	ProblemTooManyRefunds       = problem("too-many-refunds", "The payment has the most refunds allowed", http.StatusUnprocessableEntity)
	ProblemPaymentCodeInvalid   = problem("payment-code-invalid", "The payment code is malformed", http.StatusBadRequest)
	ProblemPaymentCodeNotFound  = problem("payment-code-not-found", "No such payment code", http.StatusNotFound)
	ProblemPaymentCodeUsed      = problem("payment-code-used", "The payment code was already used", http.StatusConflict)
	ProblemPaymentCodeExpired   = problem("payment-code-expired", "The payment code has expired", http.StatusConflict)
	ProblemPaymentCodeCap       = problem("payment-code-cap-exceeded", "The amount is above the payment code's cap", http.StatusUnprocessableEntity)

	ProblemTemplateNotFound   = problem("scenario-template-not-found", "No such scenario template", http.StatusNotFound)
	ProblemSubWalletNotFound  = problem("sub-wallet-not-found", "No such sub-wallet", http.StatusNotFound)
	ProblemSubWalletOnly      = problem("sub-wallet-scenario-only", "A scenario sub-wallet pays and is paid only through its scenario", http.StatusUnprocessableEntity)
	ProblemSubWalletExpired   = problem("sub-wallet-expired", "The sub-wallet has expired: only sweeping back is allowed", http.StatusUnprocessableEntity)
	ProblemMerchantNotAllowed = problem("merchant-not-allowed", "The scenario does not allow paying this merchant", http.StatusUnprocessableEntity)
	ProblemSweepNotAllowed    = problem("sweep-not-allowed", "The scenario allows sweeping back only after it expires", http.StatusUnprocessableEntity)
	ProblemChargeNotPermitted = problem("charge-not-permitted", "The sub-wallet did not let this merchant charge it", http.StatusUnprocessableEntity)
	ProblemChargeRevoked      = problem("charge-revoked", "The holder revoked the merchant's permission to charge", http.StatusUnprocessableEntity)
	ProblemChargeGranted      = problem("charge-already-granted", "Another merchant may charge the sub-wallet; revoke that first", http.StatusConflict)
	ProblemTooManySubWallets  = problem("too-many-sub-wallets", "The wallet has the most sub-wallets allowed", http.StatusUnprocessableEntity)
	ProblemTemplateInvalid    = problem("scenario-template-invalid", "The scenario template is invalid", http.StatusBadRequest)
	ProblemSubWalletsOpen     = problem("sub-wallets-open", "The wallet has sub-wallets that are not closed", http.StatusConflict)
	ProblemSubWalletParent    = problem("sub-wallet-parent-invalid", "A sub-wallet is pushed from a personal wallet at the template's operator", http.StatusBadRequest)
	ProblemParentNotActive    = problem("parent-wallet-not-active", "A sub-wallet is pushed from a wallet that is active and not frozen", http.StatusUnprocessableEntity)
	ProblemParentCapTaken     = problem("sub-wallet-caps-exceed-category", "The wallet's sub-wallets would take its category's whole balance cap", http.StatusUnprocessableEntity)

	ProblemContractNotFound         = problem("contract-not-found", "No such contract", http.StatusNotFound)
	ProblemContractPartyNotFound    = problem("contract-party-not-found", "No such contract party", http.StatusNotFound)
	ProblemContractTemplate         = problem("contract-template-not-found", "No such contract template", http.StatusNotFound)
	ProblemContractTrigger          = problem("contract-trigger-not-found", "The contract has no such trigger", http.StatusNotFound)
	ProblemContractDeposit          = problem("contract-deposit-refused", "Only the contract's refund party deposits into it", http.StatusUnprocessableEntity)
	ProblemContractDocument         = problem("contract-document-malformed", "The contract document is not valid JSON or YAML", http.StatusBadRequest)
	ProblemContractSchema           = problem("contract-schema-violation", "The contract document does not match the contract schema", http.StatusUnprocessableEntity)
	ProblemContractCondition        = problem("contract-condition-invalid", "A contract expression does not compile or has the wrong type", http.StatusUnprocessableEntity)
	ProblemContractConditionCost    = problem("contract-condition-cost-exceeded", "A contract expression exceeds its cost limit", http.StatusUnprocessableEntity)
	ProblemContractEvaluation       = problem("contract-evaluation-failed", "A contract expression failed when evaluated", http.StatusUnprocessableEntity)
	ProblemContractLimit            = problem("contract-limit-exceeded", "The action exceeds the contract's limits", http.StatusUnprocessableEntity)
	ProblemContractUnregistered     = problem("contract-party-unregistered", "The event's signer is not a registered party of the contract", http.StatusUnprocessableEntity)
	ProblemContractSignature        = problem("contract-event-signature-invalid", "The event's signature does not verify", http.StatusUnprocessableEntity)
	ProblemContractEvent            = problem("contract-event-malformed", "The event is not a well-formed signed event", http.StatusBadRequest)
	ProblemContractReplayed         = problem("contract-event-replayed", "The event id was accepted before", http.StatusConflict)
	ProblemContractPaused           = problem("contract-paused", "The contract is paused", http.StatusConflict)
	ProblemContractEnded            = problem("contract-ended", "The contract is terminated or completed", http.StatusConflict)
	ProblemContractNotActive        = problem("contract-not-active", "The contract is not active yet: it waits for consents or funding", http.StatusConflict)
	ProblemContractConsent          = problem("contract-consent-missing", "Money would leave a wallet whose holder did not accept this contract", http.StatusUnprocessableEntity)
	ProblemContractHashMismatch     = problem("contract-hash-mismatch", "The hash accepted is not the contract's", http.StatusConflict)
	ProblemContractFundsShort       = problem("contract-funds-short", "The contract's moves were refused by the ledger: funds short or a cap reached", http.StatusUnprocessableEntity)
	ProblemContractWrongPreimage    = problem("contract-wrong-preimage", "The preimage does not hash to the contract's hash", http.StatusUnprocessableEntity)
	ProblemContractDeadline         = problem("contract-deadline-passed", "The contract's deadline has passed", http.StatusUnprocessableEntity)
	ProblemContractPurpose          = problem("contract-purpose-violation", "The money may not be spent there: outside the contract's purpose", http.StatusUnprocessableEntity)
	ProblemContractCreditLimit      = problem("contract-credit-limit-reached", "The payment would pass the credit line's limit", http.StatusUnprocessableEntity)
	ProblemContractRequirement      = problem("contract-requirement-failed", "A requirement of the contract does not hold", http.StatusUnprocessableEntity)
	ProblemContractWalletOnly       = problem("contract-wallet-contract-only", "A contract's wallet pays and is paid only through its contract", http.StatusUnprocessableEntity)
	ProblemContractOperatorMismatch = problem("contract-operator-mismatch", "A contract moves money only among wallets of its operator", http.StatusUnprocessableEntity)

	ProblemOfflineDeviceNotFound  = problem("offline-device-not-found", "No such offline device", http.StatusNotFound)
	ProblemOfflineCaseNotFound    = problem("offline-case-not-found", "No such offline fraud case", http.StatusNotFound)
	ProblemOfflineWalletKind      = problem("offline-wallet-kind", "Only a personal or merchant wallet has offline devices", http.StatusUnprocessableEntity)
	ProblemOfflineDeviceState     = problem("offline-device-state", "The device's state does not allow this", http.StatusUnprocessableEntity)
	ProblemOfflineNotCertified    = problem("offline-device-not-certified", "The device has no certificate", http.StatusUnprocessableEntity)
	ProblemOfflineDeviceLocked    = problem("offline-device-locked", "The device is revoked or retired", http.StatusUnprocessableEntity)
	ProblemOfflineDeviceRevoked   = problem("offline-device-revoked", "The payer device is revoked", http.StatusUnprocessableEntity)
	ProblemOfflineCertExpired     = problem("offline-certificate-expired", "The device certificate has expired or is not valid yet", http.StatusUnprocessableEntity)
	ProblemOfflinePurseFull       = problem("offline-purse-full", "The load would take the device's purse past its cap", http.StatusUnprocessableEntity)
	ProblemOfflinePurseShort      = problem("offline-purse-short", "The offline purse holds less than the amount", http.StatusUnprocessableEntity)
	ProblemOfflineCapExceeded     = problem("offline-cap-exceeded", "The token is over the payer device's per-payment cap", http.StatusUnprocessableEntity)
	ProblemOfflineCountCap        = problem("offline-count-cap", "The payer device has made its most payments since it last synced", http.StatusUnprocessableEntity)
	ProblemOfflineInboxFull       = problem("offline-inbox-full", "The device holds as many unsynced tokens as it may", http.StatusUnprocessableEntity)
	ProblemOfflineVoucherOrder    = problem("offline-voucher-order", "The voucher is not the device's next one", http.StatusConflict)
	ProblemOfflineWrongPayee      = problem("offline-wrong-payee", "The token or voucher is for another device", http.StatusUnprocessableEntity)
	ProblemOfflineMalformed       = problem("offline-malformed", "Not a well-formed signed object of the offline protocol", http.StatusBadRequest)
	ProblemOfflineNotCanonical    = problem("offline-not-canonical", "The signed object is not in deterministic CBOR", http.StatusBadRequest)
	ProblemOfflineUnknownKey      = problem("offline-unknown-key", "Signed by a key that is not the operator's pinned key", http.StatusUnprocessableEntity)
	ProblemOfflineBadSignature    = problem("offline-bad-signature", "The signature does not verify", http.StatusUnprocessableEntity)
	ProblemOfflineTokenReplayed   = problem("offline-token-replayed", "The token was received already", http.StatusConflict)
	ProblemOfflineRolledBack      = problem("offline-counter-rolled-back", "The payer device's counter went back", http.StatusUnprocessableEntity)
	ProblemOfflineChainBroken     = problem("offline-chain-broken", "The token does not follow the payer device's previous token", http.StatusUnprocessableEntity)
	ProblemOfflineDoubleSpend     = problem("offline-double-spend", "The payer device double-spent past what the loss policy covers", http.StatusUnprocessableEntity)
	ProblemOfflineFloatDeviceOnly = problem("offline-float-device-only", "The offline float pays and is paid only through a device's signed statement", http.StatusUnprocessableEntity)

	ProblemRiskRuleInvalid      = problem("risk-rule-invalid", "The risk rule is invalid", http.StatusBadRequest)
	ProblemRiskRuleTooCostly    = problem("risk-rule-too-costly", "The risk rule may cost more than its limit", http.StatusUnprocessableEntity)
	ProblemRiskEvaluationFailed = problem("risk-evaluation-failed", "A risk rule failed on the payment, which was refused", http.StatusInternalServerError)
)

// codeProblems maps tongbao error codes to the problem type of an error
// that has no kind.
var codeProblems = map[string]ProblemType{
	tongbao.EINVALID:       ProblemInvalidRequest,
	tongbao.ENOTFOUND:      ProblemNotFound,
	tongbao.ECONFLICT:      ProblemConflict,
	tongbao.EFORBIDDEN:     ProblemForbidden,
	tongbao.EUNPROCESSABLE: ProblemUnprocessable,
	tongbao.EUNAVAILABLE:   ProblemUnavailable,
	tongbao.EINTERNAL:      ProblemInternal,
}

// Errors of the HTTP layer itself.
var (
	errIdempotencyRequired  = tongbao.Sentinel(tongbao.EINVALID, ProblemIdempotencyRequired.Name, "the Idempotency-Key header is missing")
	errIdempotencyConflict  = tongbao.Sentinel(tongbao.ECONFLICT, ProblemIdempotencyConflict.Name, "the Idempotency-Key was used with a different request")
	errUnauthorized         = tongbao.Sentinel(tongbao.EFORBIDDEN, ProblemUnauthorized.Name, "no valid API key or holder token")
	errForbidden            = tongbao.Sentinel(tongbao.EFORBIDDEN, ProblemForbidden.Name, "outside the caller's part")
	errTooLarge             = tongbao.Sentinel(tongbao.EINVALID, ProblemTooLarge.Name, "the body is too large")
	errUnsupportedMediaType = tongbao.Sentinel(tongbao.EINVALID, ProblemUnsupportedMediaType.Name, "the body must be sent with Content-Type: application/json")
)

// malformed marks a body that did not decode.
type malformed struct{ err error }

func (m *malformed) Error() string { return m.err.Error() }
func (m *malformed) Unwrap() error { return m.err }

// retryable reports whether a request answered with t may succeed if sent
// again unchanged: such an answer is not kept under its Idempotency-Key.
func (t ProblemType) retryable() bool { return t.Status == http.StatusServiceUnavailable }

// problemOf returns the problem type of err and whether it is internal
// (its detail must not reach the client): by err's kind, else by its
// code. A kind missing from problemTypes is a bug the tests catch; it is
// answered by its code meanwhile.
func problemOf(err error) (ProblemType, bool) {
	if t, ok := problemTypes[tongbao.ErrorKind(err)]; ok {
		return t, t == ProblemInternal
	}
	var m *malformed
	if errors.As(err, &m) {
		return ProblemMalformedJSON, false
	}
	code := tongbao.ErrorCode(err)
	t, ok := codeProblems[code]
	if !ok {
		t = ProblemInternal
	}
	return t, t == ProblemInternal
}

// Problem returns the problem detail the API answers for err.
func Problem(err error) *wire.Problem {
	t, internal := problemOf(err)
	p := &wire.Problem{Type: t.URI(), Title: t.Title, Status: t.Status}
	if !internal {
		p.Detail = tongbao.ErrorMessage(err)
		var m *malformed
		if errors.As(err, &m) && tongbao.ErrorCode(m.err) == tongbao.EINTERNAL {
			p.Detail = m.err.Error() // a JSON syntax error: safe and useful
		}
	}
	return p
}

// writeProblem writes a problem+json answer, with a Retry-After on a 503
// and the scheme to authenticate with on a 401.
func writeProblem(w http.ResponseWriter, p *wire.Problem) {
	b, _ := json.Marshal(p)
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", RetryAfterSeconds)
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tongbao"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	w.Write(append(b, '\n'))
}
