package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/merchant"
	"github.com/tongbao/tongbao/scenario"
	"github.com/tongbao/tongbao/twotier"
)

// This file is the one place where errors become HTTP: every failure the
// API answers has a stable problem type URI, a title and a status. Clients
// branch on the type; the title and detail are for people.

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

// The problem types. Never rename one: clients match on them.
var (
	ProblemMalformedJSON       = ProblemType{"malformed-json", "The body is not the JSON this endpoint takes", http.StatusBadRequest}
	ProblemInvalidRequest      = ProblemType{"invalid-request", "The request is invalid", http.StatusBadRequest}
	ProblemInvalidAmount       = ProblemType{"invalid-amount", "The amount is invalid", http.StatusBadRequest}
	ProblemCurrencyMismatch    = ProblemType{"currency-mismatch", "The currency is not the ledger's", http.StatusBadRequest}
	ProblemIdempotencyRequired = ProblemType{"idempotency-key-required", "This request moves money and needs an Idempotency-Key header", http.StatusBadRequest}
	ProblemIdempotencyConflict = ProblemType{"idempotency-key-conflict", "The Idempotency-Key was used with a different request", http.StatusConflict}
	ProblemUnauthorized        = ProblemType{"unauthorized", "A valid API key or holder token is required", http.StatusUnauthorized}
	ProblemForbidden           = ProblemType{"forbidden", "The caller's role may not do this", http.StatusForbidden}
	ProblemNotFound            = ProblemType{"not-found", "No such resource", http.StatusNotFound}
	ProblemWalletNotFound      = ProblemType{"wallet-not-found", "No such wallet", http.StatusNotFound}
	ProblemInstitutionNotFound = ProblemType{"institution-not-found", "No such institution", http.StatusNotFound}
	ProblemMethodNotAllowed    = ProblemType{"method-not-allowed", "The method is not allowed on this resource", http.StatusMethodNotAllowed}
	ProblemTooLarge            = ProblemType{"request-too-large", "The request is too large", http.StatusRequestEntityTooLarge}
	ProblemInsufficientFunds   = ProblemType{"insufficient-funds", "Insufficient funds", http.StatusUnprocessableEntity}
	ProblemBalanceCap          = ProblemType{"balance-cap-exceeded", "The payee's balance cap would be exceeded", http.StatusUnprocessableEntity}
	ProblemSingleCap           = ProblemType{"single-payment-cap-exceeded", "The single-payment cap would be exceeded", http.StatusUnprocessableEntity}
	ProblemDailyCap            = ProblemType{"daily-cap-exceeded", "The daily payment cap would be exceeded", http.StatusUnprocessableEntity}
	ProblemYearlyCap           = ProblemType{"yearly-cap-exceeded", "The yearly payment cap would be exceeded", http.StatusUnprocessableEntity}
	ProblemNetDebitCap         = ProblemType{"net-debit-cap-exceeded", "The payer operator's net debit cap would be breached", http.StatusUnprocessableEntity}
	ProblemWalletClosed        = ProblemType{"wallet-closed", "The wallet is closed", http.StatusUnprocessableEntity}
	ProblemWalletFrozen        = ProblemType{"wallet-frozen", "The wallet is frozen", http.StatusUnprocessableEntity}
	ProblemDebitsDisabled      = ProblemType{"wallet-may-not-pay", "The paying wallet may not pay in its state", http.StatusUnprocessableEntity}
	ProblemCreditsDisabled     = ProblemType{"wallet-may-not-receive", "The receiving wallet may not receive in its state", http.StatusUnprocessableEntity}
	ProblemWalletNotEmpty      = ProblemType{"wallet-not-empty", "The wallet still holds money", http.StatusConflict}
	ProblemCategoryChange      = ProblemType{"category-change-refused", "The category change is refused", http.StatusUnprocessableEntity}
	ProblemConflict            = ProblemType{"conflict", "The request conflicts with the present state", http.StatusConflict}
	ProblemUnprocessable       = ProblemType{"unprocessable", "The rules refuse the request", http.StatusUnprocessableEntity}
	ProblemUnavailable         = ProblemType{"unavailable", "Try again later", http.StatusServiceUnavailable}
	ProblemNotWriter           = ProblemType{"not-the-writer", "This process does not hold the ledger's writer; retry, here or at the process that does", http.StatusServiceUnavailable}
	ProblemInternal            = ProblemType{"internal", "Internal error", http.StatusInternalServerError}
	ProblemSandboxDisabled     = ProblemType{"sandbox-disabled", "The node is not in sandbox mode: its clock cannot be read or moved", http.StatusConflict}
	ProblemClockBackwards      = ProblemType{"sandbox-clock-backwards", "The sandbox clock never goes backwards", http.StatusConflict}

	ProblemNotMerchantWallet    = ProblemType{"not-a-merchant-wallet", "The wallet is not a merchant wallet", http.StatusBadRequest}
	ProblemRequestNotFound      = ProblemType{"payment-request-not-found", "No such payment request", http.StatusNotFound}
	ProblemOrderIDTaken         = ProblemType{"order-id-taken", "The merchant already has a payment request with this order id", http.StatusConflict}
	ProblemRequestPaid          = ProblemType{"payment-request-paid", "The payment request is already paid", http.StatusConflict}
	ProblemRequestExpired       = ProblemType{"payment-request-expired", "The payment request has expired", http.StatusConflict}
	ProblemRequestCancelled     = ProblemType{"payment-request-cancelled", "The payment request was cancelled", http.StatusConflict}
	ProblemRequestInProgress    = ProblemType{"payment-request-in-progress", "Another wallet is paying the payment request", http.StatusConflict}
	ProblemRequestNotPaid       = ProblemType{"payment-request-not-paid", "The payment request is not paid", http.StatusConflict}
	ProblemRefundExceedsPayment = ProblemType{"refund-exceeds-payment", "The refund would give back more than was paid", http.StatusUnprocessableEntity}
	ProblemTooManyRefunds       = ProblemType{"too-many-refunds", "The payment has the most refunds allowed", http.StatusUnprocessableEntity}
	ProblemPaymentCodeInvalid   = ProblemType{"payment-code-invalid", "The payment code is malformed", http.StatusBadRequest}
	ProblemPaymentCodeNotFound  = ProblemType{"payment-code-not-found", "No such payment code", http.StatusNotFound}
	ProblemPaymentCodeUsed      = ProblemType{"payment-code-used", "The payment code was already used", http.StatusConflict}
	ProblemPaymentCodeExpired   = ProblemType{"payment-code-expired", "The payment code has expired", http.StatusConflict}
	ProblemPaymentCodeCap       = ProblemType{"payment-code-cap-exceeded", "The amount is above the payment code's cap", http.StatusUnprocessableEntity}

	ProblemTemplateNotFound   = ProblemType{"scenario-template-not-found", "No such scenario template", http.StatusNotFound}
	ProblemSubWalletNotFound  = ProblemType{"sub-wallet-not-found", "No such sub-wallet", http.StatusNotFound}
	ProblemSubWalletOnly      = ProblemType{"sub-wallet-scenario-only", "A scenario sub-wallet pays and is paid only through its scenario", http.StatusUnprocessableEntity}
	ProblemSubWalletExpired   = ProblemType{"sub-wallet-expired", "The sub-wallet has expired: only sweeping back is allowed", http.StatusUnprocessableEntity}
	ProblemMerchantNotAllowed = ProblemType{"merchant-not-allowed", "The scenario does not allow paying this merchant", http.StatusUnprocessableEntity}
	ProblemSweepNotAllowed    = ProblemType{"sweep-not-allowed", "The scenario allows sweeping back only after it expires", http.StatusUnprocessableEntity}
	ProblemChargeNotPermitted = ProblemType{"charge-not-permitted", "The sub-wallet did not let this merchant charge it", http.StatusUnprocessableEntity}
	ProblemChargeRevoked      = ProblemType{"charge-revoked", "The holder revoked the merchant's permission to charge", http.StatusUnprocessableEntity}
	ProblemChargeGranted      = ProblemType{"charge-already-granted", "Another merchant may charge the sub-wallet; revoke that first", http.StatusConflict}
	ProblemTooManySubWallets  = ProblemType{"too-many-sub-wallets", "The wallet has the most sub-wallets allowed", http.StatusUnprocessableEntity}
	ProblemTemplateInvalid    = ProblemType{"scenario-template-invalid", "The scenario template is invalid", http.StatusBadRequest}
	ProblemSubWalletsOpen     = ProblemType{"sub-wallets-open", "The wallet has sub-wallets that are not closed", http.StatusConflict}
	ProblemSubWalletParent    = ProblemType{"sub-wallet-parent-invalid", "A sub-wallet is pushed from a personal wallet at the template's operator", http.StatusBadRequest}
	ProblemParentNotActive    = ProblemType{"parent-wallet-not-active", "A sub-wallet is pushed from a wallet that is active and not frozen", http.StatusUnprocessableEntity}
	ProblemParentCapTaken     = ProblemType{"sub-wallet-caps-exceed-category", "The wallet's sub-wallets would take its category's whole balance cap", http.StatusUnprocessableEntity}
)

