package httpapi

import (
	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/twotier"
)

func windowOut(w twotier.Window) wire.Window {
	out := wire.Window{Number: w.Number, Status: string(w.Status), OpenedAt: w.OpenedAt}
	if !w.ClosedAt.IsZero() {
		t := w.ClosedAt
		out.ClosedAt = &t
	}
	if !w.SettledAt.IsZero() {
		t := w.SettledAt
		out.SettledAt = &t
	}
	if len(w.Positions) > 0 {
		out.Positions = positionsOut(w.Positions)
	}
	return out
}

func positionsOut(ps map[tongbao.ID]tongbao.Amount) map[string]wire.Amount {
	out := make(map[string]wire.Amount, len(ps))
	for op, a := range ps {
		out[op.String()] = wire.Amount(a)
	}
	return out
}

func (s *Server) listWindows(c *call) (any, error) {
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	from, err := c.uintCursor()
	if err != nil {
		return nil, err
	}
	ws, err := c.svc.Windows(c.ctx, from)
	if err != nil {
		return nil, err
	}
	page := wire.WindowPage{Items: []wire.Window{}}
	for i, w := range ws {
		if i == limit {
			page.NextCursor = uintCursor(w.Number)
			break
		}
		out := windowOut(w)
		if c.p.Role == RoleOperatorAdmin { // an operator sees its own position only
			for op := range out.Positions {
				if op != c.p.Institution.String() {
					delete(out.Positions, op)
				}
			}
		}
		page.Items = append(page.Items, out)
	}
	return page, nil
}

// CloseWindow is the body of a request to close a settlement window:
// Window, when set, must be the current window, so a retry after a lost
// answer cannot close the next one too.
type CloseWindow struct {
	Window uint64 `json:"window,omitempty"`
}

func (s *Server) closeWindow(c *call) (any, error) {
	var in CloseWindow
	if len(c.body) > 0 {
		if err := c.decode(&in); err != nil {
			return nil, err
		}
	}
	st, err := c.svc.CloseWindow(c.ctx, in.Window)
	if err != nil {
		return nil, err
	}
	return wire.Settlement{Window: st.Window, Positions: positionsOut(st.Positions)}, nil
}

func (s *Server) supply(c *call) (any, error) {
	r, err := c.svc.SupplyReport(c.ctx)
	if err != nil {
		return nil, err
	}
	out := wire.Supply{At: r.At, Issued: wire.Amount(r.Issued), Backing: wire.Amount(r.Backing), OK: r.OK, Operators: []wire.OperatorSupply{}}
	for _, o := range r.Operators {
		out.Operators = append(out.Operators, wire.OperatorSupply{Operator: o.Operator, Backing: wire.Amount(o.Backing), Vault: wire.Amount(o.Vault),
			Wallets: wire.Amount(o.Wallets), Clearing: wire.Amount(o.Clearing), OfflineFloat: wire.Amount(o.OfflineFloat), Liabilities: wire.Amount(o.Liabilities), OK: o.OK})
	}
	return out, nil
}

func (s *Server) reconcile(c *call) (any, error) {
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	day, err := c.svc.Day(c.r.URL.Query().Get("day"))
	if err != nil {
		return nil, err
	}
	r, err := c.svc.Reconcile(c.ctx, op, day)
	if err != nil {
		return nil, err
	}
	out := wire.Reconciliation{Operator: r.Operator, Day: r.Day, Records: r.Records, Transfers: r.Transfers, Settled: r.Settled, Differences: []wire.Difference{}}
	if out.Settled == nil {
		out.Settled = []uint64{}
	}
	for _, d := range r.Differences {
		out.Differences = append(out.Differences, wire.Difference{Kind: d.Kind, PaymentID: d.PaymentID, TransferID: d.TransferID, Window: d.Window,
			Ours: wire.Amount(d.Ours), Theirs: wire.Amount(d.Theirs), Detail: d.Detail})
	}
	return out, nil
}
