package contract

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/scenario"
	"github.com/tongbao/tongbao/twotier"
)

// planner turns a trigger's actions into ledger moves and the runtime
// they leave, without moving anything: Invoke records the plan, then
// submits it; DryRun only shows it.
type planner struct {
	s   *Service
	ctx context.Context
	doc *Document
	c   *Contract
	rt  *Runtime // the runtime being changed: a deep copy of c.Runtime
	inv tongbao.ID
	now time.Time

	vars     *activation
	moves    []PlannedMove
	notices  []string
	conds    []ConditionValue
	complete bool
	// action numbers the actions of the invocation, across paths.
	action int
}

// cloneRuntime returns a deep copy, so a plan never changes the
// contract it was made from.
func cloneRuntime(r Runtime) Runtime {
	out := r
	out.Consents = maps.Clone(r.Consents)
	if out.Consents == nil {
		out.Consents = map[string]Consent{}
	}
	out.State = cloneState(r.State)
	out.Holds = append([]HoldRecord(nil), r.Holds...)
	return out
}

func cloneState(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if inner, ok := v.(map[string]any); ok {
			v = maps.Clone(inner)
		}
		out[k] = v
	}
	return out
}

// held is the sum of the open holds.
func (r *Runtime) held() tongbao.Amount {
	var sum tongbao.Amount
	for _, h := range r.Holds {
		if h.Status == HoldOpen {
			sum += h.Amount
		}
	}
	return sum
}

// contractVars is what CEL sees as contract.
func contractVars(r *Runtime) map[string]any {
	return map[string]any{
		"taken_in": int64(r.TakenIn), "paid_out": int64(r.PaidOut), "refunded": int64(r.Refunded),
		"balance": int64(r.Balance), "held": int64(r.held()), "activated_at": r.ActivatedAt, "invocations": r.Invocations,
	}
}

// wallet returns the wallet of a wallet party.
func (p *planner) wallet(name string) (tongbao.ID, error) {
	if name == ContractParty {
		return p.c.Wallet, nil
	}
	ps, ok := p.doc.Party(name)
	if !ok || ps.Wallet == "" {
		return tongbao.ID{}, docError(ErrSchema, "%q is not a wallet party", name)
	}
	return tongbao.ParseID(ps.Wallet)
}

// amount evaluates an amount field: a decimal literal or CEL int of fen.
func (p *planner) amount(where, v string) (tongbao.Amount, error) {
	if a, ok := literalAmount(v); ok {
		return a, nil
	}
	prg, err := compile(where, v, expectInt)
	if err != nil {
		return 0, err
	}
	a, err := evalAmount(prg, p.vars)
	if err != nil {
		return 0, err
	}
	if a < 0 {
		return 0, docError(ErrEvaluation, "%s: amount %s is negative", where, a)
	}
	return a, nil
}

// debit checks that money may leave a party's wallet.
func (p *planner) debit(party string) error {
	if party == ContractParty {
		return nil
	}
	if _, ok := p.rt.Consents[party]; !ok {
		return docError(ErrConsent, "party %s has not accepted contract %s", party, p.c.Hash)
	}
	return nil
}

// limit counts an outgoing amount against the contract's limits.
func (p *planner) limit(a tongbao.Amount) error {
	l := p.doc.Limits
	day := p.now.In(p.s.loc).Format(time.DateOnly)
	if p.rt.Usage.Day != day {
		p.rt.Usage.Day, p.rt.Usage.DayAmount = day, 0
	}
	if l != nil {
		if max, ok := literalAmount(l.PerAction); ok && a > max {
			return docError(ErrLimit, "%s is more than the %s allowed per action", a, max)
		}
		if max, ok := literalAmount(l.PerDay); ok && p.rt.Usage.DayAmount+a > max {
			return docError(ErrLimit, "%s more today would pass the %s allowed per day", a, max)
		}
		if max, ok := literalAmount(l.Total); ok && p.rt.Usage.Total+a > max {
			return docError(ErrLimit, "%s more would pass the %s allowed in all", a, max)
		}
	}
	p.rt.Usage.DayAmount += a
	p.rt.Usage.Total += a
	return nil
}

