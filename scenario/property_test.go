package scenario_test

import (
	"fmt"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/scenario"
	"github.com/tongbao/tongbao/twotier"
	"pgregory.net/rapid"
)

// TestProperty runs random sequences of pushes, fundings, payments and
// charges (within and across operators), sweeps, grants, revocations,
// settlements and time passing (across midnight and the expiry), and after each step checks that the supply holds, that
// every balance is what a simple model says (a success moves exactly its
// amount, a refusal nothing), that no sub-wallet is past its balance cap
// or paid more than its caps allow in a day, that nothing was paid or
// charged after the expiry, and that after it the holder can always sweep
// everything back.
//
// The runs share one env (a fresh one each would spend most of the test
// opening databases); each run has a holder and a template of its own,
// from the clock's moment on.
func TestProperty(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.DepositReserves(e.ctx, twotier.Operation{ID: tongbao.NewID(), Operator: e.a, Amount: 10_000_000 * yuan})
	must(t, err)
	_, err = e.svc.Issue(e.ctx, twotier.Operation{ID: tongbao.NewID(), Operator: e.a, Amount: 10_000_000 * yuan})
	must(t, err)
	rapid.Check(t, func(rt *rapid.T) {
		e.holder = e.personal(e.a)
		spec := e.transit()
		spec.ExpiresAt = e.clock.Now().Add(40 * time.Hour)
		spec.Withdrawable = rapid.Bool().Draw(rt, "withdrawable")
		tpl := e.template(spec)
		merchants := []twotier.Wallet{e.metro, e.canteen, e.elsewhere}
		var subs []scenario.SubWallet
		model := e.balances()
		type dayKey struct {
			sub tongbao.ID
			day string
		}
		paid := make(map[dayKey]tongbao.Amount)
		amount := func(label string) tongbao.Amount {
			return tongbao.Amount(rapid.OneOf(rapid.Int64Range(-1, 60*100), rapid.Int64Range(0, 600*100)).Draw(rt, label))
		}
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			kind := rapid.IntRange(0, 8).Draw(rt, "kind")
			if len(subs) == 0 {
				kind = 0
			}
			now := e.clock.Now()
			expired := !now.Before(tpl.ExpiresAt)
			var step string
			switch kind {
			case 0:
				step = "push"
				w, err := e.scenario.Push(e.ctx, scenario.PushSpec{Parent: e.holder.ID, Template: tpl.ID})
				if err == nil {
					subs = append(subs, w)
					model[w.Wallet] = 0
				} else if !expired {
					rt.Fatalf("push before the expiry: %v", err)
				}
			case 1:
				w := subs[rapid.IntRange(0, len(subs)-1).Draw(rt, "sub")]
				a := amount("fund")
				step = fmt.Sprintf("fund %v", a)
				if _, err := e.scenario.Fund(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: w.Wallet, Amount: a}); err == nil {
					model[e.holder.ID] -= a
					model[w.Wallet] += a
				}
			case 2, 3:
				w := subs[rapid.IntRange(0, len(subs)-1).Draw(rt, "sub")]
				m := merchants[rapid.IntRange(0, len(merchants)-1).Draw(rt, "merchant")]
				a := amount("payment")
				charge := kind == 3
				step = fmt.Sprintf("payment %v (charge %v)", a, charge)
				p := scenario.Payment{ID: tongbao.NewID(), SubWallet: w.Wallet, Merchant: m.ID, Amount: a}
				var err error
				if charge {
					_, err = e.scenario.Charge(e.ctx, p)
				} else {
					_, err = e.scenario.Pay(e.ctx, p)
				}
				if err == nil {
					if expired {
						rt.Fatalf("%s went through after the expiry", step)
					}
					if m.ID == e.canteen.ID { // 5814; the others are 4111, at A and at B
						rt.Fatalf("%s paid a merchant the template does not allow", step)
					}
					if a > tpl.PaymentMax {
						rt.Fatalf("%s is past the per-payment cap", step)
					}
					k := dayKey{w.Wallet, now.In(shanghai).Format(time.DateOnly)}
					paid[k] += a
					if paid[k] > tpl.DailyMax {
						rt.Fatalf("%s: paid %v on %s; daily cap %v", step, paid[k], k.day, tpl.DailyMax)
					}
					model[w.Wallet] -= a
					model[m.ID] += a
				}
			case 4:
				w := subs[rapid.IntRange(0, len(subs)-1).Draw(rt, "sub")]
				a := amount("sweep")
				step = fmt.Sprintf("sweep %v", a)
				if _, err := e.scenario.Sweep(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: w.Wallet, Amount: a}); err == nil {
					if !expired && !tpl.Withdrawable {
						rt.Fatalf("%s before the expiry of a template that forbids it", step)
					}
					model[w.Wallet] -= a
					model[e.holder.ID] += a
				}
			case 5:
				w := subs[rapid.IntRange(0, len(subs)-1).Draw(rt, "sub")]
				m := merchants[rapid.IntRange(0, 1).Draw(rt, "merchant")]
				step = "grant"
				e.scenario.GrantCharge(e.ctx, w.Wallet, m.ID)
			case 6:
				w := subs[rapid.IntRange(0, len(subs)-1).Draw(rt, "sub")]
				step = "revoke"
				e.scenario.RevokeCharge(e.ctx, w.Wallet)
			case 7:
				d := time.Duration(rapid.IntRange(1, 12*3600).Draw(rt, "seconds")) * time.Second
				step = fmt.Sprintf("advance %v", d)
				e.clock.Advance(d)
			case 8:
				step = "settle"
				if _, err := e.svc.Settle(e.ctx); err != nil {
					rt.Fatalf("settle: %v", err)
				}
			}
			e.supplyOK(step)
			for id, want := range model {
				if got := e.balance(id); got != want {
					rt.Fatalf("step %d (%s): balance of %v is %v; model %v", i, step, id, got, want)
				}
			}
			for _, w := range subs {
				if b := model[w.Wallet]; b < 0 || b > tpl.BalanceMax {
					rt.Fatalf("step %d (%s): sub-wallet holds %v; balance cap %v", i, step, b, tpl.BalanceMax)
				}
			}
		}
		// After the expiry, everything goes back to the parent: by the
		// holder's sweeps, or by itself.
		e.clock.Set(tpl.ExpiresAt)
		if rapid.Bool().Draw(rt, "end by itself") {
			if _, err := e.scenario.EndExpired(e.ctx); err != nil {
				rt.Fatalf("ending the expired sub-wallets: %v", err)
			}
		}
		for _, w := range subs {
			if b := e.balance(w.Wallet); b > 0 {
				if _, err := e.scenario.Sweep(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: w.Wallet, Amount: b}); err != nil {
					rt.Fatalf("sweeping %v back after the expiry: %v", b, err)
				}
			}
			if got := e.balance(w.Wallet); got != 0 {
				rt.Fatalf("sub-wallet holds %v after the last sweep", got)
			}
		}
		e.supplyOK("the last sweeps")
	})
}
