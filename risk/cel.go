package risk

import (
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"

	"github.com/tongbao/tongbao/internal/celcost"
)

// The CEL environment of the rules. Every variable is a typed object, so
// a rule naming a field that does not exist is refused when it is set,
// not when a payment meets it.
//
//	payment   risk.PaymentView   amount (fen), at (timestamp), cross_operator, channel
//	payer     risk.WalletView    the paying wallet and its recent activity
//	payee     risk.WalletView    the paid wallet and its recent activity
//	pair      risk.Pair          what the payer paid the payee before: payments, sum, last
//	operator  risk.OperatorActivity  the payer's operator: cross_out_1h, cross_out_hourly_avg
//	limits    map(string, int)   the thresholds (fen, counts, days) of Limits, by name
//
// A WalletView holds kind, category, region, merchant_category, age_days,
// idle_days, and the activity before this payment: out_1h, out_24h,
// in_1h, in_24h (each a count and a sum), near_threshold_24h, payees_24h
// and payers_24h.

// PaymentView is what a rule reads of the payment.
type PaymentView struct {
	Amount        int64     `cel:"amount"`
	At            time.Time `cel:"at"`
	CrossOperator bool      `cel:"cross_operator"`
	// Channel is the route it came by: pay, batch, merchant, scenario,
	// contract or offline.
	Channel string `cel:"channel"`
}

// WalletView is what a rule reads of a wallet.
type WalletView struct {
	Kind             string `cel:"kind"`
	Category         int64  `cel:"category"`
	Region           string `cel:"region"`
	MerchantCategory string `cel:"merchant_category"`
	AgeDays          int64  `cel:"age_days"`
	// IdleDays is the whole days since its last payment, or since it
	// opened when it has made none.
	IdleDays int64 `cel:"idle_days"`
	// The activity before this payment (Activity.Wallet).
	Out1h  Flow `cel:"out_1h"`
	Out24h Flow `cel:"out_24h"`
	In1h   Flow `cel:"in_1h"`
	In24h  Flow `cel:"in_24h"`
	// NearThreshold24h counts its payments out over the day just below
	// the reporting threshold.
	NearThreshold24h int64 `cel:"near_threshold_24h"`
	Payees24h        int64 `cel:"payees_24h"`
	Payers24h        int64 `cel:"payers_24h"`
}

// sizeMax is what the cost estimate assumes of any string or map a rule
// reads (limits has a few dozen entries).
const sizeMax = 64

// environment is built once, on the first rule compiled.
var environment = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(ext.ParseStructTags(true),
			reflect.TypeFor[PaymentView](), reflect.TypeFor[WalletView](), reflect.TypeFor[Flow](),
			reflect.TypeFor[Pair](), reflect.TypeFor[OperatorActivity]()),
		cel.Variable("payment", cel.ObjectType("risk.PaymentView")),
		cel.Variable("payer", cel.ObjectType("risk.WalletView")),
		cel.Variable("payee", cel.ObjectType("risk.WalletView")),
		cel.Variable("pair", cel.ObjectType("risk.Pair")),
		cel.Variable("operator", cel.ObjectType("risk.OperatorActivity")),
		cel.Variable("limits", cel.MapType(cel.StringType, cel.IntType)),
		cel.DefaultUTCTimeZone(true),
		cel.ParserRecursionLimit(32),
	)
})

// compile checks a rule and compiles its expression: ErrRuleInvalid when
// a field is out of range or the expression does not compile or is not a
// bool, ErrRuleCost when its worst case may exceed CostLimit.
func compile(r Rule) (cel.Program, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	env, err := environment()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(r.Expr)
	if iss.Err() != nil {
		return nil, ruleError(ErrRuleInvalid, "rule %s: %s", r.ID, strings.ReplaceAll(iss.Err().Error(), "\n", " "))
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, ruleError(ErrRuleInvalid, "rule %s: %q has type %s; want bool", r.ID, r.Expr, ast.OutputType())
	}
	est, err := env.EstimateCost(ast, celcost.Bounded(sizeMax))
	if err != nil {
		return nil, ruleError(ErrRuleInvalid, "rule %s: %v", r.ID, err)
	}
	if est.Max > CostLimit {
		return nil, ruleError(ErrRuleCost, "rule %s: %q may cost %d, more than the limit of %d", r.ID, r.Expr, est.Max, CostLimit)
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, ruleError(ErrRuleInvalid, "rule %s: %v", r.ID, err)
	}
	return prg, nil
}
