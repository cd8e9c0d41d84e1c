package httpapi

import (
	"context"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/twotier"
)

func walletOut(w twotier.Wallet) wire.Wallet {
	out := wire.Wallet{ID: w.ID, Operator: w.Operator, Kind: string(w.Kind), Category: int(w.Category), HolderMasked: w.HolderMasked, AliasMasked: w.AliasMasked,
		MerchantCategory: w.MerchantCategory, Region: w.Region, State: string(w.State), StateReason: w.StateReason, FreezeReason: w.FreezeReason,
		CapVersion: w.CapVersion, OpenedAt: w.OpenedAt, UpdatedAt: w.UpdatedAt}
	if !w.FrozenUntil.IsZero() {
		t := w.FrozenUntil
		out.FrozenUntil = &t
	}
	if w.HolderLimits != nil {
		l := limitsOut(*w.HolderLimits)
		out.HolderLimits = &l
	}
	return out
}

func (s *Server) openWallet(c *call) (any, error) {
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	var in wire.OpenWallet
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	spec := twotier.WalletSpec{Operator: op, Category: twotier.Category(in.Category), HolderName: in.HolderName, Phone: in.Phone,
		Merchant: in.Merchant, MerchantCategory: in.MerchantCategory, Region: in.Region, HolderLimits: limitsIn(in.HolderLimits)}
	spec.ID = c.chosenID(in.ID)
	w, err := c.svc.OpenWallet(c.ctx, spec)
	if err != nil {
		return nil, err
	}
	return walletOut(w), nil
}

func (s *Server) listWallets(c *call) (any, error) {
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	cur, err := c.cursor()
	if err != nil {
		return nil, err
	}
	var after tongbao.ID
	if cur != nil {
		if len(cur) != len(after) {
			return nil, tongbao.Errorf(tongbao.EINVALID, "cursor is not one this API returned")
		}
		copy(after[:], cur)
	}
	ws, err := c.svc.Wallets(c.ctx, op, after, limit)
	if err != nil {
		return nil, err
	}
	page := wire.WalletPage{Items: make([]wire.Wallet, 0, len(ws))}
	for _, w := range ws {
		page.Items = append(page.Items, walletOut(w))
	}
	if len(ws) == limit {
		last := ws[len(ws)-1].ID
		page.NextCursor = encodeCursor(last[:])
	}
	return page, nil
}

func (s *Server) getWallet(c *call) (any, error) {
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	w, err := s.ownWallet(c, id)
	if err != nil {
		return nil, err
	}
	b, err := c.svc.WalletBalance(c.ctx, id)
	if err != nil {
		return nil, err
	}
	out := walletOut(w)
	bal, avail := wire.Amount(b.Net()), wire.Amount(b.Available())
	out.Balance, out.Available = &bal, &avail
	return out, nil
}

// transferKinds names the domain's transfer codes.
var transferKinds = map[uint16]string{
	twotier.TransferTopUp: "top_up", twotier.TransferWithdraw: "withdrawal",
	twotier.TransferPayment: "payment", twotier.TransferCrossPayment: "cross_operator_payment",
	twotier.TransferScenarioFund: "sub_wallet_funding", twotier.TransferScenarioSweep: "sub_wallet_sweep",
	twotier.TransferScenarioPayment: "sub_wallet_payment", twotier.TransferScenarioCharge: "sub_wallet_charge",
}

// merchantSees are the transfers a merchant key sees coming in: payments.
var merchantSees = map[uint16]bool{
	twotier.TransferPayment: true, twotier.TransferCrossPayment: true,
	twotier.TransferScenarioPayment: true, twotier.TransferScenarioCharge: true,
}

func (s *Server) walletTransfers(c *call) (any, error) {
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	if _, err := s.ownWallet(c, id); err != nil {
		return nil, err
	}
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	cur, err := c.uintCursor()
	if err != nil {
		return nil, err
	}
	ts, next, err := c.svc.WalletTransfers(c.ctx, id, int64(cur), limit)
	if err != nil {
		return nil, err
	}
	page := wire.TransferPage{Items: make([]wire.Transfer, 0, len(ts))}
	for _, t := range ts {
		dir := "out"
		if t.CreditAccountID == id {
			dir = "in"
		}
		kind := transferKinds[t.Code]
		if c.p.Role == RoleMerchant && (dir != "in" || !merchantSees[t.Code]) {
			continue // a merchant key sees the wallet's incoming payments only
		}
		page.Items = append(page.Items, wire.Transfer{ID: t.ID, Kind: kind, Direction: dir, Debit: t.DebitAccountID, Credit: t.CreditAccountID,
			Amount: wire.Amount(t.Amount), Timestamp: t.Timestamp, At: time.Unix(0, t.Timestamp).UTC()})
	}
	if next != 0 {
		page.NextCursor = uintCursor(uint64(next))
	}
	return page, nil
}

func (s *Server) walletMoney(c *call, f func(ctx context.Context, op twotier.WalletOperation) (twotier.Receipt, error)) (any, error) {
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	if _, err := s.ownWallet(c, id); err != nil {
		return nil, err
	}
	var in wire.Money
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	op := twotier.WalletOperation{ID: c.id(0), Wallet: id, Amount: tongbao.Amount(in.Amount), Currency: in.Currency}
	r, err := f(c.ctx, op)
	if err != nil {
		return nil, err
	}
	return receiptOut(op.ID, r), nil
}

func (s *Server) topUp(c *call) (any, error)    { return s.walletMoney(c, c.svc.TopUp) }
func (s *Server) withdraw(c *call) (any, error) { return s.walletMoney(c, c.svc.Withdraw) }

func (s *Server) setState(c *call) (any, error) {
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	if _, err := s.ownWallet(c, id); err != nil {
		return nil, err
	}
	var in wire.SetState
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	w, err := c.svc.SetState(c.ctx, id, twotier.WalletState(in.State), in.Reason)
	if err != nil {
		return nil, err
	}
	return walletOut(w), nil
}

func (s *Server) freeze(c *call) (any, error) {
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	if _, err := s.ownWallet(c, id); err != nil {
		return nil, err
	}
	var in wire.Freeze
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var until time.Time
	if in.Until != nil {
		until = *in.Until
	}
	w, err := c.svc.Freeze(c.ctx, id, until, in.Reason)
	if err != nil {
		return nil, err
	}
	return walletOut(w), nil
}

func (s *Server) changeCategory(c *call) (any, error) {
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	if _, err := s.ownWallet(c, id); err != nil {
		return nil, err
	}
	var in wire.ChangeCategory
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	w, err := c.svc.ChangeCategory(c.ctx, id, twotier.Category(in.Category), limitsIn(in.HolderLimits))
	if err != nil {
		return nil, err
	}
	return walletOut(w), nil
}

func (s *Server) resolve(c *call) (any, error) {
	alias := c.r.URL.Query().Get("alias")
	if alias == "" {
		return nil, tongbao.Errorf(tongbao.EINVALID, "alias is required")
	}
	w, err := c.svc.Resolve(c.ctx, alias)
	if err != nil {
		return nil, err
	}
	return wire.ResolvedWallet{ID: w.ID, Kind: string(w.Kind), HolderMasked: w.HolderMasked, Operator: w.Operator}, nil
}
