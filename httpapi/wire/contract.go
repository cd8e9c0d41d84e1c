package wire

import (
	"encoding/json"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// RegisterContractParty registers an external party (a logistics
// company, a school) at the calling operator admin's operator: its name
// and its Ed25519 public key, 32 bytes in base64url (padded or not) or
// hex. ID may be omitted: the server derives it from the
// Idempotency-Key, or picks one.
type RegisterContractParty struct {
	ID        *tongbao.ID `json:"id,omitempty"`
	Name      string      `json:"name"`
	PublicKey string      `json:"public_key"`
}

// ContractParty is a registered external party; its public key is in
// base64url without padding.
type ContractParty struct {
	ID        tongbao.ID `json:"id"`
	Operator  tongbao.ID `json:"operator"`
	Name      string     `json:"name"`
	PublicKey string     `json:"public_key"`
	CreatedAt time.Time  `json:"created_at"`
}

// DeployContract deploys a contract: a Document (JSON or YAML text), or
// a Template with its Parties (party name to wallet or registered party
// id), Params and Reference.
type DeployContract struct {
	Document  string            `json:"document,omitempty"`
	Template  string            `json:"template,omitempty"`
	Parties   map[string]string `json:"parties,omitempty"`
	Params    map[string]any    `json:"params,omitempty"`
	Reference string            `json:"reference,omitempty"`
}

// Contract is a deployed contract: its document pinned by its hash, its
// status, and what it has done (Runtime). NeedsConsent lists the parties
// whose wallets it debits that have not accepted its hash yet.
type Contract struct {
	ID           tongbao.ID      `json:"id"`
	Hash         string          `json:"hash"`
	Operator     tongbao.ID      `json:"operator"`
	Wallet       tongbao.ID      `json:"wallet"`
	Name         string          `json:"name"`
	Template     string          `json:"template,omitempty"`
	Status       string          `json:"status"`
	NeedsConsent []string        `json:"needs_consent"`
	Document     json.RawMessage `json:"document,omitempty"`
	Runtime      ContractRuntime `json:"runtime"`
	Timers       []ContractTimer `json:"timers,omitempty"`
	Version      int64           `json:"version"`
	DeployedBy   string          `json:"deployed_by"`
	DeployedAt   time.Time       `json:"deployed_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// ContractRuntime is what a contract has done: consents by party name,
// its state variables, its holds, and the money it took in, paid out,
// refunded and holds in its wallet.
type ContractRuntime struct {
	Consents    map[string]ContractConsent `json:"consents"`
	State       map[string]any             `json:"state"`
	Holds       []ContractHold             `json:"holds"`
	TakenIn     Amount                     `json:"taken_in"`
	PaidOut     Amount                     `json:"paid_out"`
	Refunded    Amount                     `json:"refunded"`
	Balance     Amount                     `json:"balance"`
	Invocations int64                      `json:"invocations"`
	ActivatedAt *time.Time                 `json:"activated_at,omitempty"`
	EndedAt     *time.Time                 `json:"ended_at,omitempty"`
	EndReason   string                     `json:"end_reason,omitempty"`
	Failure     string                     `json:"failure,omitempty"`
}

// ContractConsent is a party's acceptance of a contract's hash.
type ContractConsent struct {
	At time.Time `json:"at"`
	By string    `json:"by"`
}

// ContractHold is a ledger hold a contract placed on a party's wallet:
// open, posted or voided.
type ContractHold struct {
	ID        tongbao.ID `json:"id"`
	Party     string     `json:"party"`
	Amount    Amount     `json:"amount"`
	Status    string     `json:"status"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// ContractTimer is a time trigger's next occurrence.
type ContractTimer struct {
	Key     string    `json:"key"`
	Trigger string    `json:"trigger"`
	DueAt   time.Time `json:"due_at"`
	N       int       `json:"n"`
}

// ContractPage is a page of contracts, by id.
type ContractPage struct {
	Items      []Contract `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// AcceptContract is a party's consent to the contract's hash.
type AcceptContract struct {
	Party string `json:"party"`
	Hash  string `json:"hash"`
}

// ContractDeposit moves money from a party's wallet into the contract.
type ContractDeposit struct {
	Party  string `json:"party"`
	Amount Amount `json:"amount"`
}

// ContractRequest invokes a request trigger of the contract: Name is the
// request's name, Party the calling wallet's party ("" for a request any
// wallet may make), Data what its expressions read as event.data.
type ContractRequest struct {
	Name  string         `json:"name"`
	Party string         `json:"party,omitempty"`
	Data  map[string]any `json:"data,omitempty"`
}

// TerminateContract ends a contract with a reason.
type TerminateContract struct {
	Reason string `json:"reason,omitempty"`
}

// ContractInvocation is one call of a contract: its trigger and input,
// each condition and its value, the moves made, and the outcome
// (succeeded, skipped, failed or pending).
type ContractInvocation struct {
	ID         tongbao.ID          `json:"id"`
	Contract   tongbao.ID          `json:"contract"`
	Sequence   int64               `json:"sequence"`
	Key        string              `json:"key"`
	Trigger    string              `json:"trigger"`
	Input      json.RawMessage     `json:"input,omitempty"`
	Conditions []ContractCondition `json:"conditions"`
	Moves      []ContractMove      `json:"moves"`
	Notices    []string            `json:"notices"`
	Outcome    string              `json:"outcome"`
	Error      string              `json:"error,omitempty"`
	At         time.Time           `json:"at"`
	FinishedAt *time.Time          `json:"finished_at,omitempty"`
}

// ContractCondition is a condition as evaluated.
type ContractCondition struct {
	Name  string `json:"name"`
	Expr  string `json:"expr"`
	Value any    `json:"value"`
	Error string `json:"error,omitempty"`
}

// ContractMove is one ledger move of an invocation: a transfer, a hold,
// or the posting or voiding of a hold (Pending).
type ContractMove struct {
	Action   int         `json:"action"`
	Kind     string      `json:"kind"`
	Transfer tongbao.ID  `json:"transfer"`
	From     *tongbao.ID `json:"from,omitempty"`
	To       *tongbao.ID `json:"to,omitempty"`
	Amount   Amount      `json:"amount"`
	Pending  *tongbao.ID `json:"pending,omitempty"`
}

// ContractInvocationPage is a page of a contract's invocations, oldest
// first.
type ContractInvocationPage struct {
	Items      []ContractInvocation `json:"items"`
	NextCursor string               `json:"next_cursor,omitempty"`
}

// ContractTemplate is a contract template that ships, with its
// parameters (a parameter without a default is required).
type ContractTemplate struct {
	Name        string                  `json:"name"`
	Description string                  `json:"description"`
	Params      []ContractTemplateParam `json:"params"`
}

// ContractTemplateParam is a template's parameter: its kind is wallet,
// signer, amount, time, duration, int, string or strings.
type ContractTemplateParam struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Description string `json:"description"`
	Default     any    `json:"default,omitempty"`
}

// ContractTemplateList is the templates that ship.
type ContractTemplateList struct {
	Items []ContractTemplate `json:"items"`
}

// DryRunContract plays hypothetical steps on a contract without moving
// or storing anything.
type DryRunContract struct {
	Steps []ContractDryStep `json:"steps"`
}

// ContractDryStep is one hypothetical trigger occurrence: a trigger's
// name, or activate, terminate or deposit; At its moment (now when
// omitted, never before the previous step's); Party a request's or a
// deposit's party, Wallet a request's by any; Amount a deposit's; Data
// the event's or request's data.
type ContractDryStep struct {
	At      *time.Time     `json:"at,omitempty"`
	Trigger string         `json:"trigger"`
	Party   string         `json:"party,omitempty"`
	Wallet  *tongbao.ID    `json:"wallet,omitempty"`
	Amount  Amount         `json:"amount,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
}

// ContractDryRun is what each step would record: its conditions and
// their values, the moves and the outcome.
type ContractDryRun struct {
	Steps []ContractInvocation `json:"steps"`
}
