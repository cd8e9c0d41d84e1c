package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/celcost"
)

// The CEL environment of a contract's expressions.
//
// Variables:
//
//	params    map(string, dyn)  the document's params
//	state     map(string, dyn)  the variables set actions wrote
//	event     map(string, dyn)  the trigger's input (see Invoke)
//	now       timestamp         the moment of the invocation
//	contract  map(string, dyn)  taken_in, paid_out, refunded, held, balance (fen), activated_at
//	balance   map(string, int)  each wallet party's available balance (fen)
//
// Functions, besides the standard ones, optional values and ext.Math
// and ext.Strings: amount(string) int (a decimal number of yuan in fen),
// sha256hex(string) string (the hex SHA-256 of a string's UTF-8 bytes).
const (
	// CostLimit bounds one evaluation; an expression whose worst case the
	// checker estimates above it is refused at deployment.
	CostLimit = 10_000
	// sizeMax is what the cost estimate assumes of the size of any
	// string, list or map the expressions read (params lists hold at most
	// 64 items; state maps are bounded by the same).
	sizeMax = 256
	// celNestingMax bounds the parser's recursion in an expression.
	celNestingMax = 48
)

var (
	envOnce sync.Once
	celEnv  *cel.Env
	envErr  error
)

func environment() (*cel.Env, error) {
	envOnce.Do(func() {
		celEnv, envErr = cel.NewEnv(
			cel.Variable("params", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("state", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("now", cel.TimestampType),
			cel.Variable("contract", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("balance", cel.MapType(cel.StringType, cel.IntType)),
			cel.OptionalTypes(),
			ext.Math(),
			ext.Strings(),
			cel.DefaultUTCTimeZone(true),
			// Deep nesting makes the checker slow (a list nested 200
			// deep took seconds): a contract's conditions need little.
			cel.ParserRecursionLimit(celNestingMax),
			cel.Function("amount", cel.Overload("amount_string", []*cel.Type{cel.StringType}, cel.IntType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, ok := v.Value().(string)
					if !ok {
						return types.NewErr("amount: not a string")
					}
					a, ok := literalAmount(s)
					if !ok {
						return types.NewErr("amount: %q is not a decimal amount of yuan", s)
					}
					return types.Int(a)
				}))),
			cel.Function("sha256hex", cel.Overload("sha256hex_string", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, ok := v.Value().(string)
					if !ok {
						return types.NewErr("sha256hex: not a string")
					}
					sum := sha256.Sum256([]byte(s))
					return types.String(hex.EncodeToString(sum[:]))
				}))),
		)
	})
	return celEnv, envErr
}

// program is one compiled expression.
type program struct {
	expr string
	prg  cel.Program
}

// expect is the type an expression must have.
type expect int

const (
	expectBool expect = iota
	expectInt
	expectString
	expectTimestamp
	expectAny
)

func (e expect) String() string {
	return [...]string{"bool", "int", "string", "timestamp", "any"}[e]
}

// programs keeps compiled programs by type and expression, so that a
// contract loaded again (or many contracts of one template) compile once.
// Its budget counts expression bytes, times programCostPerByte for what
// the checked AST and program hold beside the text.
var programs = newCache[*program](programsBudget)

const (
	programCostPerByte = 64
	programsBudget     = 32 << 20
)

// compile type-checks expr against the environment and the wanted type,
// estimates its worst cost, and returns its program: ErrCondition when it
// does not compile or has the wrong type, ErrConditionCost when its cost
// may exceed CostLimit.
func compile(where, expr string, want expect) (*program, error) {
	if len(expr) > ExprMax {
		return nil, docError(ErrCondition, "%s: expression longer than %d bytes", where, ExprMax)
	}
	key := fmt.Sprint(int(want), ":", expr)
	if p, ok := programs.get(key); ok {
		return p, nil
	}
	env, err := environment()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, docError(ErrCondition, "%s: %s", where, strings.ReplaceAll(iss.Err().Error(), "\n", " "))
	}
	out := ast.OutputType()
	ok := out.IsExactType(types.DynType)
	switch want {
	case expectBool:
		ok = ok || out.IsExactType(types.BoolType)
	case expectInt:
		ok = ok || out.IsExactType(types.IntType)
	case expectString:
		ok = ok || out.IsExactType(types.StringType)
	case expectTimestamp:
		ok = ok || out.IsExactType(types.TimestampType)
	case expectAny:
		ok = true
	}
	if !ok {
		return nil, docError(ErrCondition, "%s: %q has type %s; want %s", where, expr, out, want)
	}
	est, err := env.EstimateCost(ast, celcost.Bounded(sizeMax))
	if err != nil {
		return nil, docError(ErrCondition, "%s: %v", where, err)
	}
	if est.Max > CostLimit {
		return nil, docError(ErrConditionCost, "%s: %q may cost %d, more than the limit of %d", where, expr, est.Max, CostLimit)
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, docError(ErrCondition, "%s: %v", where, err)
	}
	p := &program{expr: expr, prg: prg}
	programs.put(key, p, (len(key)+1)*programCostPerByte)
	return p, nil
}

