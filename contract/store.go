package contract

import (
	"context"
	"encoding/json"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// Party is an external party: a registered Ed25519 public key (a
// logistics company, a school) that signs the events it posts to
// contracts. It holds no API key and no wallet; a contract names it by id
// in a party of kind signer.
type Party struct {
	ID        tongbao.ID
	Operator  tongbao.ID // the operator that registered it
	Name      string
	PublicKey []byte // Ed25519, 32 bytes
	CreatedAt time.Time
}

// Contract is a deployed contract: its document, pinned by its hash, and
// what it has done so far. The document never changes; Runtime and
// Status change with Version, by compare-and-swap.
type Contract struct {
	// ID is derived from Hash: the same document deployed twice is the
	// same contract.
	ID tongbao.ID
	// Hash is the hex SHA-256 of the canonical document.
	Hash     string
	Operator tongbao.ID
	// Wallet is the contract's wallet, where money it takes in sits.
	Wallet tongbao.ID
	// Document is the canonical JSON of the document.
	Document json.RawMessage
	Status   Status
	Runtime  Runtime
	// Version counts the contract's changes; UpdateContract and
	// FinishInvocation compare it.
	Version    int64
	DeployedBy string
	DeployedAt time.Time
	UpdatedAt  time.Time
}

// Runtime is what a contract has done: consents, state variables, holds,
// money moved, and when it ended.
type Runtime struct {
	// Consents are by party name.
	Consents map[string]Consent `json:"consents,omitempty"`
	// State holds the variables set by set actions: int64, string, bool,
	// or maps of them by string.
	State map[string]any `json:"state,omitempty"`
	// Holds are the contract's open holds; one posted or voided is
	// dropped (its invocation's moves keep it).
	Holds []HoldRecord `json:"holds,omitempty"`
	// TakenIn is everything the contract received (held or deposited);
	// PaidOut what it released or transferred out; Refunded what it gave
	// back (holds voided included).
	TakenIn tongbao.Amount `json:"taken_in"`
	// Balance is what the contract's wallet holds by its own moves.
	Balance  tongbao.Amount `json:"balance"`
	PaidOut  tongbao.Amount `json:"paid_out"`
	Refunded tongbao.Amount `json:"refunded"`
	// Usage counts the money moved against the contract's limits.
	Usage       Usage     `json:"usage"`
	Invocations int64     `json:"invocations"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	EndReason   string    `json:"end_reason,omitempty"`
	// Failure is why the last activation attempt failed (funds short).
	Failure string `json:"failure,omitempty"`
}

// Consent is a party's acceptance of a contract's hash.
type Consent struct {
	At time.Time `json:"at"`
	// By names the key that accepted (a holder, a merchant, an operator
	// admin).
	By string `json:"by"`
}

// HoldRecord is a ledger hold a contract placed on a party's wallet.
type HoldRecord struct {
	ID     tongbao.ID     `json:"id"`
	Party  string         `json:"party"`
	Amount tongbao.Amount `json:"amount"`
	// Status is open, posted (into the contract's wallet) or voided.
	Status string `json:"status"`
	// ExpiresAt is when the ledger voids it by itself (zero: never).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Hold statuses.
const (
	HoldOpen   = "open"
	HoldPosted = "posted"
	HoldVoided = "voided"
)

// Usage is the money a contract moved, against its limits.
type Usage struct {
	Day       string         `json:"day,omitempty"` // YYYY-MM-DD in Asia/Shanghai
	DayAmount tongbao.Amount `json:"day_amount"`
	Total     tongbao.Amount `json:"total"`
}

// Status is where a contract is in its life.
type Status string

// The statuses of a contract.
const (
	// StatusPending waits for the consents of the parties it debits, and
	// for its funding to succeed.
	StatusPending Status = "pending"
	StatusActive  Status = "active"
	// StatusPaused takes no triggers; its timers wait.
	StatusPaused Status = "paused"
	// StatusCompleted ended by its own rules, StatusTerminated by an
	// operator; both are final.
	StatusCompleted  Status = "completed"
	StatusTerminated Status = "terminated"
)

// Ended reports whether the status is final.
func (s Status) Ended() bool { return s == StatusCompleted || s == StatusTerminated }

// Invocation is one call of a contract: its trigger, inputs, each
// condition and its value, the moves, and the outcome. It is recorded
// (Outcome pending) before any money moves, with everything needed to
// finish it after a crash, and finished in one store transaction with
// the contract's new runtime.
type Invocation struct {
	// ID is derived from the contract and Key: a trigger is invoked once.
	ID       tongbao.ID
	Contract tongbao.ID
	// Key names the trigger occurrence: event:<signer>:<event id>,
	// timer:<trigger>:<due>, request:<party>:<idempotency key>, ….
	Key     string
	Trigger string
	// Input is the event as the conditions saw it (JSON); InputHash its
	// SHA-256, so a replay with other content is told apart.
	Input      json.RawMessage
	InputHash  string
	Conditions []ConditionValue
	Moves      []PlannedMove
	Notices    []string
	Outcome    Outcome
	// Error is the problem type and message of a refused or failed
	// invocation.
	Error string
	// BaseVersion is the contract version the invocation was planned on;
	// Next the runtime and status it leaves, applied when it finishes.
	BaseVersion int64
	Next        Runtime
	NextStatus  Status
	// Timers are added, and Fired marked fired, when it finishes.
	Timers   []Timer
	Fired    string
	At       time.Time
	Finished time.Time
	// Sequence numbers a contract's invocations from 1.
	Sequence int64
}

// ConditionValue is one condition as evaluated.
type ConditionValue struct {
	Name  string `json:"name"`
	Expr  string `json:"expr"`
	Value any    `json:"value"`
	// Error names the problem a failed requirement refuses with.
	Error string `json:"error,omitempty"`
}

// PlannedMove is one ledger move of an invocation.
type PlannedMove struct {
	Action   int            `json:"action"`
	Kind     string         `json:"kind"` // transfer, hold, post, void
	Transfer tongbao.ID     `json:"transfer"`
	From     tongbao.ID     `json:"from,omitzero"`
	To       tongbao.ID     `json:"to,omitzero"`
	Amount   tongbao.Amount `json:"amount"`
	Pending  tongbao.ID     `json:"pending,omitzero"`
	Timeout  uint32         `json:"timeout,omitempty"`
}

// Outcome is how an invocation ended.
type Outcome string

// The outcomes of an invocation.
const (
	OutcomePending Outcome = "pending"
	// OutcomeSucceeded: conditions held and every move went through.
	OutcomeSucceeded Outcome = "succeeded"
	// OutcomeSkipped: a when condition was false; nothing moved.
	OutcomeSkipped Outcome = "skipped"
	// OutcomeFailed: the ledger refused the chain (funds short, caps);
	// nothing moved; the retry policy or the failure path ran.
	OutcomeFailed Outcome = "failed"
)

// Timer is a time trigger's next occurrence, kept in the store so it
// survives restarts.
type Timer struct {
	Contract tongbao.ID
	// Key is unique per contract: <trigger>@<due unix seconds>, or for a
	// retry retry:<n>:<original key>.
	Key     string
	Trigger string
	DueAt   time.Time
	// N is the occurrence (1 for the first) or the retry attempt.
	N int
	// Of is, for a retry, the invocation key it retries.
	Of string
}

// Store errors. Implementations return these (wrapped or not) so callers
// can test them with errors.Is.
var (
	ErrPartyExists        = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "party id already used")
	ErrPartyNotFound      = tongbao.Sentinel(tongbao.ENOTFOUND, "contract-party-not-found", "party not found")
	ErrContractNotFound   = tongbao.Sentinel(tongbao.ENOTFOUND, "contract-not-found", "contract not found")
	ErrVersionConflict    = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "the contract changed meanwhile; retry")
	ErrInvocationNotFound = tongbao.Sentinel(tongbao.ENOTFOUND, "not-found", "invocation not found")
)

// ListMax is the most rows one list call returns.
const ListMax = 500

// Store keeps parties, contracts, invocations and timers.
type Store interface {
	// CreateParty stores a new party: ErrPartyExists if its id is taken.
	CreateParty(ctx context.Context, p Party) error
	// Party returns a party, or ErrPartyNotFound.
	Party(ctx context.Context, id tongbao.ID) (Party, error)

	// CreateContract stores a new contract at version 1 and returns true,
	// or returns the contract already stored under its id and false.
	CreateContract(ctx context.Context, c Contract) (Contract, bool, error)
	// Contract returns a contract, or ErrContractNotFound.
	Contract(ctx context.Context, id tongbao.ID) (Contract, error)
	// Contracts returns up to limit (at most ListMax) contracts of an
	// operator (zero: every operator) with ids after after, by id.
	Contracts(ctx context.Context, operator, after tongbao.ID, limit int) ([]Contract, error)
	// UpdateContract stores c's status and runtime at version
	// c.Version+1 if the stored version is c.Version, else
	// ErrVersionConflict; it returns the new version. With cancelTimers
	// it also removes the contract's timers not fired (an ended
	// contract), and adds timers (an activation), in the same
	// transaction.
	UpdateContract(ctx context.Context, c Contract, timers []Timer, cancelTimers bool) (int64, error)

	// CreateInvocation stores a pending invocation and returns it with
	// true; if one with the same contract and key exists, it returns that
	// one and false, storing nothing.
	CreateInvocation(ctx context.Context, inv Invocation) (Invocation, bool, error)
	// FinishInvocation, in one transaction: stores the invocation's
	// outcome, sets the contract's status and runtime to inv.NextStatus
	// and inv.Next at version inv.BaseVersion+1 if it is at
	// inv.BaseVersion (else ErrVersionConflict, storing nothing), adds
	// inv.Timers, marks the timer inv.Fired fired, and removes the
	// contract's timers not fired when the new status is ended.
	FinishInvocation(ctx context.Context, inv Invocation) error
	// Invocation returns an invocation by contract and key, or
	// ErrInvocationNotFound.
	Invocation(ctx context.Context, contract tongbao.ID, key string) (Invocation, error)
	// Invocations returns up to limit (at most ListMax) invocations of a
	// contract in the order they were created, after the sequence after.
	Invocations(ctx context.Context, contract tongbao.ID, after int64, limit int) ([]Invocation, error)
	// PendingInvocations returns up to limit invocations not finished,
	// oldest first.
	PendingInvocations(ctx context.Context, limit int) ([]Invocation, error)

	// DueTimers returns up to limit timers not fired of active contracts
	// whose DueAt is at or before now, earliest first: a paused
	// contract's timers wait for it to resume.
	DueTimers(ctx context.Context, now time.Time, limit int) ([]Timer, error)
	// Timers returns a contract's timers not fired, earliest first.
	Timers(ctx context.Context, contract tongbao.ID) ([]Timer, error)
	// FireTimer marks a timer fired without an invocation (its contract
	// ended or paused past it) and adds next if not nil, in one
	// transaction. A timer already fired is left as it is.
	FireTimer(ctx context.Context, t Timer, next *Timer) error
}
