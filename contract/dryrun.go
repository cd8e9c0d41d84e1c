package contract

import (
	"context"
	"fmt"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// DryStepsMax is the most steps one DryRun takes.
const DryStepsMax = 100

// DryStep is a hypothetical trigger occurrence for DryRun.
type DryStep struct {
	// At is the moment of the step: zero for the service's clock (or the
	// previous step's moment, if later); never before the previous step.
	At time.Time
	// Trigger names a trigger of the document, or "activate" (the
	// funding, with every consent assumed), "terminate", or "deposit".
	Trigger string
	// Party makes a request or a deposit; Wallet a request by any.
	Party  string
	Wallet tongbao.ID
	// Amount is a deposit's.
	Amount tongbao.Amount
	// Data is the event's or the request's data.
	Data map[string]any
}

// DryRun plays hypothetical steps on a contract and returns, for each, the
// invocation it would record: the conditions and their values, the money
// that would move and the outcome, without moving or storing anything.
// Balances start from the ledger's and follow the simulated moves; a move
// past a balance fails as the ledger would (the wallets' caps are not
// simulated). A refusal is returned as an invocation of outcome failed
// with its error, and the steps go on.
func (s *Service) DryRun(ctx context.Context, id tongbao.ID, steps []DryStep) ([]Invocation, error) {
	if len(steps) == 0 || len(steps) > DryStepsMax {
		return nil, tongbao.Errorf(tongbao.EINVALID, "a dry run takes 1 to %d steps", DryStepsMax)
	}
	c, err := s.store.Contract(ctx, id)
	if err != nil {
		return nil, err
	}
	d, err := s.Document(c)
	if err != nil {
		return nil, err
	}
	// Simulated balances: each wallet party's and the contract's.
	wallets := map[tongbao.ID]tongbao.Amount{}
	for _, p := range d.Parties {
		if p.Wallet == "" {
			continue
		}
		w, _ := tongbao.ParseID(p.Wallet)
		b, err := s.payments.WalletBalance(ctx, w)
		if err != nil {
			return nil, err
		}
		wallets[w] = b.Available()
	}
	cb, err := s.payments.WalletBalance(ctx, c.Wallet)
	if err != nil {
		return nil, err
	}
	wallets[c.Wallet] = cb.Available()
	now := s.clock.Now()
	out := make([]Invocation, 0, len(steps))
	for i, st := range steps {
		if !st.At.IsZero() {
			if st.At.Before(now) && i > 0 {
				return nil, tongbao.Errorf(tongbao.EINVALID, "step %d goes back in time", i+1)
			}
			now = st.At
		}
		cl, err := s.dryCall(c, d, st, i)
		if err != nil {
			out = append(out, Invocation{Contract: c.ID, Trigger: st.Trigger, At: now, Outcome: OutcomeFailed, Error: describe(err)})
			continue
		}
		if cl.activate {
			c.Runtime = cloneRuntime(c.Runtime)
			for _, name := range d.DebitedParties() {
				if _, ok := c.Runtime.Consents[name]; !ok {
					c.Runtime.Consents[name] = Consent{At: now, By: "dry run"}
				}
			}
		} else if cl.end == "" && c.Status != StatusActive {
			out = append(out, Invocation{Contract: c.ID, Trigger: st.Trigger, At: now, Outcome: OutcomeFailed, Error: describe(statusError(c.Status))})
			continue
		}
		balance := map[string]int64{}
		for _, p := range d.Parties {
			if p.Wallet != "" {
				w, _ := tongbao.ParseID(p.Wallet)
				balance[p.Name] = int64(wallets[w])
			}
		}
		inv, err := s.plan(ctx, c, d, cl, now, balance)
		if err != nil {
			out = append(out, Invocation{Contract: c.ID, Key: cl.key, Trigger: cl.trigger, At: now, Outcome: OutcomeFailed, Error: describe(err)})
			continue
		}
		if inv.Outcome == OutcomePending {
			if err := simulate(wallets, s.openHolds(c), c, inv.Moves); err != nil {
				inv = s.failed(c, d, inv, err)
			} else {
				inv.Outcome = OutcomeSucceeded
			}
		}
		if inv.Outcome != OutcomeFailed || inv.Next.Invocations > c.Runtime.Invocations {
			c.Runtime, c.Status = inv.Next, inv.NextStatus
			c.Version++
		}
		inv.Timers = nil
		out = append(out, inv)
	}
	return out, nil
}

func statusError(s Status) error {
	switch s {
	case StatusPending:
		return ErrNotActive
	case StatusPaused:
		return ErrPaused
	}
	return ErrEnded
}

// dryCall builds the call a step stands for.
func (s *Service) dryCall(c Contract, d *Document, st DryStep, i int) (call, error) {
	key := fmt.Sprintf("dry-run:%d", i)
	data := JSONValues(st.Data)
	if data == nil {
		data = map[string]any{}
	}
	switch st.Trigger {
	case "activate":
		return call{key: key, trigger: "activate", activate: true}, nil
	case "terminate":
		return call{key: key, trigger: "terminate", end: StatusTerminated, reason: "dry run", event: map[string]any{"reason": "dry run"}}, nil
	case "deposit":
		w, err := s.PartyWallet(c, st.Party)
		if err != nil {
			return call{}, err
		}
		if st.Amount <= 0 {
			return call{}, tongbao.ErrAmountInvalid
		}
		return call{key: key, trigger: "received", event: map[string]any{"amount": int64(st.Amount), "from": st.Party},
			deposit: &deposit{party: st.Party, wallet: w, amount: st.Amount}}, nil
	}
	t := findTrigger(d, st.Trigger)
	if t == nil {
		return call{}, docError(ErrNoTrigger, "no trigger %q", st.Trigger)
	}
	cl := call{key: key, t: t, trigger: t.Name}
	switch on := t.On; {
	case on.Event != nil:
		cl.event = map[string]any{"id": key, "type": on.Event.Type, "signer": on.Event.Signer, "data": data, "issued_at": time.Time{}}
	case on.Request != nil:
		wallet := st.Wallet
		party := st.Party
		if on.Request.By != AnyWallet {
			party = on.Request.By
			w, err := s.PartyWallet(c, party)
			if err != nil {
				return call{}, err
			}
			wallet = w
		} else {
			party = wallet.String()
		}
		cl.event = map[string]any{"name": on.Request.Name, "by": party, "wallet": wallet.String(), "data": data}
	case on.Received != nil:
		return call{}, tongbao.Errorf(tongbao.EINVALID, "a received trigger runs on a deposit step")
	default:
		cl.event = map[string]any{"due": time.Time{}, "n": int64(1), "trigger": t.Name}
	}
	return cl, nil
}

// simulate applies planned moves to simulated balances, failing as the
// ledger would on a balance.
func simulate(wallets map[tongbao.ID]tongbao.Amount, holds map[tongbao.ID]PlannedMove, c Contract, moves []PlannedMove) error {
	next := make(map[tongbao.ID]tongbao.Amount, len(wallets))
	for k, v := range wallets {
		next[k] = v
	}
	for _, m := range moves {
		switch m.Kind {
		case "transfer", "hold":
			if next[m.From] < m.Amount {
				return docError(ErrFundsShort, "insufficient funds (simulated): %s has %s, needs %s", m.From, next[m.From], m.Amount)
			}
			next[m.From] -= m.Amount
			if m.Kind == "transfer" {
				next[m.To] += m.Amount
			} else {
				holds[m.Transfer] = m
			}
		case "post":
			next[c.Wallet] += holds[m.Pending].Amount
		case "void":
			h := holds[m.Pending]
			if !h.From.IsZero() {
				next[h.From] += h.Amount
			}
		}
	}
	for k, v := range next {
		wallets[k] = v
	}
	return nil
}

// openHolds returns a contract's open holds as the moves that made them.
func (s *Service) openHolds(c Contract) map[tongbao.ID]PlannedMove {
	out := map[tongbao.ID]PlannedMove{}
	for _, h := range c.Runtime.Holds {
		if h.Status != HoldOpen {
			continue
		}
		from, _ := s.PartyWallet(c, h.Party)
		out[h.ID] = PlannedMove{Kind: "hold", From: from, To: c.Wallet, Amount: h.Amount}
	}
	return out
}
