package httpapi

import (
	"context"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/twotier"
)

func institutionOut(in twotier.Institution) wire.Institution {
	out := wire.Institution{ID: in.ID, Kind: string(in.Kind), Name: in.Name, CreatedAt: in.CreatedAt}
	if in.Kind == twotier.KindOperator {
		cap := wire.Amount(in.NetDebitCap)
		out.NetDebitCap = &cap
	}
	return out
}

func (s *Server) listOperators(c *call) (any, error) {
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	from, err := c.uintCursor()
	if err != nil {
		return nil, err
	}
	ops, err := c.svc.Operators(c.ctx)
	if err != nil {
		return nil, err
	}
	page := wire.InstitutionPage{Items: []wire.Institution{}}
	for i := int(min(from, uint64(len(ops)))); i < len(ops); i++ {
		if c.ownOperator(ops[i].ID) != nil {
			continue
		}
		if len(page.Items) == limit {
			page.NextCursor = uintCursor(uint64(i))
			break
		}
		page.Items = append(page.Items, institutionOut(ops[i]))
	}
	return page, nil
}

func (s *Server) createOperator(c *call) (any, error) {
	var in wire.CreateOperator
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	id := c.chosenID(in.ID)
	if id.IsZero() {
		id = tongbao.NewID()
	}
	if err := c.svc.AddOperator(c.ctx, id, in.Name, tongbao.Amount(in.NetDebitCap)); err != nil {
		return nil, err
	}
	op, err := c.svc.Institution(c.ctx, id)
	if err != nil {
		return nil, err
	}
	return institutionOut(op), nil
}

func (s *Server) getOperator(c *call) (any, error) {
	id, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	in, err := c.svc.Institution(c.ctx, id)
	if err != nil {
		return nil, err
	}
	return institutionOut(in), nil
}

// operation decodes the body of a reserves, issue or redeem request.
func (s *Server) operation(c *call) (twotier.Operation, error) {
	id, err := c.operatorPath()
	if err != nil {
		return twotier.Operation{}, err
	}
	var in wire.Money
	if err := c.decode(&in); err != nil {
		return twotier.Operation{}, err
	}
	return twotier.Operation{ID: c.id(0), Operator: id, Amount: tongbao.Amount(in.Amount), Currency: in.Currency}, nil
}

func receiptOut(id tongbao.ID, r twotier.Receipt) wire.Receipt {
	return wire.Receipt{ID: id, Timestamp: r.Timestamp, Duplicate: r.Duplicate}
}

func (s *Server) moveOperator(c *call, f func(ctx context.Context, op twotier.Operation) (twotier.Receipt, error)) (any, error) {
	op, err := s.operation(c)
	if err != nil {
		return nil, err
	}
	r, err := f(c.ctx, op)
	if err != nil {
		return nil, err
	}
	return receiptOut(op.ID, r), nil
}

func (s *Server) depositReserves(c *call) (any, error) {
	return s.moveOperator(c, c.svc.DepositReserves)
}
func (s *Server) withdrawReserves(c *call) (any, error) {
	return s.moveOperator(c, c.svc.WithdrawReserves)
}
func (s *Server) issue(c *call) (any, error)  { return s.moveOperator(c, c.svc.Issue) }
func (s *Server) redeem(c *call) (any, error) { return s.moveOperator(c, c.svc.Redeem) }
