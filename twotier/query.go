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
//
// A window not yet settled shows its running positions, read from its
// clearing accounts now; they move with every cross-operator payment
// until the window is closed.
func (s *Service) Windows(ctx context.Context, from uint64) ([]Window, error) {
	ws, err := s.store.Windows(ctx, from)
	if err != nil {
		return nil, err
	}
	var ops []Institution
	for i := range ws {
		if ws[i].Status == WindowSettled {
			continue
		}
		if ops == nil {
			if ops, err = s.operators(ctx); err != nil {
				return nil, err
			}
		}
		if ws[i].Positions, err = s.runningPositions(ctx, ws[i].Number, ops); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

// runningPositions reads the net positions of a window's clearing
// accounts: positive for an operator whose holders paid other operators'
// holders more than they received (it owes), negative for one owed.
// Operators at zero are left out.
func (s *Service) runningPositions(ctx context.Context, window uint64, ops []Institution) (map[tongbao.ID]tongbao.Amount, error) {
	positions := make(map[tongbao.ID]tongbao.Amount)
	for _, op := range ops {
		a, err := s.ledger.Account(ctx, clearingAccount(op.ID, window))
		if errors.Is(err, ledger.ErrAccountNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if net := a.Net(); net != 0 {
			positions[op.ID] = net
		}
	}
	return positions, nil
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

// WalletHead returns a wallet's ledger balance and the timestamp of its
// latest transfer, read together: WalletTransfers from that timestamp
// walks exactly the transfers the balance includes, whatever commits
// meanwhile.
func (s *Service) WalletHead(ctx context.Context, id tongbao.ID) (ledger.Balance, int64, error) {
	a, err := s.ledger.Account(ctx, id)
	if err != nil {
		if errors.Is(err, ledger.ErrAccountNotFound) {
			return ledger.Balance{}, 0, ErrWalletNotFound
		}
		return ledger.Balance{}, 0, err
	}
	return a.Balance, a.LastTransfer, nil
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
// affect the others. It gives the same result per payment as Pay, but
// does the work of all of them at once: the records of the
// cross-operator payments are written in one store transaction, every
// payment's legs go to the ledger in one request (several when they do
// not fit BatchMax, never splitting a linked chain), and the outcomes of
// the cross-operator payments are written in one store transaction. A
// cross-operator payment that meets a window closed under it is booked
// again on its own, as Pay does. At most PayBatchMax payments.
func (s *Service) PayBatch(ctx context.Context, ps []Payment) ([]PaymentOutcome, error) {
	return s.payBatch(ctx, ps, s.paymentWallet, s.paymentWallet)
}

// payBatch is PayBatch with the rule for each side's wallet: payer and
// payee return the route of a wallet that may take that side, or why not.
func (s *Service) payBatch(ctx context.Context, ps []Payment, payer, payee func(context.Context, tongbao.ID) (Wallet, error)) ([]PaymentOutcome, error) {
	if len(ps) > PayBatchMax {
		return nil, tongbao.Errorf(tongbao.EINVALID, "a batch holds at most %d payments", PayBatchMax)
	}
	out := make([]PaymentOutcome, len(ps))
	// A payment that reached the ledger's door: its legs, and for a
	// cross-operator one the index of its record in recs (-1 otherwise).
	type leg struct {
		at, rec int
		ts      []ledger.Transfer
	}
	var legs []leg
	var recs []PaymentRecord
	var recAt []int
	for i, p := range ps {
		if p.ID.IsZero() {
			out[i].Err = ErrIDRequired
			continue
		}
		if err := s.checkMoney(p.Amount, p.Currency); err != nil {
			out[i].Err = err
			continue
		}
		from, err := payer(ctx, p.From)
		if err != nil {
			out[i].Err = wrap("payer wallet", err)
			continue
		}
		to, err := payee(ctx, p.To)
		if err != nil {
			out[i].Err = wrap("payee wallet", err)
			continue
		}
		if from.Operator != to.Operator {
			recs = append(recs, s.newPaymentRecord(p, from, to))
			recAt = append(recAt, i)
			legs = append(legs, leg{at: i, rec: len(recs) - 1})
			continue
		}
		legs = append(legs, leg{at: i, rec: -1, ts: []ledger.Transfer{{ID: p.ID, DebitAccountID: from.ID, CreditAccountID: to.ID, Amount: p.Amount, Code: TransferPayment}}})
	}
	// The records are written before the ledger is asked (see payAcross).
	if len(recs) > 0 {
		stored, created, err := s.store.CreatePayments(ctx, recs)
		for j, i := range recAt {
			if err != nil {
				out[i].Err = err
				continue
			}
			if recs[j], out[i].Err = samePayment(recs[j], stored[j], created[j]); out[i].Err != nil {
				recAt[j] = -1
			}
		}
		kept := legs[:0]
		for _, l := range legs {
			switch {
			case l.rec < 0:
			case err != nil || recAt[l.rec] < 0:
				continue
			default:
				l.ts = crossLegs(recs[l.rec].ID, recs[l.rec])
			}
			kept = append(kept, l)
		}
		legs = kept
	}
	var updates []PaymentRecord
	var updateAt []int
	var again []int // indexes in recs to book again in the new window
	flush := func() {
		if len(updates) == 0 {
			return
		}
		if err := s.store.UpdatePayments(ctx, updates); err != nil {
			for _, i := range updateAt {
				out[i] = PaymentOutcome{Err: err}
			}
		}
		updates, updateAt = nil, nil
	}
	batchMax := s.ledger.BatchMax()
	for len(legs) > 0 {
		var ts []ledger.Transfer
		n := 0
		for n < len(legs) && (n == 0 || len(ts)+len(legs[n].ts) <= batchMax) {
			ts = append(ts, legs[n].ts...)
			n++
		}
		rs, err := s.ledger.Submit(ctx, ts)
		if err != nil {
			// The outcome of this request is unknown: its records stay
			// pending, as after a crash, and the batch may be sent again.
			flush()
			return nil, err
		}
		for _, l := range legs[:n] {
			r := rs[:len(l.ts)]
			rs = rs[len(l.ts):]
			i := l.at
			if l.rec < 0 {
				if r[0].Err != nil {
					out[i].Err = wrap("payment", r[0].Err)
					continue
				}
				out[i].Result = PaymentResult{Timestamp: r[0].Timestamp, PayeeTimestamp: r[0].Timestamp, Duplicate: r[0].Duplicate}
				continue
			}
			k, ferr := firstFailure(r)
			rec, res, perr, retry := s.acrossOutcome(recs[l.rec], r, k, ferr, 0)
			recs[l.rec] = rec
			if retry {
				again = append(again, l.rec)
				continue
			}
			out[i] = PaymentOutcome{Result: res, Err: perr}
			updates, updateAt = append(updates, rec), append(updateAt, i)
		}
		legs = legs[n:]
	}
	flush()
	for _, j := range again {
		i := recAt[j]
		if err := s.store.UpdatePayment(ctx, recs[j]); err != nil {
			out[i].Err = err
			continue
		}
		out[i].Result, out[i].Err = s.bookAcross(ctx, recs[j], 1)
	}
	return out, nil
}

// WalletCacheMax bounds the wallets whose operator the service remembers.
const WalletCacheMax = 1 << 21

// walletRoute is what the payment path remembers of a wallet: neither
// ever changes.
type walletRoute struct {
	operator tongbao.ID
	kind     WalletKind
}

// WalletOperator returns the operator of a wallet, or ErrWalletNotFound.
// A wallet's operator never changes and a wallet is never deleted, so the
// answer is remembered: the payment path then reads no table to route a
// payment (states, freezes and caps are the ledger's to check).
func (s *Service) WalletOperator(ctx context.Context, id tongbao.ID) (tongbao.ID, error) {
	r, err := s.route(ctx, id)
	return r.operator, err
}

// route returns a wallet's operator and kind, remembered (see
// WalletOperator).
func (s *Service) route(ctx context.Context, id tongbao.ID) (walletRoute, error) {
	s.walletOpsMu.RLock()
	r, ok := s.walletOps[id]
	s.walletOpsMu.RUnlock()
	if ok {
		return r, nil
	}
	w, err := s.store.Wallet(ctx, id)
	if err != nil {
		return walletRoute{}, err
	}
	r = walletRoute{operator: w.Operator, kind: w.Kind}
	s.walletOpsMu.Lock()
	if s.walletOps == nil {
		s.walletOps = make(map[tongbao.ID]walletRoute)
	}
	if len(s.walletOps) < WalletCacheMax {
		s.walletOps[id] = r
	}
	s.walletOpsMu.Unlock()
	return r, nil
}

// paymentWallet returns what routing a generic payment (Pay, PayBatch)
// needs of a wallet: its id and operator. A scenario sub-wallet is
// refused, as payer and as payee: its money moves only through the
// scenario operations, which apply its scenario's rules.
func (s *Service) paymentWallet(ctx context.Context, id tongbao.ID) (Wallet, error) {
	r, err := s.route(ctx, id)
	if err != nil {
		return Wallet{}, err
	}
	switch r.kind {
	case WalletScenario:
		return Wallet{}, ErrScenarioWallet
	case WalletContract:
		return Wallet{}, ErrContractWallet
	case WalletOffline:
		return Wallet{}, ErrOfflineFloat
	}
	return Wallet{ID: id, Operator: r.operator, Kind: r.kind}, nil
}

// Transfer returns a ledger transfer by id, or ledger.ErrTransferNotFound:
// how a domain package learns whether an operation asked again under its
// id already posted, before a rule that has since changed (an expiry, a
// revocation) refuses the repeat.
func (s *Service) Transfer(ctx context.Context, id tongbao.ID) (ledger.Transfer, error) {
	return s.ledger.LookupTransfer(ctx, id)
}
