package twotier

import (
	"context"
	"errors"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// This file holds what the interfaces (HTTP, CLI) read and the bulk form
// of Pay; no rule about money lives here that Pay does not already state.

// PayBatchMax is the most payments one PayBatch call takes.
const PayBatchMax = 8190

// CentralBank returns the id of the central bank, or ErrNoCentralBank.
func (s *Service) CentralBank() (tongbao.ID, error) { return s.centralBank() }

// Now returns the service's clock's time.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Institution returns the central bank or an operator, or
// ErrInstitutionNotFound.
func (s *Service) Institution(ctx context.Context, id tongbao.ID) (Institution, error) {
	return s.store.Institution(ctx, id)
}

// Operators returns every operator, ordered by creation.
func (s *Service) Operators(ctx context.Context) ([]Institution, error) {
	return s.operators(ctx)
}

// Windows returns the settlement windows numbered from on, in order.
func (s *Service) Windows(ctx context.Context, from uint64) ([]Window, error) {
	return s.store.Windows(ctx, from)
}

// Wallets returns up to limit (at most WalletsPageMax) wallets of an
// operator with ids greater than after, in id order.
func (s *Service) Wallets(ctx context.Context, operator, after tongbao.ID, limit int) ([]Wallet, error) {
	if _, err := s.operator(ctx, operator); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > WalletsPageMax {
		limit = WalletsPageMax
	}
	return s.store.Wallets(ctx, operator, after, limit)
}

// WalletBalance returns a wallet's ledger balance (posted and pending).
func (s *Service) WalletBalance(ctx context.Context, id tongbao.ID) (ledger.Balance, error) {
	a, err := s.ledger.Account(ctx, id)
	if err != nil {
		if errors.Is(err, ledger.ErrAccountNotFound) {
			return ledger.Balance{}, ErrWalletNotFound
		}
		return ledger.Balance{}, err
	}
	return a.Balance, nil
}

// WalletTransfers returns a page of a wallet's transfers, newest first,
// and the cursor of the next page (zero when there is none): the ledger's
// AccountTransfers for the wallet's account.
func (s *Service) WalletTransfers(ctx context.Context, id tongbao.ID, cursor int64, limit int) ([]ledger.Transfer, int64, error) {
	if _, err := s.store.Wallet(ctx, id); err != nil {
		return nil, 0, err
	}
	return s.ledger.AccountTransfers(ctx, id, cursor, limit)
}

// PaymentOutcome is the result of one payment of a PayBatch: Err is nil
// when Result holds a payment that went through.
type PaymentOutcome struct {
	Result PaymentResult
	Err    error
}

// PayBatch makes many payments, each on its own: one failing does not
// affect the others. It gives the same result per payment as Pay, but the
// payments within one operator go to the ledger in one request (one place
// in the writer's batch for all of them), which is what a client sending
// many payments at once wants. Cross-operator payments go through Pay one
// by one. At most PayBatchMax payments.
func (s *Service) PayBatch(ctx context.Context, ps []Payment) ([]PaymentOutcome, error) {
	if len(ps) > PayBatchMax {
		return nil, tongbao.Errorf(tongbao.EINVALID, "a batch holds at most %d payments", PayBatchMax)
	}
	out := make([]PaymentOutcome, len(ps))
	var within []ledger.Transfer
	var index []int
	for i, p := range ps {
		if p.ID.IsZero() {
			out[i].Err = ErrIDRequired
			continue
		}
		if err := s.checkMoney(p.Amount, p.Currency); err != nil {
			out[i].Err = err
			continue
		}
		from, err := s.paymentWallet(ctx, p.From)
		if err != nil {
			out[i].Err = wrap("payer wallet", err)
			continue
		}
		to, err := s.paymentWallet(ctx, p.To)
		if err != nil {
			out[i].Err = wrap("payee wallet", err)
			continue
		}
		if from.Operator != to.Operator {
			out[i].Result, out[i].Err = s.payAcross(ctx, p, from, to)
			continue
		}
		within = append(within, ledger.Transfer{ID: p.ID, DebitAccountID: from.ID, CreditAccountID: to.ID, Amount: p.Amount, Code: TransferPayment})
		index = append(index, i)
	}
	for len(within) > 0 {
		n := min(len(within), s.ledger.BatchMax())
		rs, err := s.ledger.Submit(ctx, within[:n])
		if err != nil {
			return nil, err
		}
		for j, r := range rs {
			i := index[j]
			if r.Err != nil {
				out[i].Err = wrap("payment", r.Err)
				continue
			}
			out[i].Result = PaymentResult{Timestamp: r.Timestamp, Duplicate: r.Duplicate}
		}
		within, index = within[n:], index[n:]
	}
	return out, nil
}

// WalletCacheMax bounds the wallets whose operator the service remembers.
const WalletCacheMax = 1 << 21

// WalletOperator returns the operator of a wallet, or ErrWalletNotFound.
// A wallet's operator never changes and a wallet is never deleted, so the
// answer is remembered: the payment path then reads no table to route a
// payment (states, freezes and caps are the ledger's to check).
func (s *Service) WalletOperator(ctx context.Context, id tongbao.ID) (tongbao.ID, error) {
	if v, ok := s.walletOps.Load(id); ok {
		return v.(tongbao.ID), nil
	}
	w, err := s.store.Wallet(ctx, id)
	if err != nil {
		return tongbao.ID{}, err
	}
	if s.walletOpsLen.Load() < WalletCacheMax {
		if _, loaded := s.walletOps.LoadOrStore(id, w.Operator); !loaded {
			s.walletOpsLen.Add(1)
		}
	}
	return w.Operator, nil
}

// paymentWallet returns what routing a payment needs of a wallet: its id
// and operator.
func (s *Service) paymentWallet(ctx context.Context, id tongbao.ID) (Wallet, error) {
	op, err := s.WalletOperator(ctx, id)
	if err != nil {
		return Wallet{}, err
	}
	return Wallet{ID: id, Operator: op}, nil
}