// sentinelProblems maps the domain's and the engine's sentinels to problem
// types, most specific first: errors.Is picks the first that matches.
var sentinelProblems = []struct {
	err error
	typ ProblemType
}{
	{errIdempotencyRequired, ProblemIdempotencyRequired},
	{errIdempotencyConflict, ProblemIdempotencyConflict},
	{errUnauthorized, ProblemUnauthorized},
	{errForbidden, ProblemForbidden},
	{errTooLarge, ProblemTooLarge},
	{wire.ErrAmountSyntax, ProblemInvalidAmount},
	{twotier.ErrAmountInvalid, ProblemInvalidAmount},
	{ledger.ErrAmountInvalid, ProblemInvalidAmount},
	{tongbao.ErrOverflow, ProblemInvalidAmount},
	{ledger.ErrOverflow, ProblemInvalidAmount},
	{twotier.ErrCurrencyMismatch, ProblemCurrencyMismatch},
	{ledger.ErrCurrencyMismatch, ProblemCurrencyMismatch},
	{twotier.ErrIDConflict, ProblemIdempotencyConflict},
	{ledger.ErrIDConflict, ProblemIdempotencyConflict},
	{twotier.ErrNetDebitCap, ProblemNetDebitCap},
	{twotier.ErrWalletNotFound, ProblemWalletNotFound},
	{ledger.ErrDebitAccountNotFound, ProblemWalletNotFound},
	{ledger.ErrCreditAccountNotFound, ProblemWalletNotFound},
	{twotier.ErrInstitutionNotFound, ProblemInstitutionNotFound},
	{twotier.ErrWindowNotFound, ProblemNotFound},
	{twotier.ErrWalletClosed, ProblemWalletClosed},
	{ledger.ErrAccountClosed, ProblemWalletClosed},
	{ledger.ErrAccountFrozen, ProblemWalletFrozen},
	{ledger.ErrDebitsDisabled, ProblemDebitsDisabled},
	{ledger.ErrCreditsDisabled, ProblemCreditsDisabled},
	{ledger.ErrAccountNotEmpty, ProblemWalletNotEmpty},
	{ledger.ErrInsufficientFunds, ProblemInsufficientFunds},
	{ledger.ErrBalanceLimit, ProblemBalanceCap},
	{ledger.ErrDebitLimit, ProblemSingleCap},
	{ledger.ErrDailyLimit, ProblemDailyCap},
	{ledger.ErrYearlyLimit, ProblemYearlyCap},
	{merchant.ErrIDConflict, ProblemIdempotencyConflict},
	{merchant.ErrNotMerchantWallet, ProblemNotMerchantWallet},
	{merchant.ErrRequestNotFound, ProblemRequestNotFound},
	{merchant.ErrOrderIDTaken, ProblemOrderIDTaken},
	{merchant.ErrRequestPaid, ProblemRequestPaid},
	{merchant.ErrRequestExpired, ProblemRequestExpired},
	{merchant.ErrRequestCancelled, ProblemRequestCancelled},
	{merchant.ErrRequestInProgress, ProblemRequestInProgress},
	{merchant.ErrRequestNotPaid, ProblemRequestNotPaid},
	{merchant.ErrRefundExceedsPayment, ProblemRefundExceedsPayment},
	{merchant.ErrTooManyRefunds, ProblemTooManyRefunds},
	{merchant.ErrPaymentCodeInvalid, ProblemPaymentCodeInvalid},
	{merchant.ErrPaymentCodeNotFound, ProblemPaymentCodeNotFound},
	{merchant.ErrPaymentCodeUsed, ProblemPaymentCodeUsed},
	{merchant.ErrPaymentCodeExpired, ProblemPaymentCodeExpired},
	{merchant.ErrPaymentCodeCap, ProblemPaymentCodeCap},
	{scenario.ErrIDConflict, ProblemIdempotencyConflict},
	{scenario.ErrTemplateNotFound, ProblemTemplateNotFound},
	{scenario.ErrSubWalletNotFound, ProblemSubWalletNotFound},
	{scenario.ErrExpired, ProblemSubWalletExpired},
	{scenario.ErrMerchantNotAllowed, ProblemMerchantNotAllowed},
	{scenario.ErrNotMerchantWallet, ProblemNotMerchantWallet},
	{scenario.ErrSweepForbidden, ProblemSweepNotAllowed},
	{scenario.ErrChargeNotGranted, ProblemChargeNotPermitted},
	{scenario.ErrChargeRevoked, ProblemChargeRevoked},
	{scenario.ErrChargeGranted, ProblemChargeGranted},
	{scenario.ErrTooManySubWallets, ProblemTooManySubWallets},
	{scenario.ErrNameRequired, ProblemTemplateInvalid},
	{scenario.ErrCapsInvalid, ProblemTemplateInvalid},
	{scenario.ErrOperatorMismatch, ProblemSubWalletParent},
	{twotier.ErrParentInvalid, ProblemSubWalletParent},
	{twotier.ErrParentNotActive, ProblemParentNotActive},
	{twotier.ErrParentCapTaken, ProblemParentCapTaken},
	{twotier.ErrScenarioWallet, ProblemSubWalletOnly},
	{twotier.ErrSubWalletsOpen, ProblemSubWalletsOpen},
	{twotier.ErrPayeeNotMerchant, ProblemNotMerchantWallet},
	{twotier.ErrNotUpgrade, ProblemCategoryChange},
	{twotier.ErrNotDowngrade, ProblemCategoryChange},
	{ledger.ErrRequestTooLarge, ProblemTooLarge},
	{ledger.ErrNotWriter, ProblemNotWriter},
	{ledger.ErrClosed, ProblemUnavailable},
	{tongbao.ErrSandboxDisabled, ProblemSandboxDisabled},
	{tongbao.ErrClockBackwards, ProblemClockBackwards},
}

