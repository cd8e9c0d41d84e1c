package risk

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/cel-go/cel"

	tongbao "github.com/tongbao/tongbao"
)

// Wallet is what the payment path tells the engine of a wallet.
type Wallet struct {
	ID               tongbao.ID
	Operator         tongbao.ID
	Kind             string
	Category         int64
	Region           string
	MerchantCategory string
	OpenedAt         time.Time
}

// Payment is a payment about to be made.
type Payment struct {
	From, To Wallet
	Amount   tongbao.Amount
	At       time.Time
	Channel  string
}

// Engine evaluates the rules on payments and keeps the activity they
// read. It is safe for concurrent use.
type Engine struct {
	activity *Activity
	limits   Limits
	lvars    map[string]int64

	mu    sync.RWMutex
	rules []compiled
}

type compiled struct {
	Rule
	prg cel.Program
}

// NewEngine returns an engine with the given limits and rules.
func NewEngine(limits Limits, rules []Rule) (*Engine, error) {
	e := &Engine{
		activity: NewActivity(limits.NearLow(), limits.LargeValue),
		limits:   limits,
		lvars:    limits.vars(),
	}
	if err := e.SetRules(rules); err != nil {
		return nil, err
	}
	return e, nil
}

// SetRules replaces the rule set, all or nothing: a rule that does not
// compile, costs too much, or repeats an id refuses the whole set and the
// engine keeps the rules it had.
func (e *Engine) SetRules(rules []Rule) error {
	if len(rules) > RulesMax {
		return ruleError(ErrRuleInvalid, "%d rules: at most %d", len(rules), RulesMax)
	}
	out := make([]compiled, 0, len(rules))
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.ID] {
			return ruleError(ErrRuleInvalid, "rule %s appears twice", r.ID)
		}
		seen[r.ID] = true
		prg, err := compile(r)
		if err != nil {
			return err
		}
		out = append(out, compiled{Rule: r, prg: prg})
	}
	e.mu.Lock()
	e.rules = out
	e.mu.Unlock()
	return nil
}

// Rules returns the rule set, in the order it was set.
func (e *Engine) Rules() []Rule {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Rule, len(e.rules))
	for i, c := range e.rules {
		out[i] = c.Rule
	}
	return out
}

// Check compiles a rule without setting it: what an operator's rule
// change is checked with before it is stored.
func Check(r Rule) error {
	_, err := compile(r)
	return err
}

// Activity returns the activity the engine reads and Observe writes.
func (e *Engine) Activity() *Activity { return e.activity }

// Evaluate runs every rule on a payment, before it is made. A rule that
// fails to evaluate (it exceeded its cost) is an error: the payment
// path refuses the payment rather than let it pass unchecked.
func (e *Engine) Evaluate(p Payment) (Verdict, error) {
	vars := e.vars(p)
	e.mu.RLock()
	rules := e.rules
	e.mu.RUnlock()
	v := Verdict{Decision: Allow}
	for _, r := range rules {
		out, _, err := r.prg.Eval(vars)
		if err != nil {
			return Verdict{}, ruleError(ErrEvaluation, "rule %s: %v", r.ID, err)
		}
		fired, ok := out.Value().(bool)
		if !ok {
			return Verdict{}, ruleError(ErrEvaluation, "rule %s: %v is not a bool", r.ID, out)
		}
		if !fired {
			continue
		}
		v.Hits = append(v.Hits, Hit{Rule: r.ID, Version: r.Version, Decision: r.Decision, Mode: r.Mode})
		if r.Mode == Enforce && r.Decision.rank() > v.Decision.rank() {
			v.Decision = r.Decision
		}
	}
	return v, nil
}

// Observe records a payment that went through (or was approved after a
// review), so later payments' rules see it.
func (e *Engine) Observe(p Payment) {
	e.activity.Observe(Movement{
		From: p.From.ID, To: p.To.ID, FromOperator: p.From.Operator,
		CrossOperator: p.From.Operator != p.To.Operator,
		Amount:        p.Amount, At: p.At,
	})
}

func (e *Engine) vars(p Payment) map[string]any {
	return map[string]any{
		"payment":  PaymentView{Amount: int64(p.Amount), At: p.At, CrossOperator: p.From.Operator != p.To.Operator, Channel: p.Channel},
		"payer":    e.wallet(p.From, p.At),
		"payee":    e.wallet(p.To, p.At),
		"pair":     e.activity.Pair(p.From.ID, p.To.ID),
		"operator": e.activity.Operator(p.From.Operator, p.At),
		"limits":   e.lvars,
	}
}

func (e *Engine) wallet(w Wallet, at time.Time) WalletView {
	v, last := e.activity.Wallet(w.ID, at)
	if last.IsZero() {
		last = w.OpenedAt
	}
	v.Kind, v.Category, v.Region, v.MerchantCategory = w.Kind, w.Category, w.Region, w.MerchantCategory
	v.AgeDays, v.IdleDays = days(at.Sub(w.OpenedAt)), days(at.Sub(last))
	return v
}

// days is whole days, zero for a negative span (a clock behind).
func days(d time.Duration) int64 { return max(0, int64(d/(24*time.Hour))) }

// Describe is a one-line summary of a verdict, for logs.
func (v Verdict) Describe() string {
	ids := make([]string, 0, len(v.Hits))
	for _, h := range v.Hits {
		ids = append(ids, fmt.Sprintf("%s@%d(%s,%s)", h.Rule, h.Version, h.Decision, h.Mode))
	}
	slices.Sort(ids)
	return fmt.Sprintf("%s %v", v.Decision, ids)
}
