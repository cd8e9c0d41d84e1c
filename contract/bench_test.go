package contract_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/internal/domaintest"
)

// BenchmarkConditionEval evaluates the templates' requirements as an
// invocation does, each on variables on which it holds.
func BenchmarkConditionEval(b *testing.B) {
	sum := sha256.Sum256([]byte("open sesame"))
	beneficiaries := make([]any, 64)
	for i := range beneficiaries {
		beneficiaries[i] = tongbao.IDFromUint64(uint64(1000 + i)).String()
	}
	spender := beneficiaries[63].(string)
	cases := []struct {
		name, expr string
		vars       contract.Vars
	}{
		{"credit_limit", "state.?drawn.orValue(0) + math.greatest(0, int(event.data.amount) - balance.merchant) <= amount(params.limit)", contract.Vars{
			Params: map[string]any{"limit": "5000.00"}, State: map[string]any{"drawn": int64(12000)},
			Event: map[string]any{"data": map[string]any{"amount": int64(30000)}}, Balance: map[string]int64{"merchant": 25000}}},
		{"htlc_deadline", "now < timestamp(params.deadline)", contract.Vars{
			Params: map[string]any{"deadline": start.Add(time.Hour).Format(time.RFC3339)}, Now: start}},
		{"htlc_preimage", "sha256hex(string(event.data.preimage)) == params.hash", contract.Vars{
			Params: map[string]any{"hash": hex.EncodeToString(sum[:])}, Event: map[string]any{"data": map[string]any{"preimage": "open sesame"}}}},
		{"subsidy_beneficiary", "event.wallet in params.beneficiaries", contract.Vars{
			Params: map[string]any{"beneficiaries": beneficiaries}, Event: map[string]any{"wallet": spender}}},
		{"subsidy_ceiling", "(has(state.spent) && event.wallet in state.spent ? state.spent[event.wallet] : 0) + int(event.data.amount) <= amount(params.per_holder)", contract.Vars{
			Params: map[string]any{"per_holder": "200.00"}, State: map[string]any{"spent": map[string]any{spender: int64(2000)}},
			Event: map[string]any{"wallet": spender, "data": map[string]any{"amount": int64(3550)}}}},
	}
	for _, c := range cases {
		eval, err := contract.ConditionBench(c.expr)
		domaintest.Must(b, err)
		if ok, err := eval(&c.vars); err != nil || !ok {
			b.Fatalf("%s: %v, %v; want true", c.name, ok, err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				vars := c.vars
				for pb.Next() {
					if ok, err := eval(&vars); err != nil || !ok {
						b.Errorf("%v, %v; want true", ok, err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRequestPayment makes durable contract-triggered payments: 64
// contracts each pay 0.01 from its payer to its payee on request, asked
// from 64 goroutines per CPU.
func BenchmarkRequestPayment(b *testing.B) {
	const contracts = 64
	e := newEnv(b)
	ids := make([]tongbao.ID, contracts)
	payees := make([]tongbao.ID, contracts)
	for i := range ids {
		payer, payee := e.wallet(yuan("1000.00")), e.wallet(0)
		doc, _ := json.Marshal(map[string]any{
			"tongbao_contract": 1, "name": "Pay on request", "reference": strconv.Itoa(i),
			"parties": []any{map[string]any{"name": "payer", "wallet": payer.String()}, map[string]any{"name": "payee", "wallet": payee.String()}},
			"triggers": []any{map[string]any{
				"name": "pay", "on": map[string]any{"request": map[string]any{"name": "pay", "by": "payer"}},
				"require": []any{map[string]any{"expr": "1 <= balance.payer", "error": "requirement-failed"}},
				"actions": []any{map[string]any{"transfer": map[string]any{"from": "payer", "to": "payee", "amount": "0.01"}}},
			}},
		})
		c, _, err := e.svc.Deploy(e.Ctx, contract.DeploySpec{Operator: e.A, Document: doc, By: "bench"})
		domaintest.Must(b, err)
		c = e.acceptAll(c, "payer")
		ids[i], payees[i] = c.ID, payee
	}
	var next atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			inv, err := e.svc.Request(e.Ctx, ids[n%contracts], "pay", "payer", tongbao.ID{}, fmt.Sprint("k", n), nil)
			if err != nil || inv.Outcome != contract.OutcomeSucceeded {
				b.Errorf("request: %v %s %s", err, inv.Outcome, inv.Error)
				return
			}
		}
	})
	b.StopTimer()
	var paid tongbao.Amount
	for _, p := range payees {
		paid += e.balance(p)
	}
	if paid != tongbao.Amount(next.Load()) {
		b.Fatalf("the payees received %d fen; want %d", paid, next.Load())
	}
	e.SupplyOK(b, "the payments")
}
