package contract

import "time"

// Vars are the variables a condition sees (the CEL environment described
// above CostLimit): the document's params, the contract's state, the
// trigger's event, the contract's counters, each wallet party's available
// balance in fen, and the moment of the invocation.
type Vars struct {
	Params, State, Event, Contract map[string]any
	Balance                        map[string]int64
	Now                            time.Time
}

// ConditionBench compiles a bool expression as a deployment does (type
// check, cost estimate, the program cached by expression) and returns a
// function that evaluates it as an invocation does: the same program,
// the same activation type, the same conversion of its value. It is for
// `tongbao bench contracts` and the package's benchmarks, which measure
// the engine's conditions without a store or a ledger; it returns
// ErrCondition or ErrConditionCost as Deploy would.
func ConditionBench(expr string) (func(vars *Vars) (bool, error), error) {
	p, err := compile("bench", expr, expectBool)
	if err != nil {
		return nil, err
	}
	return func(v *Vars) (bool, error) {
		return evalBool(p, &activation{params: v.Params, state: v.State, event: v.Event, contract: v.Contract, balance: v.Balance, now: v.Now})
	}, nil
}
