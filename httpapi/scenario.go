package httpapi

import (
	"errors"
	"net/http"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/scenario"
)

// scenarioRoutes are the endpoints of scenario sub-wallets: an operator
// admin defines templates for its operator; a holder pushes, funds,
// sweeps, pays from and grants or revokes charging on the sub-wallets of
// its own wallet; a merchant charges only the sub-wallets that granted it
// permission.
func (s *Server) scenarioRoutes() []route {
	created := http.StatusCreated
	holderOnly := []string{RoleHolder}
	return []route{
		{method: "POST", pattern: "/v1/operators/{operator}/scenario-templates", summary: "Define a scenario template: caps, allowed merchants, expiry, sweeping",
			roles: opOnly, request: "CreateScenarioTemplate", response: "ScenarioTemplate", status: created, handle: s.createTemplate},
		{method: "GET", pattern: "/v1/operators/{operator}/scenario-templates", summary: "An operator's scenario templates",
			roles: []string{RoleOperatorAdmin, RoleHolder}, response: "ScenarioTemplateList", handle: s.listTemplates},
		{method: "POST", pattern: "/v1/wallets/{wallet}/sub-wallets", summary: "Push a sub-wallet of the holder's wallet to a scenario template",
			roles: holderOnly, request: "PushSubWallet", response: "SubWallet", status: created, handle: s.pushSubWallet},
		{method: "GET", pattern: "/v1/wallets/{wallet}/sub-wallets", summary: "A wallet's scenario sub-wallets",
			roles: opOrHold, response: "SubWalletList", handle: s.listSubWallets},
		{method: "GET", pattern: "/v1/sub-wallets/{wallet}", summary: "Read a sub-wallet, its balance and what it paid today",
			roles: opOrHold, response: "SubWallet", handle: s.getSubWallet},
		{method: "POST", pattern: "/v1/sub-wallets/{wallet}/fund", summary: "Move money from the parent wallet into a sub-wallet",
			roles: holderOnly, money: true, request: "Money", response: "Receipt", handle: s.fundSubWallet},
		{method: "POST", pattern: "/v1/sub-wallets/{wallet}/sweep", summary: "Move money from a sub-wallet back to its parent (always allowed after the expiry)",
			roles: holderOnly, money: true, request: "Money", response: "Receipt", handle: s.sweepSubWallet},
		{method: "POST", pattern: "/v1/sub-wallets/{wallet}/payments", summary: "Pay a merchant the template allows from a sub-wallet",
			roles: holderOnly, money: true, request: "ScenarioPay", response: "Payment", status: created, handle: s.paySubWallet},
		{method: "POST", pattern: "/v1/sub-wallets/{wallet}/charge-permission", summary: "Let one merchant charge the sub-wallet without a prompt (tap to pay)",
			roles: holderOnly, request: "GrantCharge", response: "SubWallet", handle: s.grantCharge},
		{method: "POST", pattern: "/v1/sub-wallets/{wallet}/charge-permission/revoke", summary: "Revoke the merchant's permission to charge the sub-wallet",
			roles: holderOnly, response: "SubWallet", handle: s.revokeCharge},
		{method: "POST", pattern: "/v1/sub-wallets/{wallet}/charges", summary: "Charge a sub-wallet that granted the calling merchant permission",
			roles: []string{RoleMerchant}, money: true, request: "ScenarioCharge", response: "Payment", status: created, handle: s.chargeSubWallet},
	}
}

// scenarios returns the scenario service, or an unavailable error on a
// server that does not serve scenario sub-wallets.
func (c *call) scenarios() (*scenario.Service, error) {
	if c.scenario == nil {
		return nil, tongbao.Errorf(tongbao.EUNAVAILABLE, "scenario sub-wallets are not served here")
	}
	return c.scenario, nil
}

// ownSubWallet loads the sub-wallet in the path: a holder's if its
// parent is the holder's wallet, an operator admin's if it is at the
// admin's operator.
func (c *call) ownSubWallet() (*scenario.Service, scenario.SubWallet, error) {
	sc, err := c.scenarios()
	if err != nil {
		return nil, scenario.SubWallet{}, err
	}
	id, err := c.walletPath()
	if err != nil {
		return nil, scenario.SubWallet{}, err
	}
	w, err := sc.SubWallet(c.ctx, id)
	if err != nil {
		return nil, scenario.SubWallet{}, err
	}
	switch {
	case c.p.Role == RoleHolder && w.Parent == c.p.Wallet,
		c.p.Role == RoleOperatorAdmin && w.Operator == c.p.Institution:
		return sc, w, nil
	}
	return nil, scenario.SubWallet{}, errForbidden
}