// codeProblems maps tongbao error codes to the problem type of an error
// that no sentinel names.
var codeProblems = map[string]ProblemType{
	tongbao.EINVALID:       ProblemInvalidRequest,
	tongbao.ENOTFOUND:      ProblemNotFound,
	tongbao.ECONFLICT:      ProblemConflict,
	tongbao.EFORBIDDEN:     ProblemUnprocessable,
	tongbao.EUNPROCESSABLE: ProblemUnprocessable,
	tongbao.EUNAVAILABLE:   ProblemUnavailable,
	tongbao.EINTERNAL:      ProblemInternal,
}

// Errors of the HTTP layer itself, mapped above.
var (
	errIdempotencyRequired = tongbao.Errorf(tongbao.EINVALID, "the Idempotency-Key header is missing")
	errIdempotencyConflict = tongbao.Errorf(tongbao.ECONFLICT, "the Idempotency-Key was used with a different request")
	errUnauthorized        = tongbao.Errorf(tongbao.EFORBIDDEN, "no valid API key or holder token")
	errForbidden           = tongbao.Errorf(tongbao.EFORBIDDEN, "outside the caller's part")
	errTooLarge            = tongbao.Errorf(tongbao.EINVALID, "the body is too large")
)

// malformed marks a body that did not decode.
type malformed struct{ err error }

func (m *malformed) Error() string { return m.err.Error() }
func (m *malformed) Unwrap() error { return m.err }

// retryable reports whether a request answered with t may succeed if sent
// again unchanged: such an answer is not kept under its Idempotency-Key.
func (t ProblemType) retryable() bool { return t.Status == http.StatusServiceUnavailable }

// problemOf returns the problem type of err and whether it is internal
// (its detail must not reach the client).
func problemOf(err error) (ProblemType, bool) {
	for _, sp := range sentinelProblems {
		if errors.Is(err, sp.err) {
			return sp.typ, false
		}
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

// writeProblem writes a problem+json answer, with a Retry-After on a 503.
func writeProblem(w http.ResponseWriter, p *wire.Problem) {
	b, _ := json.Marshal(p)
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", RetryAfterSeconds)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	w.Write(append(b, '\n'))
}
