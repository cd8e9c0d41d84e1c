// Package risk decides, before money moves, whether a payment may go
// ahead: rules written in CEL over the payment, both wallets, their
// recent activity and the payer's operator, each with a decision
// (allow, review, block) and a mode (enforce, or shadow: evaluated and
// reported, never acting). The package holds the rules and the activity
// they read; the payment path asks Engine.Evaluate and acts on the
// verdict, and tells Engine.Observe of every payment that went through.
package risk

import (
	"fmt"
	"regexp"

	tongbao "github.com/tongbao/tongbao"
)

// Decision is what a rule asks for when it fires.
type Decision string

// The decisions, weakest first: a verdict takes the strongest decision of
// the enforced rules that fired.
const (
	Allow  Decision = "allow"
	Review Decision = "review" // hold the money until a compliance officer decides
	Block  Decision = "block"
)

func (d Decision) rank() int {
	switch d {
	case Allow:
		return 1
	case Review:
		return 2
	case Block:
		return 3
	}
	return 0
}

// Mode is whether a rule acts.
type Mode string

const (
	Enforce Mode = "enforce"
	Shadow  Mode = "shadow" // evaluated and reported, never acting: to try a rule on live traffic
)

// Rule is one risk rule. A rule fires when its expression (CEL, of type
// bool) is true for a payment; see Environment for what it can read.
type Rule struct {
	ID          string
	Version     int64
	Description string
	Expr        string
	Decision    Decision
	Mode        Mode
}

// Limits on a rule.
const (
	// ExprMax bounds an expression's text.
	ExprMax = 4096
	// CostLimit bounds one evaluation of a rule; a rule whose worst case
	// the checker estimates above it is refused.
	CostLimit = 1000
	// RulesMax bounds the rules of one set.
	RulesMax = 256
)

var ruleID = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Errors of the package. Each is a problem type of the API.
var (
	ErrRuleInvalid = tongbao.Sentinel(tongbao.EINVALID, "risk-rule-invalid", "the risk rule is invalid")
	ErrRuleCost    = tongbao.Sentinel(tongbao.EINVALID, "risk-rule-too-costly", "the risk rule may cost more than the limit")
	ErrEvaluation  = tongbao.Sentinel(tongbao.EINTERNAL, "risk-evaluation-failed", "a risk rule failed to evaluate")
)

// ruleError wraps a sentinel with the details of one refusal.
func ruleError(sentinel *tongbao.Error, format string, args ...any) error {
	return &tongbao.Error{Code: sentinel.Code, Kind: sentinel.Kind, Message: fmt.Sprintf(format, args...), Err: sentinel}
}

// check refuses a rule whose fields are out of their ranges; the
// expression is checked by compile.
func (r Rule) check() error {
	switch {
	case !ruleID.MatchString(r.ID):
		return ruleError(ErrRuleInvalid, "rule id %q: want 1 to 64 of a-z, 0-9 and _, starting with a letter", r.ID)
	case r.Version < 1:
		return ruleError(ErrRuleInvalid, "rule %s: version %d: want 1 or more", r.ID, r.Version)
	case r.Decision.rank() == 0:
		return ruleError(ErrRuleInvalid, "rule %s: decision %q: want allow, review or block", r.ID, r.Decision)
	case r.Mode != Enforce && r.Mode != Shadow:
		return ruleError(ErrRuleInvalid, "rule %s: mode %q: want enforce or shadow", r.ID, r.Mode)
	case len(r.Expr) == 0 || len(r.Expr) > ExprMax:
		return ruleError(ErrRuleInvalid, "rule %s: expression of %d bytes: want 1 to %d", r.ID, len(r.Expr), ExprMax)
	}
	return nil
}

// Hit is one rule that fired on a payment.
type Hit struct {
	Rule     string
	Version  int64
	Decision Decision
	Mode     Mode
}

// Verdict is the outcome of the rules on one payment: the strongest
// decision of the enforced rules that fired (Allow when none did), and
// every rule that fired, shadow ones included.
type Verdict struct {
	Decision Decision
	Hits     []Hit
}
