// Package contract is tongbao's programmable money: contracts that hold,
// release, refund, transfer and split money when events, time and data
// say so, within the limits they state and only from wallets whose
// holders consented to them.
//
// A contract is a document (Document: JSON or YAML, checked against
// Schema) pinned by its content hash: the hash is its identity, so a
// deployed contract never changes and a new version is a new contract.
// Its money sits in its own wallet (a twotier wallet of kind contract,
// counted in the supply check) or in ledger holds on the payers' wallets,
// so it cannot be spent twice; every invocation's moves are one linked
// chain (twotier.Service.Move), so a failure moves nothing.
//
// Execution is deterministic and idempotent per (contract, trigger
// occurrence): the invocation id and every transfer id derive from them,
// and the invocation is recorded, with the moves and the state it leaves,
// before the ledger is asked. A retry, a crash and a restart, or a second
// node finish the same invocation with the same transfers, which the
// ledger answers as duplicates; none pays twice. Timers live in the store
// (see Scheduler).
//
// The package holds the rules only; the store (contractsql) keeps the
// records, httpapi and the CLI are its interfaces.
package contract

import (
	"fmt"

	tongbao "github.com/tongbao/tongbao"
)

// Errors of the contract domain. Each carries the problem type the API
// answers with; Decode, Deploy and Invoke return them wrapped with detail.
var (
	ErrDocument       = tongbao.Sentinel(tongbao.EINVALID, "contract-document-malformed", "the contract document is not valid JSON or YAML")
	ErrSchema         = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-schema-violation", "the contract document does not match the contract schema")
	ErrCondition      = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-condition-invalid", "a contract expression does not compile or has the wrong type")
	ErrConditionCost  = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-condition-cost-exceeded", "a contract expression exceeds its cost limit")
	ErrEvaluation     = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-evaluation-failed", "a contract expression failed when evaluated")
	ErrLimit          = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-limit-exceeded", "the action exceeds the contract's limits")
	ErrUnregistered   = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-party-unregistered", "the event's signer is not a registered party of the contract")
	ErrSignature      = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-event-signature-invalid", "the event's signature does not verify")
	ErrEvent          = tongbao.Sentinel(tongbao.EINVALID, "contract-event-malformed", "the event is not a well-formed signed event")
	ErrReplayed       = tongbao.Sentinel(tongbao.ECONFLICT, "contract-event-replayed", "the event id was accepted before")
	ErrPaused         = tongbao.Sentinel(tongbao.ECONFLICT, "contract-paused", "the contract is paused")
	ErrEnded          = tongbao.Sentinel(tongbao.ECONFLICT, "contract-ended", "the contract is terminated or completed")
	ErrNotActive      = tongbao.Sentinel(tongbao.ECONFLICT, "contract-not-active", "the contract is not active yet: it waits for consents or funding")
	ErrConsent        = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-consent-missing", "money would leave a wallet whose holder did not accept this contract")
	ErrHashMismatch   = tongbao.Sentinel(tongbao.ECONFLICT, "contract-hash-mismatch", "the hash accepted is not the contract's")
	ErrNoTrigger      = tongbao.Sentinel(tongbao.ENOTFOUND, "contract-trigger-not-found", "the contract has no such trigger")
	ErrNotParty       = tongbao.Sentinel(tongbao.EFORBIDDEN, "forbidden", "the caller is not that party of the contract")
	ErrTemplate       = tongbao.Sentinel(tongbao.ENOTFOUND, "contract-template-not-found", "no such contract template")
	ErrDepositRefused = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-deposit-refused", "only the contract's refund party deposits into it")
	ErrFundsShort     = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-funds-short", "the contract's chain was refused by the ledger: funds short or a cap reached")

	// The errors a requirement may name (Requirement.Error).
	ErrWrongPreimage  = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-wrong-preimage", "the preimage does not hash to the contract's hash")
	ErrDeadline       = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-deadline-passed", "the contract's deadline has passed")
	ErrPurpose        = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-purpose-violation", "the money may not be spent there: outside the contract's purpose")
	ErrCreditLimit    = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-credit-limit-reached", "the payment would pass the credit line's limit")
	ErrRequirement    = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-requirement-failed", "a requirement of the contract does not hold")
	requirementErrors = map[string]error{
		"wrong-preimage":       ErrWrongPreimage,
		"deadline-passed":      ErrDeadline,
		"purpose-violation":    ErrPurpose,
		"credit-limit-reached": ErrCreditLimit,
		"requirement-failed":   ErrRequirement,
	}
)

// RequirementErrors names the errors a requirement may refuse with.
var RequirementErrors = []string{"wrong-preimage", "deadline-passed", "purpose-violation", "credit-limit-reached", "requirement-failed"}

// docError returns err with detail, keeping err in the chain.
func docError(err error, format string, args ...any) error {
	return &tongbao.Error{Code: tongbao.ErrorCode(err), Message: fmt.Sprintf(format, args...), Err: err}
}