func (p *planner) move(kind string, from, to tongbao.ID, a tongbao.Amount, pending tongbao.ID, timeout uint32) tongbao.ID {
	id := tongbao.DeriveID("tongbao/contract/move", p.inv, int64(len(p.moves)))
	p.moves = append(p.moves, PlannedMove{Action: p.action, Kind: kind, Transfer: id, From: from, To: to, Amount: a, Pending: pending, Timeout: timeout})
	return id
}

// run plans actions in order; what each does is visible to the next
// (state, balances of the contract).
func (p *planner) run(where string, actions []Action) error {
	for i, a := range actions {
		p.action++
		at := fmt.Sprintf("%s action %d", where, i+1)
		if err := p.one(at, a); err != nil {
			return err
		}
		p.vars.contract = contractVars(p.rt)
		p.vars.state = p.rt.State
	}
	return nil
}

func (p *planner) one(at string, a Action) error {
	switch {
	case a.Hold != nil:
		return p.hold(at, a.Hold)
	case a.Release != nil:
		return p.release(at, a.Release)
	case a.Refund != nil:
		return p.refund(at, a.Refund)
	case a.Transfer != nil:
		return p.transfer(at, a.Transfer)
	case a.Split != nil:
		return p.split(at, a.Split)
	case a.Notify != nil:
		prg, err := compile(at, a.Notify.Message, expectString)
		if err != nil {
			return err
		}
		msg, err := evalString(prg, p.vars)
		if err != nil {
			return err
		}
		if len(msg) > MessageMax {
			msg = msg[:MessageMax]
		}
		p.notices = append(p.notices, msg)
	case a.Set != nil:
		return p.set(at, a.Set)
	case a.Complete != nil:
		p.complete = true
	}
	return nil
}

func (p *planner) hold(at string, h *HoldAction) error {
	from, err := p.wallet(h.From)
	if err != nil {
		return err
	}
	a, err := p.amount(at, h.Amount)
	if err != nil || a == 0 {
		return err
	}
	if err := p.debit(h.From); err != nil {
		return err
	}
	if err := p.limit(a); err != nil {
		return err
	}
	var timeout uint32
	var expires time.Time
	if h.Timeout != "" {
		d, _ := duration(h.Timeout, time.Second)
		d = min(d, HoldTimeoutMax)
		timeout, expires = uint32(d/time.Second), p.now.Add(d)
	}
	id := p.move("hold", from, p.c.Wallet, a, tongbao.ID{}, timeout)
	p.rt.Holds = append(p.rt.Holds, HoldRecord{ID: id, Party: h.From, Amount: a, Status: HoldOpen, ExpiresAt: expires})
	p.rt.TakenIn += a
	return nil
}

// lapse marks the holds whose timeout has passed as voided: the ledger
// voided them by itself.
func (p *planner) lapse() {
	for i, h := range p.rt.Holds {
		if h.Status == HoldOpen && !h.ExpiresAt.IsZero() && !p.now.Before(h.ExpiresAt) {
			p.rt.Holds[i].Status = HoldVoided
			p.rt.Refunded += h.Amount
		}
	}
}

func (p *planner) release(at string, r *ReleaseAction) error {
	to, err := p.wallet(r.To)
	if err != nil {
		return err
	}
	p.lapse()
	for i, h := range p.rt.Holds {
		if h.Status == HoldOpen {
			p.move("post", tongbao.ID{}, tongbao.ID{}, h.Amount, h.ID, 0)
			p.rt.Holds[i].Status = HoldPosted
			p.rt.Balance += h.Amount
		}
	}
	p.vars.contract = contractVars(p.rt)
	a := p.rt.Balance
	if r.Amount != "" {
		if a, err = p.amount(at, r.Amount); err != nil {
			return err
		}
	}
	if a == 0 {
		return nil
	}
	if err := p.limit(a); err != nil {
		return err
	}
	p.move("transfer", p.c.Wallet, to, a, tongbao.ID{}, 0)
	p.rt.Balance -= a
	p.rt.PaidOut += a
	return nil
}

func (p *planner) refundParty(name string) string {
	if name != "" {
		return name
	}
	if p.doc.RefundTo != "" {
		return p.doc.RefundTo
	}
	for _, h := range p.rt.Holds {
		return h.Party
	}
	for _, ps := range p.doc.Parties {
		if ps.Wallet != "" && containsParty(p.doc.DebitedParties(), ps.Name) {
			return ps.Name
		}
	}
	return ""
}

func containsParty(list []string, name string) bool {
	for _, n := range list {
		if n == name {
			return true
		}
	}
	return false
}

