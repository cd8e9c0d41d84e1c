package httpapi

import (
	"strconv"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/twotier"
)

func limitsOut(l ledger.Limits) wire.Limits {
	return wire.Limits{BalanceMax: wire.Amount(l.BalanceMax), DebitMax: wire.Amount(l.DebitMax), DailyDebitMax: wire.Amount(l.DailyDebitMax), YearlyDebitMax: wire.Amount(l.YearlyDebitMax)}
}

func limitsIn(l *wire.Limits) *ledger.Limits {
	if l == nil {
		return nil
	}
	return &ledger.Limits{BalanceMax: tongbao.Amount(l.BalanceMax), DebitMax: tongbao.Amount(l.DebitMax), DailyDebitMax: tongbao.Amount(l.DailyDebitMax), YearlyDebitMax: tongbao.Amount(l.YearlyDebitMax)}
}

func capVersionOut(v twotier.CapVersion) wire.CapVersion {
	out := wire.CapVersion{Version: v.Version, EffectiveFrom: v.EffectiveFrom, Caps: map[string]wire.Limits{}, SetBy: v.SetBy, SetAt: v.SetAt}
	for c, l := range v.Caps {
		out.Caps[strconv.Itoa(int(c))] = limitsOut(l)
	}
	return out
}

func (s *Server) getCaps(c *call) (any, error) {
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	if _, err := c.svc.Institution(c.ctx, op); err != nil {
		return nil, err
	}
	vs, err := c.svc.CapSchedule(c.ctx, op)
	if err != nil {
		return nil, err
	}
	out := wire.CapSchedule{Items: []wire.CapVersion{}}
	for _, v := range vs {
		out.Items = append(out.Items, capVersionOut(v))
	}
	return out, nil
}

func (s *Server) setCaps(c *call) (any, error) {
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	var in wire.SetCaps
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	caps := make(map[twotier.Category]ledger.Limits, len(in.Caps))
	for k, l := range in.Caps {
		n, err := strconv.Atoi(k)
		if err != nil {
			return nil, tongbao.Errorf(tongbao.EINVALID, "caps are keyed by category 2, 3 or 4, not %q", k)
		}
		caps[twotier.Category(n)] = *limitsIn(&l)
	}
	v, err := c.svc.SetCaps(c.ctx, op, in.EffectiveFrom, caps, "key "+c.p.KeyID)
	if err != nil {
		return nil, err
	}
	return capVersionOut(v), nil
}
