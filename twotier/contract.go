package twotier

import (
	"context"
	"errors"
	"fmt"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// Contract wallets on the ledger. A programmable-payment contract (package
// contract) keeps the money it has taken in a wallet of its own, of kind
// WalletContract at the contract's operator: being a wallet, it is one of
// the operator's liabilities and the supply check counts it. Its money
// moves only through Move, which the contract package calls with the
// transfers a contract's rules decided; Pay refuses it, as payer and as
// payee, so nothing reaches it around the contract's triggers.
//
// Move submits one linked chain of transfers, holds, posts and voids
// among wallets of one operator: the engine enforces every wallet's caps,
// floor and state, and a failure anywhere in the chain moves nothing.

// Codes of contract wallets and their transfers.
const (
	CodeContractWallet uint16 = 124
	TransferContract   uint16 = 15
)

// WalletContract is the wallet of a programmable-payment contract.
const WalletContract WalletKind = "contract"

// Errors of contract moves.
var (
	ErrContractWallet    = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-wallet-contract-only", "a contract's wallet pays and is paid only through its contract")
	ErrMoveAcross        = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "contract-operator-mismatch", "a contract moves money only among wallets of its operator")
	ErrMoveInvalid       = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "a contract move needs an id, and a transfer or hold two wallets and a positive amount")
	ErrMovesTooMany      = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "a chain holds at most %d moves", MovesMax)
	errWalletNotContract = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "wallet id already used by a wallet that is not a contract's")
)

// MovesMax is the most moves one Move takes.
const MovesMax = 64

// OpenContractWallet opens the wallet of a contract at an operator: no
// caps, floor zero. The same call again returns the wallet already
// opened.
func (s *Service) OpenContractWallet(ctx context.Context, id, operator tongbao.ID) (Wallet, error) {
	if id.IsZero() {
		return Wallet{}, ErrIDRequired
	}
	if old, err := s.store.Wallet(ctx, id); err == nil {
		if old.Kind != WalletContract || old.Operator != operator {
			return Wallet{}, errWalletNotContract
		}
		return old, nil
	} else if !errors.Is(err, ErrWalletNotFound) {
		return Wallet{}, err
	}
	if _, err := s.operator(ctx, operator); err != nil {
		return Wallet{}, err
	}
	now := s.clock.Now()
	w := Wallet{ID: id, Operator: operator, Kind: WalletContract, Category: Category1, HolderLimits: &ledger.Limits{}, State: StateActive, OpenedAt: now, UpdatedAt: now}
	errs, err := s.ledger.CreateAccounts(ctx, []ledger.Account{s.account(id, CodeContractWallet, ledger.FlagDebitsMustNotExceedCredits, ledger.Limits{})})
	if err != nil {
		return Wallet{}, err
	}
	if errs[0] != nil && !errors.Is(errs[0], ledger.ErrAccountExists) {
		return Wallet{}, errs[0]
	}
	if err := s.store.CreateWallet(ctx, w); err != nil {
		return Wallet{}, err
	}
	return w, nil
}

// MoveKind is what one move of a chain does.
type MoveKind uint8

// The kinds of move.
const (
	// MoveTransfer moves Amount from From to To.
	MoveTransfer MoveKind = iota
	// MoveHold reserves Amount on From for To until it is posted, voided
	// or times out after Timeout seconds (zero: never).
	MoveHold
	// MovePost posts the hold Pending for its full amount.
	MovePost
	// MoveVoid releases the hold Pending.
	MoveVoid
)

// Move is one step of a contract's chain.
type Move struct {
	ID       tongbao.ID
	Kind     MoveKind
	From, To tongbao.ID
	Amount   tongbao.Amount
	Pending  tongbao.ID
	Timeout  uint32
	// Metadata is recorded on the transfer (at most ledger.MetadataMax
	// bytes): the contract and invocation it belongs to.
	Metadata string
}

// MoveResult is the outcome of a chain that went through.
type MoveResult struct {
	// Timestamps are the ledger timestamps of the moves, in order.
	Timestamps []int64
	// Duplicate says the whole chain had been submitted before.
	Duplicate bool
}

// Move submits moves as one linked chain among wallets of operator: all
// of them happen or none. It returns the ledger's error of the first move
// that failed (ledger.ErrInsufficientFunds, ErrBalanceLimit, the caps,
// ErrPendingNotFound, …) wrapped, with nothing moved; ErrMoveAcross when a
// wallet is at another operator. Scenario sub-wallets are refused.
func (s *Service) Move(ctx context.Context, operator tongbao.ID, moves []Move) (MoveResult, error) {
	if len(moves) == 0 {
		return MoveResult{}, nil
	}
	if len(moves) > MovesMax {
		return MoveResult{}, ErrMovesTooMany
	}
	ts := make([]ledger.Transfer, len(moves))
	for i, m := range moves {
		t := ledger.Transfer{ID: m.ID, Code: TransferContract, Metadata: m.Metadata}
		switch m.Kind {
		case MoveTransfer, MoveHold:
			if m.Amount <= 0 || m.From == m.To {
				return MoveResult{}, ErrMoveInvalid
			}
			for _, id := range []tongbao.ID{m.From, m.To} {
				r, err := s.route(ctx, id)
				if err != nil {
					return MoveResult{}, wrap(fmt.Sprintf("move %d", i+1), err)
				}
				if r.kind == WalletScenario {
					return MoveResult{}, ErrScenarioWallet
				}
				if r.operator != operator {
					return MoveResult{}, ErrMoveAcross
				}
			}
			t.DebitAccountID, t.CreditAccountID, t.Amount = m.From, m.To, m.Amount
			if m.Kind == MoveHold {
				t.Flags, t.TimeoutSeconds = ledger.FlagPending, m.Timeout
			}
		case MovePost, MoveVoid:
			t.PendingID, t.Flags = m.Pending, ledger.FlagPostPending
			if m.Kind == MoveVoid {
				t.Flags = ledger.FlagVoidPending
			}
		default:
			return MoveResult{}, ErrMoveInvalid
		}
		if m.ID.IsZero() {
			return MoveResult{}, ErrMoveInvalid
		}
		ts[i] = t
	}
	if len(ts) > 1 {
		chain(ts...)
	}
	rs, _, err := s.submit(ctx, ts)
	if err != nil {
		return MoveResult{}, wrap("contract move", err)
	}
	out := MoveResult{Timestamps: make([]int64, len(rs)), Duplicate: true}
	for i, r := range rs {
		out.Timestamps[i] = r.Timestamp
		out.Duplicate = out.Duplicate && r.Duplicate
	}
	return out, nil
}