func (p *planner) refund(at string, r *RefundAction) error {
	p.lapse()
	for i, h := range p.rt.Holds {
		if h.Status == HoldOpen {
			p.move("void", tongbao.ID{}, tongbao.ID{}, h.Amount, h.ID, 0)
			p.rt.Holds[i].Status = HoldVoided
			p.rt.Refunded += h.Amount
		}
	}
	p.vars.contract = contractVars(p.rt)
	a := p.rt.Balance
	if r.Amount != "" {
		var err error
		if a, err = p.amount(at, r.Amount); err != nil {
			return err
		}
	}
	if a == 0 {
		return nil
	}
	name := p.refundParty(r.To)
	if name == "" {
		return docError(ErrSchema, "%s: no party to refund to", at)
	}
	to, err := p.wallet(name)
	if err != nil {
		return err
	}
	p.move("transfer", p.c.Wallet, to, a, tongbao.ID{}, 0)
	p.rt.Balance -= a
	p.rt.Refunded += a
	return nil
}

// payee returns the wallet a transfer goes to: a party's, or the wallet
// to_expr names, which must be within the contract's purpose.
func (p *planner) payee(at string, name, expr string) (tongbao.ID, error) {
	if name != "" {
		return p.wallet(name)
	}
	// to_expr names any wallet: it must be within the purpose.
	prg, err := compile(at, expr, expectString)
	if err != nil {
		return tongbao.ID{}, err
	}
	v, err := evalString(prg, p.vars)
	if err != nil {
		return tongbao.ID{}, err
	}
	id, err := tongbao.ParseID(v)
	if err != nil {
		return tongbao.ID{}, docError(ErrEvaluation, "%s: %q is not a wallet id", at, v)
	}
	for _, ps := range p.doc.Parties {
		if ps.Wallet == id.String() {
			return id, nil
		}
	}
	if pur := p.doc.Purpose; pur != nil {
		w, err := p.s.payments.Wallet(p.ctx, id)
		if err != nil {
			return tongbao.ID{}, err
		}
		t := scenario.Template{Categories: pur.Categories, Regions: pur.Regions}
		for _, m := range pur.Merchants {
			mid, _ := tongbao.ParseID(m)
			t.Merchants = append(t.Merchants, mid)
		}
		if !t.Allows(w) {
			return tongbao.ID{}, docError(ErrPurpose, "%s: wallet %s is outside the contract's purpose", at, id)
		}
	}
	return id, nil
}

func (p *planner) transfer(at string, t *TransferAction) error {
	from, err := p.wallet(t.From)
	if err != nil {
		return err
	}
	to, err := p.payee(at, t.To, t.ToExpr)
	if err != nil {
		return err
	}
	a, err := p.amount(at, t.Amount)
	if err != nil || a == 0 {
		return err
	}
	if err := p.debit(t.From); err != nil {
		return err
	}
	if err := p.limit(a); err != nil {
		return err
	}
	if from == to {
		return docError(ErrEvaluation, "%s: a transfer to the wallet it comes from", at)
	}
	p.move("transfer", from, to, a, tongbao.ID{}, 0)
	p.out(t.From, a)
	if t.To == ContractParty {
		p.rt.Balance += a
		p.rt.TakenIn += a
	}
	return nil
}

// out books money leaving the contract's wallet.
func (p *planner) out(from string, a tongbao.Amount) {
	if from == ContractParty {
		p.rt.Balance -= a
		p.rt.PaidOut += a
	}
}

// SplitAmounts divides total by weights, rounding each part down and
// giving the fen left over to the first, last or largest weight (the
// first of equal largest ones): the parts always sum to total.
func SplitAmounts(total tongbao.Amount, weights []int64, remainder string) []tongbao.Amount {
	var sum int64
	for _, w := range weights {
		sum += w
	}
	parts := make([]tongbao.Amount, len(weights))
	var given tongbao.Amount
	t, s := big.NewInt(int64(total)), big.NewInt(sum)
	for i, w := range weights {
		q := new(big.Int).Mul(t, big.NewInt(w))
		q.Quo(q, s)
		parts[i] = tongbao.Amount(q.Int64())
		given += parts[i]
	}
	k := 0
	switch remainder {
	case remainderLast:
		k = len(weights) - 1
	case remainderLarger:
		for i, w := range weights {
			if w > weights[k] {
				k = i
			}
		}
	}
	parts[k] += total - given
	return parts
}