// eval runs a program on vars: the value as Go (bool, int64, string,
// time.Time, or maps and lists of them), or ErrConditionCost when it
// exceeded CostLimit, or ErrEvaluation.
func (p *program) eval(vars *activation) (any, error) {
	v, _, err := p.prg.Eval(vars)
	if err != nil {
		if strings.Contains(err.Error(), "cost limit exceeded") {
			return nil, docError(ErrConditionCost, "%q exceeded the cost limit of %d", p.expr, CostLimit)
		}
		return nil, docError(ErrEvaluation, "%q: %v", p.expr, err)
	}
	return native(v)
}

func native(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return int64(x), nil
	case types.String:
		return string(x), nil
	case types.Timestamp:
		return x.Time, nil
	case types.Double:
		return nil, docError(ErrEvaluation, "a number with a fraction (%v): amounts are integers of fen", float64(x))
	case types.Null:
		return nil, nil
	}
	var want reflect.Type
	switch v.Type() {
	case types.MapType:
		want = reflect.TypeOf(map[string]any{})
	case types.ListType:
		want = reflect.TypeOf([]any{})
	default:
		return nil, docError(ErrEvaluation, "a value of type %s", v.Type())
	}
	out, err := v.ConvertToNative(want)
	if err != nil {
		return nil, docError(ErrEvaluation, "%v", err)
	}
	return normalize(out)
}

// normalize keeps only what state may hold.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case bool, int64, string, time.Time, nil:
		return x, nil
	case int:
		return int64(x), nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, docError(ErrEvaluation, "map keys are strings")
			}
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[ks] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case ref.Val:
		return native(x)
	}
	return nil, docError(ErrEvaluation, "a value of type %T", v)
}

// activation is the variables of one evaluation.
type activation struct {
	params, state, event, contract map[string]any
	balance                        map[string]int64
	now                            time.Time
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "params":
		return a.params, true
	case "state":
		return a.state, true
	case "event":
		return a.event, true
	case "contract":
		return a.contract, true
	case "balance":
		return a.balance, true
	case "now":
		return a.now, true
	}
	return nil, false
}

func (a *activation) Parent() cel.Activation { return nil }

// evalBool, evalAmount, evalString and evalTime evaluate a program to the
// type its field needs.
func evalBool(p *program, vars *activation) (bool, error) {
	v, err := p.eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, docError(ErrEvaluation, "%q is %T, not a bool", p.expr, v)
	}
	return b, nil
}

func evalAmount(p *program, vars *activation) (tongbao.Amount, error) {
	v, err := p.eval(vars)
	if err != nil {
		return 0, err
	}
	n, ok := v.(int64)
	if !ok {
		return 0, docError(ErrEvaluation, "%q is %T, not an int of fen", p.expr, v)
	}
	return tongbao.Amount(n), nil
}

func evalString(p *program, vars *activation) (string, error) {
	v, err := p.eval(vars)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", docError(ErrEvaluation, "%q is %T, not a string", p.expr, v)
	}
	return s, nil
}

func evalTime(p *program, vars *activation) (time.Time, error) {
	v, err := p.eval(vars)
	if err != nil {
		return time.Time{}, err
	}
	t, ok := v.(time.Time)
	if !ok {
		return time.Time{}, docError(ErrEvaluation, "%q is %T, not a timestamp", p.expr, v)
	}
	return t, nil
}
