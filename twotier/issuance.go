package twotier

import (
	"context"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// Operation is what DepositReserves, Issue and Redeem take: an
// idempotency id chosen by the caller, an operator and an amount. The same
// id with the same content returns the first result; with other content,
// a conflict (tongbao.ErrIDConflict).
type Operation struct {
	ID       tongbao.ID
	Operator tongbao.ID
	Amount   tongbao.Amount
	Currency tongbao.Currency // empty means the service's currency
}

// Receipt is what a money-moving operation answers: the ledger timestamp
// of its (first) transfer, and whether this was a repeat of an operation
// already done.
type Receipt struct {
	Timestamp int64
	Duplicate bool
}

func (s *Service) checkOperation(ctx context.Context, op Operation) (tongbao.ID, error) {
	if op.ID.IsZero() {
		return tongbao.ID{}, ErrIDRequired
	}
	if err := s.checkMoney(op.Amount, op.Currency); err != nil {
		return tongbao.ID{}, err
	}
	cb, err := s.centralBank()
	if err != nil {
		return tongbao.ID{}, err
	}
	if _, err := s.operator(ctx, op.Operator); err != nil {
		return tongbao.ID{}, err
	}
	return cb, nil
}

func receipt(rs []ledger.Result) Receipt {
	return Receipt{Timestamp: rs[0].Timestamp, Duplicate: rs[0].Duplicate}
}

// DepositReserves credits an operator's reserve account at the central
// bank from the interbank system (the rtgs account): the operator moved
// central-bank money in, which it may then exchange for digital currency.
func (s *Service) DepositReserves(ctx context.Context, op Operation) (Receipt, error) {
	cb, err := s.checkOperation(ctx, op)
	if err != nil {
		return Receipt{}, err
	}
	rs, _, err := s.submit(ctx, []ledger.Transfer{{
		ID: op.ID, DebitAccountID: rtgsAccount(cb), CreditAccountID: reserveAccount(op.Operator),
		Amount: op.Amount, Code: TransferDepositReserves,
	}})
	if err != nil {
		return Receipt{}, wrap("deposit reserves", err)
	}
	return receipt(rs), nil
}

// WithdrawReserves moves reserves back to the interbank system; the
// reserve floor refuses more than the operator holds unissued.
func (s *Service) WithdrawReserves(ctx context.Context, op Operation) (Receipt, error) {
	cb, err := s.checkOperation(ctx, op)
	if err != nil {
		return Receipt{}, err
	}
	rs, _, err := s.submit(ctx, []ledger.Transfer{{
		ID: op.ID, DebitAccountID: reserveAccount(op.Operator), CreditAccountID: rtgsAccount(cb),
		Amount: op.Amount, Code: TransferWithdrawReserves,
	}})
	if err != nil {
		return Receipt{}, wrap("withdraw reserves", err)
	}
	return receipt(rs), nil
}

// Issue converts an operator's reserves into digital currency in its
// vault, in one linked chain: reserve → backing(operator) at the central
// bank, and issued → vault. The reserve account's floor refuses issuance
// beyond reserves (ledger.ErrInsufficientFunds), whatever the concurrency.
func (s *Service) Issue(ctx context.Context, op Operation) (Receipt, error) {
	cb, err := s.checkOperation(ctx, op)
	if err != nil {
		return Receipt{}, err
	}
	rs, _, err := s.submit(ctx, chain(
		ledger.Transfer{ID: op.ID, DebitAccountID: reserveAccount(op.Operator), CreditAccountID: backingAccount(cb, op.Operator), Amount: op.Amount, Code: TransferIssue},
		ledger.Transfer{ID: deriveID("issue-leg", op.ID), DebitAccountID: issuedAccount(cb), CreditAccountID: vaultAccount(op.Operator), Amount: op.Amount, Code: TransferIssue},
	))
	if err != nil {
		return Receipt{}, wrap("issue", err)
	}
	return receipt(rs), nil
}

// Redeem is the reverse of Issue: vault → issued and backing → reserve,
// linked. The vault's floor refuses redeeming currency the operator has
// not got back from its holders.
//
// Redeem waits for a settlement in progress (it takes the admin lock):
// between closing a window and settling it, redeeming currency received
// in the new window could take the backing the old window's position is
// about to pay out, and the settlement would then be refused.
func (s *Service) Redeem(ctx context.Context, op Operation) (Receipt, error) {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	cb, err := s.checkOperation(ctx, op)
	if err != nil {
		return Receipt{}, err
	}
	rs, _, err := s.submit(ctx, chain(
		ledger.Transfer{ID: op.ID, DebitAccountID: vaultAccount(op.Operator), CreditAccountID: issuedAccount(cb), Amount: op.Amount, Code: TransferRedeem},
		ledger.Transfer{ID: deriveID("redeem-leg", op.ID), DebitAccountID: backingAccount(cb, op.Operator), CreditAccountID: reserveAccount(op.Operator), Amount: op.Amount, Code: TransferRedeem},
	))
	if err != nil {
		return Receipt{}, wrap("redeem", err)
	}
	return receipt(rs), nil
}