func (p *planner) split(at string, s *SplitAction) error {
	from, err := p.wallet(s.From)
	if err != nil {
		return err
	}
	total, err := p.amount(at, s.Amount)
	if err != nil || total == 0 {
		return err
	}
	if err := p.debit(s.From); err != nil {
		return err
	}
	if err := p.limit(total); err != nil {
		return err
	}
	weights := make([]int64, len(s.Shares))
	for i, sh := range s.Shares {
		weights[i] = sh.Weight
	}
	for i, part := range SplitAmounts(total, weights, s.Remainder) {
		if part == 0 {
			continue
		}
		to, err := p.wallet(s.Shares[i].To)
		if err != nil {
			return err
		}
		if to == from {
			continue // a share to the payer stays where it is
		}
		p.move("transfer", from, to, part, tongbao.ID{}, 0)
		p.out(s.From, part)
	}
	return nil
}

func (p *planner) set(at string, s *SetAction) error {
	prg, err := compile(at, s.Value, expectAny)
	if err != nil {
		return err
	}
	v, err := prg.eval(p.vars)
	if err != nil {
		return err
	}
	if s.Key == "" {
		p.rt.State[s.Name] = v
		return nil
	}
	kp, err := compile(at, s.Key, expectString)
	if err != nil {
		return err
	}
	k, err := evalString(kp, p.vars)
	if err != nil {
		return err
	}
	m, _ := p.rt.State[s.Name].(map[string]any)
	m = maps.Clone(m)
	if m == nil {
		m = map[string]any{}
	}
	if len(m) >= sizeMax {
		if _, ok := m[k]; !ok {
			return docError(ErrLimit, "%s: state %s holds the most keys allowed (%d)", at, s.Name, sizeMax)
		}
	}
	m[k] = v
	p.rt.State[s.Name] = m
	return nil
}

// conditions evaluates a trigger's requirements and when condition,
// recording each value; it returns the error of the first requirement
// that does not hold, and whether the when condition does.
func (p *planner) conditions(t *Trigger) (bool, error) {
	for i, r := range t.Require {
		prg, err := compile(fmt.Sprintf("trigger %s require %d", t.Name, i+1), r.Expr, expectBool)
		if err != nil {
			return false, err
		}
		ok, err := evalBool(prg, p.vars)
		if err != nil {
			return false, err
		}
		p.conds = append(p.conds, ConditionValue{Name: fmt.Sprintf("require %d", i+1), Expr: r.Expr, Value: ok, Error: r.Error})
		if !ok {
			return false, docError(requirementErrors[r.Error], "trigger %s: %s does not hold", t.Name, r.Expr)
		}
	}
	if t.When == "" {
		return true, nil
	}
	prg, err := compile("trigger "+t.Name+" when", t.When, expectBool)
	if err != nil {
		return false, err
	}
	ok, err := evalBool(prg, p.vars)
	if err != nil {
		return false, err
	}
	p.conds = append(p.conds, ConditionValue{Name: "when", Expr: t.When, Value: ok})
	return ok, nil
}

// toMoves converts a plan for twotier.
func toMoves(c *Contract, key string, ps []PlannedMove) []twotier.Move {
	meta := "contract " + c.ID.String()
	if len(meta) > 200 {
		meta = meta[:200]
	}
	out := make([]twotier.Move, len(ps))
	for i, m := range ps {
		mv := twotier.Move{ID: m.Transfer, From: m.From, To: m.To, Amount: m.Amount, Pending: m.Pending, Timeout: m.Timeout, Metadata: meta}
		switch m.Kind {
		case "transfer":
			mv.Kind = twotier.MoveTransfer
		case "hold":
			mv.Kind = twotier.MoveHold
		case "post":
			mv.Kind = twotier.MovePost
		case "void":
			mv.Kind = twotier.MoveVoid
		}
		out[i] = mv
	}
	return out
}

// refusedByLedger says a move failed on the ledger's rules (funds, caps,
// a wallet's state): the outcome is final. Any other error (the ledger
// closed, not the writer, a cancelled context) leaves the outcome unknown
// until the invocation is finished again.
func refusedByLedger(err error) bool {
	code := tongbao.ErrorCode(err)
	return err != nil && code != tongbao.EUNAVAILABLE && code != tongbao.EINTERNAL
}
