package httpapi

import (
	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/twotier"
)

// payee resolves a payment's "to": a wallet id is used as it is (the
// domain finds it), a phone number is looked up.
func (s *Server) payee(c *call, to string) (tongbao.ID, error) {
	if id, err := tongbao.ParseID(to); err == nil {
		return id, nil
	}
	if to == "" {
		return tongbao.ID{}, tongbao.Errorf(tongbao.EINVALID, "the payee (to) is required")
	}
	w, err := c.svc.Resolve(c.ctx, to)
	if err != nil {
		return tongbao.ID{}, err
	}
	return w.ID, nil
}

func paymentOut(id tongbao.ID, from, to tongbao.ID, amount tongbao.Amount, r twotier.PaymentResult) *wire.Payment {
	return &wire.Payment{ID: id, From: from, To: to, Amount: wire.Amount(amount), Timestamp: r.Timestamp, CrossOperator: r.CrossOperator, Window: r.Window, Duplicate: r.Duplicate}
}

func (s *Server) pay(c *call) (any, error) {
	var in wire.Pay
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.From != c.p.Wallet {
		return nil, errForbidden
	}
	to, err := s.payee(c, in.To)
	if err != nil {
		return nil, err
	}
	p := twotier.Payment{ID: c.id(0), From: in.From, To: to, Amount: tongbao.Amount(in.Amount), Currency: in.Currency}
	r, err := c.svc.Pay(c.ctx, p)
	if err != nil {
		return nil, err
	}
	return paymentOut(p.ID, p.From, p.To, p.Amount, r), nil
}

func (s *Server) payBatch(c *call) (any, error) {
	var in wire.PayBatch
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if len(in.Payments) == 0 || len(in.Payments) > wire.PayBatchMax {
		return nil, tongbao.Errorf(tongbao.EINVALID, "a batch holds 1 to %d payments", wire.PayBatchMax)
	}
	out := wire.PayBatchResults{Results: make([]wire.PayBatchResult, len(in.Payments))}
	ps := make([]twotier.Payment, 0, len(in.Payments))
	index := make([]int, 0, len(in.Payments))
	fail := func(i int, err error) {
		p := Problem(err)
		out.Results[i].Problem = p
	}
	for i, x := range in.Payments {
		if c.p.Role == RoleHolder && x.From != c.p.Wallet {
			fail(i, errForbidden)
			continue
		}
		if c.p.Role == RoleOperatorAdmin {
			op, err := c.svc.WalletOperator(c.ctx, x.From)
			if err == nil && op != c.p.Institution {
				err = errForbidden
			}
			if err != nil {
				fail(i, err)
				continue
			}
		}
		to, err := s.payee(c, x.To)
		if err != nil {
			fail(i, err)
			continue
		}
		ps = append(ps, twotier.Payment{ID: c.id(i), From: x.From, To: to, Amount: tongbao.Amount(x.Amount), Currency: x.Currency})
		index = append(index, i)
	}
	rs, err := c.svc.PayBatch(c.ctx, ps)
	if err != nil {
		return nil, err
	}
	for j, r := range rs {
		i := index[j]
		if r.Err != nil {
			fail(i, r.Err)
			continue
		}
		p := ps[j]
		out.Results[i].Payment = paymentOut(p.ID, p.From, p.To, p.Amount, r.Result)
	}
	return out, nil
}