func timeOut(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func templateOut(t scenario.Template) wire.ScenarioTemplate {
	out := wire.ScenarioTemplate{ID: t.ID, Operator: t.Operator, Name: t.Name, BalanceMax: wire.Amount(t.BalanceMax), PaymentMax: wire.Amount(t.PaymentMax),
		DailyMax: wire.Amount(t.DailyMax), Merchants: t.Merchants, Categories: t.Categories, Regions: t.Regions, ExpiresAt: timeOut(t.ExpiresAt),
		Withdrawable: t.Withdrawable, CreatedAt: t.CreatedAt.UTC()}
	if out.Merchants == nil {
		out.Merchants = []tongbao.ID{}
	}
	if out.Categories == nil {
		out.Categories = []string{}
	}
	if out.Regions == nil {
		out.Regions = []string{}
	}
	return out
}

func subWalletOut(w scenario.SubWallet, now time.Time) wire.SubWallet {
	return wire.SubWallet{ID: w.Wallet, Parent: w.Parent, Template: w.Template, Operator: w.Operator, ExpiresAt: timeOut(w.ExpiresAt), Expired: w.Expired(now),
		ChargeMerchant: w.ChargeMerchant, ChargeGrantedAt: timeOut(w.ChargeGrantedAt), ChargeRevokedAt: timeOut(w.ChargeRevokedAt), EndedAt: timeOut(w.EndedAt), CreatedAt: w.CreatedAt.UTC()}
}

func (s *Server) createTemplate(c *call) (any, error) {
	sc, err := c.scenarios()
	if err != nil {
		return nil, err
	}
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	var in wire.CreateScenarioTemplate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	spec := scenario.TemplateSpec{Operator: op, Name: in.Name, BalanceMax: tongbao.Amount(in.BalanceMax), PaymentMax: tongbao.Amount(in.PaymentMax),
		DailyMax: tongbao.Amount(in.DailyMax), Merchants: in.Merchants, Categories: in.Categories, Regions: in.Regions, Withdrawable: in.Withdrawable}
	if in.ExpiresAt != nil {
		spec.ExpiresAt = *in.ExpiresAt
	}
	spec.ID = c.chosenID(in.ID)
	t, err := sc.CreateTemplate(c.ctx, spec)
	if err != nil {
		return nil, err
	}
	return templateOut(t), nil
}

func (s *Server) listTemplates(c *call) (any, error) {
	sc, err := c.scenarios()
	if err != nil {
		return nil, err
	}
	op, err := c.pathID("operator")
	if err != nil {
		return nil, err
	}
	if c.p.Role == RoleHolder {
		// A holder sees the templates of its own wallet's operator.
		w, err := c.svc.Wallet(c.ctx, c.p.Wallet)
		if err != nil {
			return nil, err
		}
		if w.Operator != op {
			return nil, errForbidden
		}
	} else if err := c.ownOperator(op); err != nil {
		return nil, err
	}
	ts, err := sc.Templates(c.ctx, op)
	if err != nil {
		return nil, err
	}
	out := wire.ScenarioTemplateList{Items: make([]wire.ScenarioTemplate, 0, len(ts))}
	for _, t := range ts {
		out.Items = append(out.Items, templateOut(t))
	}
	return out, nil
}

func (s *Server) pushSubWallet(c *call) (any, error) {
	sc, err := c.scenarios()
	if err != nil {
		return nil, err
	}
	parent, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	if _, err := s.ownWallet(c, parent); err != nil {
		return nil, err
	}
	var in wire.PushSubWallet
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	spec := scenario.PushSpec{Parent: parent, Template: in.Template}
	if in.ExpiresAt != nil {
		spec.ExpiresAt = *in.ExpiresAt
	}
	spec.ID = c.chosenID(in.ID)
	w, err := sc.Push(c.ctx, spec)
	if err != nil {
		return nil, err
	}
	return subWalletOut(w, c.svc.Now()), nil
}

func (s *Server) listSubWallets(c *call) (any, error) {
	sc, err := c.scenarios()
	if err != nil {
		return nil, err
	}
	parent, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	if _, err := s.ownWallet(c, parent); err != nil {
		return nil, err
	}
	ws, err := sc.SubWallets(c.ctx, parent)
	if err != nil {
		return nil, err
	}
	now := c.svc.Now()
	out := wire.SubWalletList{Items: make([]wire.SubWallet, 0, len(ws))}
	for _, w := range ws {
		out.Items = append(out.Items, subWalletOut(w, now))
	}
	return out, nil
}

func (s *Server) getSubWallet(c *call) (any, error) {
	sc, w, err := c.ownSubWallet()
	if err != nil {
		return nil, err
	}
	d, err := sc.Describe(c.ctx, w.Wallet)
	if err != nil {
		return nil, err
	}
	out := subWalletOut(d.SubWallet, c.svc.Now())
	bal, paid := wire.Amount(d.Balance), wire.Amount(d.PaidToday)
	out.Balance, out.PaidToday = &bal, &paid
	return out, nil
}

func (s *Server) subWalletMove(c *call, sweep bool) (any, error) {
	sc, w, err := c.ownSubWallet()
	if err != nil {
		return nil, err
	}
	var in wire.Money
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	m := scenario.Move{ID: c.id(0), SubWallet: w.Wallet, Amount: tongbao.Amount(in.Amount), Currency: in.Currency}
	f := sc.Fund
	if sweep {
		f = sc.Sweep
	}
	r, err := f(c.ctx, m)
	if err != nil {
		return nil, err
	}
	return receiptOut(m.ID, r), nil
}

func (s *Server) fundSubWallet(c *call) (any, error)  { return s.subWalletMove(c, false) }
func (s *Server) sweepSubWallet(c *call) (any, error) { return s.subWalletMove(c, true) }

func (s *Server) paySubWallet(c *call) (any, error) {
	sc, w, err := c.ownSubWallet()
	if err != nil {
		return nil, err
	}
	var in wire.ScenarioPay
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	p := scenario.Payment{ID: c.id(0), SubWallet: w.Wallet, Merchant: in.Merchant, Amount: tongbao.Amount(in.Amount), Currency: in.Currency}
	r, err := sc.Pay(c.ctx, p)
	if err != nil {
		return nil, err
	}
	return paymentOut(p.ID, p.SubWallet, p.Merchant, p.Amount, r), nil
}

func (s *Server) grantCharge(c *call) (any, error) {
	sc, w, err := c.ownSubWallet()
	if err != nil {
		return nil, err
	}
	var in wire.GrantCharge
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	w, err = sc.GrantCharge(c.ctx, w.Wallet, in.Merchant)
	if err != nil {
		return nil, err
	}
	return subWalletOut(w, c.svc.Now()), nil
}

func (s *Server) revokeCharge(c *call) (any, error) {
	sc, w, err := c.ownSubWallet()
	if err != nil {
		return nil, err
	}
	w, err = sc.RevokeCharge(c.ctx, w.Wallet)
	if err != nil {
		return nil, err
	}
	return subWalletOut(w, c.svc.Now()), nil
}

func (s *Server) chargeSubWallet(c *call) (any, error) {
	sc, err := c.scenarios()
	if err != nil {
		return nil, err
	}
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	var in wire.ScenarioCharge
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	// A merchant charges only a sub-wallet that granted it permission
	// (revoked since or not: the domain answers that), and learns nothing
	// of any other, not even whether it exists. The domain decides even
	// when the permission is another merchant's now, so a retry of a
	// charge that went through before is answered with it.
	p := scenario.Payment{ID: c.id(0), SubWallet: id, Merchant: c.p.Wallet, Amount: tongbao.Amount(in.Amount), Currency: in.Currency}
	r, err := sc.Charge(c.ctx, p)
	if errors.Is(err, scenario.ErrSubWalletNotFound) || errors.Is(err, scenario.ErrChargeNotGranted) {
		return nil, errForbidden
	}
	if err != nil {
		return nil, err
	}
	return paymentOut(p.ID, p.SubWallet, p.Merchant, p.Amount, r), nil
}
