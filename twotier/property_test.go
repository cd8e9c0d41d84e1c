package twotier_test

import (
	"maps"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/twotier"
	"pgregory.net/rapid"
)

// TestSupplyProperty runs random operations (reserves, issuance,
// redemption, wallets, top-ups, withdrawals, payments within and across
// operators, settlements, time passing) and after each one checks the
// supply invariant, and the wallets' balances against a simple model: a
// success moves exactly its amount, a failure moves nothing.
func TestSupplyProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		e := newEnv(t, time.Date(2026, 12, 31, 22, 0, 0, 0, shanghai))
		defer e.close()
		ops := []tongbao.ID{e.a, e.b}
		var wallets []twotier.Wallet
		model := make(map[tongbao.ID]tongbao.Amount)
		amount := rapid.Custom(func(t *rapid.T) tongbao.Amount {
			return tongbao.Amount(rapid.OneOf(rapid.Int64Range(-1, 3_000*100), rapid.Int64Range(0, 30_000*100)).Draw(t, "amount"))
		})
		pickWallet := func(t *rapid.T, label string) twotier.Wallet {
			return wallets[rapid.IntRange(0, len(wallets)-1).Draw(t, label)]
		}
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			op := ops[rapid.IntRange(0, 1).Draw(rt, "operator")]
			kind := rapid.IntRange(0, 8).Draw(rt, "kind")
			if len(wallets) < 2 && kind >= 4 {
				kind = 3
			}
			switch kind {
			case 0:
				e.svc.DepositReserves(e.ctx, twotier.Operation{ID: tongbao.NewID(), Operator: op, Amount: amount.Draw(rt, "reserves") * 10})
			case 1:
				e.svc.Issue(e.ctx, twotier.Operation{ID: tongbao.NewID(), Operator: op, Amount: amount.Draw(rt, "issue") * 5})
			case 2:
				e.svc.Redeem(e.ctx, twotier.Operation{ID: tongbao.NewID(), Operator: op, Amount: amount.Draw(rt, "redeem")})
			case 3:
				c := twotier.Category(rapid.IntRange(1, 4).Draw(rt, "category"))
				w := e.wallet(op, c, "")
				wallets = append(wallets, w)
				model[w.ID] = 0
			case 4:
				w := pickWallet(rt, "wallet")
				a := amount.Draw(rt, "top-up")
				if _, err := e.svc.TopUp(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.ID, Amount: a}); err == nil {
					model[w.ID] += a
				}
			case 5:
				w := pickWallet(rt, "wallet")
				a := amount.Draw(rt, "withdrawal")
				if _, err := e.svc.Withdraw(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.ID, Amount: a}); err == nil {
					model[w.ID] -= a
				}
			case 6, 7:
				from, to := pickWallet(rt, "payer"), pickWallet(rt, "payee")
				a := amount.Draw(rt, "payment")
				if _, err := e.pay(from, to, a); err == nil {
					model[from.ID] -= a
					model[to.ID] += a
				}
			case 8:
				if rapid.Bool().Draw(rt, "settle") {
					if _, err := e.svc.Settle(e.ctx); err != nil {
						rt.Fatalf("settle: %v", err)
					}
				} else {
					e.clock.Advance(time.Duration(rapid.IntRange(1, 6*3600).Draw(rt, "seconds")) * time.Second)
				}
			}
			r, err := e.svc.SupplyReport(e.ctx)
			if err != nil {
				rt.Fatal(err)
			}
			if !r.OK {
				rt.Fatalf("step %d: supply check failed: %+v", i, r)
			}
			got := make(map[tongbao.ID]tongbao.Amount)
			for _, w := range wallets {
				got[w.ID] = e.balance(w.ID)
				if got[w.ID] < 0 {
					rt.Fatalf("wallet %v below zero: %v", w.ID, got[w.ID])
				}
			}
			if !maps.Equal(got, model) {
				rt.Fatalf("step %d: balances %v; model %v", i, got, model)
			}
		}
	})
}
