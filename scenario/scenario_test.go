package scenario_test

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/scenario"
	"github.com/tongbao/tongbao/twotier"
)

// TestStory follows a transit sub-wallet: pushed, funded, paying the
// metro, read back by another store as another process would.
func TestStory(t *testing.T) {
	e := newEnv(t)
	tpl := e.template(e.transit())
	w := e.push(tpl, 200*yuan)
	if got := e.balance(e.holder.ID); got != holderFunds-200*yuan {
		t.Fatalf("holder holds %v after funding; want %v", got, holderFunds-200*yuan)
	}
	e.supplyOK("funding")
	must(t, e.pay(w, e.metro, 4*yuan))
	if got := e.balance(e.metro.ID); got != 4*yuan {
		t.Fatalf("metro holds %v; want 4", got)
	}
	e.supplyOK("paying the metro")

	other := e.openStore()
	defer other.Close()
	got, err := other.SubWallet(e.ctx, w.Wallet)
	must(t, err)
	if got.Parent != e.holder.ID || got.Template != tpl.ID || !got.ExpiresAt.Equal(tpl.ExpiresAt) {
		t.Fatalf("stored link %+v", got)
	}
	gt, err := other.Template(e.ctx, tpl.ID)
	must(t, err)
	if _, err := scenarioSame(gt, tpl); err != nil {
		t.Fatalf("stored template %+v; want %+v", gt, tpl)
	}
	ts, err := e.scenario.Templates(e.ctx, e.a)
	must(t, err)
	ws, err := e.scenario.SubWallets(e.ctx, e.holder.ID)
	must(t, err)
	if len(ts) != 1 || len(ws) != 1 {
		t.Fatalf("%d templates, %d sub-wallets; want 1 and 1", len(ts), len(ws))
	}
	d, err := e.scenario.Describe(e.ctx, w.Wallet)
	must(t, err)
	if d.Balance != 196*yuan || d.PaidToday != 4*yuan || d.Expired || d.Template.ID != tpl.ID {
		t.Fatalf("detail %+v", d)
	}
}

// scenarioSame compares templates the way a repeated CreateTemplate does.
func scenarioSame(a, b scenario.Template) (bool, error) {
	if a.ID != b.ID || a.Operator != b.Operator || a.Name != b.Name || a.BalanceMax != b.BalanceMax || a.PaymentMax != b.PaymentMax ||
		a.DailyMax != b.DailyMax || len(a.Categories) != len(b.Categories) || !a.ExpiresAt.Equal(b.ExpiresAt) || a.Withdrawable != b.Withdrawable {
		return false, tongbao.ErrIDConflict
	}
	return true, nil
}

// TestAllowedMerchants checks which merchants a template lets its
// sub-wallets pay: by id, by category, by region, by category and region,
// and any merchant when nothing is listed. A refusal moves nothing.
func TestAllowedMerchants(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		edit    func(*scenario.TemplateSpec)
		allowed []twotier.Wallet
		refused []twotier.Wallet
	}{
		{"by id", func(s *scenario.TemplateSpec) { s.Categories, s.Merchants = nil, []tongbao.ID{e.canteen.ID} },
			[]twotier.Wallet{e.canteen}, []twotier.Wallet{e.metro, e.beijing}},
		{"by category", func(s *scenario.TemplateSpec) { s.Categories = []string{"5814"} },
			[]twotier.Wallet{e.canteen, e.beijing}, []twotier.Wallet{e.metro, e.elsewhere}},
		{"by region", func(s *scenario.TemplateSpec) { s.Categories, s.Regions = nil, []string{"Beijing"} },
			[]twotier.Wallet{e.beijing}, []twotier.Wallet{e.metro, e.canteen}},
		{"by category and region", func(s *scenario.TemplateSpec) { s.Categories, s.Regions = []string{"5814"}, []string{"Shanghai"} },
			[]twotier.Wallet{e.canteen}, []twotier.Wallet{e.metro, e.beijing}},
		{"by id or by category", func(s *scenario.TemplateSpec) { s.Merchants = []tongbao.ID{e.beijing.ID} },
			[]twotier.Wallet{e.metro, e.beijing}, []twotier.Wallet{e.canteen}},
		{"any merchant, at any operator", func(s *scenario.TemplateSpec) { s.Categories = nil },
			[]twotier.Wallet{e.metro, e.canteen, e.beijing, e.elsewhere}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := e.transit()
			tt.edit(&spec)
			w := e.push(e.template(spec), 100*yuan)
			for _, m := range tt.refused {
				before := e.balances(w)
				wantCode(t, "paying "+m.MerchantCategory+" in "+m.Region, e.pay(w, m, yuan), tongbao.EUNPROCESSABLE, scenario.ErrMerchantNotAllowed)
				e.unchanged("a refused payment", before)
			}
			for _, m := range tt.allowed {
				must(t, e.pay(w, m, yuan))
			}
			// Never a personal wallet, whatever the template.
			before := e.balances(w)
			wantCode(t, "paying a personal wallet", e.pay(w, e.holder, yuan), tongbao.EINVALID, twotier.ErrNotMerchantWallet)
			e.unchanged("refused payments", before)
			e.supplyOK(tt.name)
		})
	}
}

// TestCaps checks the per-payment cap, the daily cap across midnight in
// Shanghai (16:00 UTC) on a manual clock, and the balance cap when
// funding; a refusal moves nothing.
func TestCaps(t *testing.T) {
	e := newEnv(t)
	e.clock.Set(time.Date(2026, 3, 10, 23, 0, 0, 0, shanghai))
	tpl := e.template(e.transit())
	w := e.push(tpl, 500*yuan)

	before := e.balances(w)
	wantCode(t, "funding past the balance cap", func() error {
		_, err := e.scenario.Fund(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: w.Wallet, Amount: 1})
		return err
	}(), tongbao.EUNPROCESSABLE, ledger.ErrBalanceLimit)
	wantCode(t, "a payment past the per-payment cap", e.pay(w, e.metro, 50*yuan+1), tongbao.EUNPROCESSABLE, ledger.ErrDebitLimit)
	e.unchanged("refusals", before)

	must(t, e.pay(w, e.metro, 50*yuan))
	must(t, e.pay(w, e.metro, 50*yuan))
	must(t, e.pay(w, e.metro, 20*yuan))
	before = e.balances(w)
	wantCode(t, "a payment past the daily cap", e.pay(w, e.metro, 1), tongbao.EUNPROCESSABLE, ledger.ErrDailyLimit)
	e.clock.Set(time.Date(2026, 3, 10, 23, 59, 59, 999_999_999, shanghai))
	wantCode(t, "a nanosecond before midnight", e.pay(w, e.metro, 1), tongbao.EUNPROCESSABLE, ledger.ErrDailyLimit)
	e.unchanged("refusals", before)
	// The sweep uses no payment cap, even with the day's used up (the
	// template forbids sweeping before the expiry; this one may).
	spec := e.transit()
	spec.Withdrawable, spec.Name = true, "Canteen card"
	w2 := e.push(e.template(spec), 200*yuan)
	must(t, e.pay(w2, e.metro, 50*yuan))
	must(t, e.pay(w2, e.metro, 50*yuan))
	must(t, e.pay(w2, e.metro, 20*yuan))
	must(t, e.sweep(w2, 80*yuan))

	e.clock.Set(time.Date(2026, 3, 11, 0, 0, 0, 0, shanghai)) // 16:00 UTC
	must(t, e.pay(w, e.metro, 50*yuan))
	if got := e.balance(w.Wallet); got != 330*yuan {
		t.Fatalf("sub-wallet holds %v; want 330", got)
	}
	// Paying frees room under the balance cap: funding fits again.
	_, err := e.scenario.Fund(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: w.Wallet, Amount: 170 * yuan})
	must(t, err)
	e.supplyOK("caps")
}

// TestExpiry checks that after the expiry nothing is paid, charged or
// funded, and the holder sweeps the money back even though the template
// forbids it before; and that before the expiry the sweep is refused.
func TestExpiry(t *testing.T) {
	e := newEnv(t)
	tpl := e.template(e.transit())
	w := e.push(tpl, 300*yuan)
	// A sub-wallet that expires before its template, in an hour.
	short, err := e.scenario.Push(e.ctx, scenario.PushSpec{Parent: e.holder.ID, Template: tpl.ID, ExpiresAt: start.Add(time.Hour)})
	must(t, err)
	_, err = e.scenario.Fund(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: short.Wallet, Amount: 40 * yuan})
	must(t, err)
	_, err = e.scenario.GrantCharge(e.ctx, w.Wallet, e.metro.ID)
	must(t, err)
	paid := scenario.Payment{ID: tongbao.NewID(), SubWallet: w.Wallet, Merchant: e.metro.ID, Amount: 3 * yuan}
	_, err = e.scenario.Pay(e.ctx, paid)
	must(t, err)

	before := e.balances(w, short)
	wantCode(t, "sweep before the expiry", e.sweep(w, yuan), tongbao.EUNPROCESSABLE, scenario.ErrSweepForbidden)
	e.unchanged("a refused sweep", before)

	e.clock.Set(start.Add(time.Hour))
	wantCode(t, "paying from the expired short sub-wallet", e.pay(short, e.metro, yuan), tongbao.EUNPROCESSABLE, scenario.ErrExpired)
	must(t, e.pay(w, e.metro, yuan)) // its template has not expired
	must(t, e.sweep(short, 40*yuan))

	e.clock.Set(tpl.ExpiresAt)
	before = e.balances(w, short)
	wantCode(t, "paying after the expiry", e.pay(w, e.metro, yuan), tongbao.EUNPROCESSABLE, scenario.ErrExpired)
	wantCode(t, "a charge after the expiry", e.charge(w, e.metro, yuan), tongbao.EUNPROCESSABLE, scenario.ErrExpired)
	_, err = e.scenario.Fund(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: w.Wallet, Amount: yuan})
	wantCode(t, "funding after the expiry", err, tongbao.EUNPROCESSABLE, scenario.ErrExpired)
	_, err = e.scenario.Push(e.ctx, scenario.PushSpec{Parent: e.holder.ID, Template: tpl.ID})
	wantCode(t, "pushing to an expired template", err, tongbao.EUNPROCESSABLE, scenario.ErrExpired)
	e.unchanged("refusals after the expiry", before)
	// A payment made before the expiry, asked again after it, answers
	// with its first result.
	r, err := e.scenario.Pay(e.ctx, paid)
	must(t, err)
	if !r.Duplicate {
		t.Fatal("a repeated payment after the expiry is not a duplicate")
	}
	paid.Amount++
	_, err = e.scenario.Pay(e.ctx, paid)
	wantCode(t, "its id with another amount", err, tongbao.ECONFLICT, tongbao.ErrIDConflict)

	left := e.balance(w.Wallet)
	must(t, e.sweep(w, left))
	if got := e.balance(w.Wallet); got != 0 {
		t.Fatalf("sub-wallet holds %v after sweeping everything; want 0", got)
	}
	if got := e.balance(e.holder.ID); got != holderFunds-4*yuan {
		t.Fatalf("holder holds %v; want %v", got, holderFunds-4*yuan)
	}
	e.supplyOK("the sweep after the expiry")
}

// TestCharge checks tap to pay: a merchant with the holder's permission
// charges up to the per-payment cap; above it, after revocation, or as
// another merchant it is refused and nothing moves.
func TestCharge(t *testing.T) {
	e := newEnv(t)
	spec := e.transit()
	spec.Categories, spec.Regions = []string{"4111", "5814"}, []string{"Shanghai"}
	w := e.push(e.template(spec), 300*yuan)
	before := e.balances(w)
	wantCode(t, "a charge without a permission", e.charge(w, e.metro, yuan), tongbao.EUNPROCESSABLE, scenario.ErrChargeNotGranted)
	_, err := e.scenario.RevokeCharge(e.ctx, w.Wallet)
	wantCode(t, "revoking no permission", err, tongbao.EUNPROCESSABLE, scenario.ErrChargeNotGranted)
	_, err = e.scenario.GrantCharge(e.ctx, w.Wallet, e.beijing.ID)
	wantCode(t, "granting a merchant the template does not allow", err, tongbao.EUNPROCESSABLE, scenario.ErrMerchantNotAllowed)
	e.unchanged("refusals", before)

	g, err := e.scenario.GrantCharge(e.ctx, w.Wallet, e.metro.ID)
	must(t, err)
	if g.ChargeMerchant != e.metro.ID || g.ChargeGrantedAt.IsZero() {
		t.Fatalf("granted link %+v", g)
	}
	_, err = e.scenario.GrantCharge(e.ctx, w.Wallet, e.metro.ID)
	must(t, err)
	_, err = e.scenario.GrantCharge(e.ctx, w.Wallet, e.canteen.ID)
	wantCode(t, "granting a second merchant", err, tongbao.ECONFLICT, scenario.ErrChargeGranted)

	must(t, e.charge(w, e.metro, 50*yuan))
	before = e.balances(w)
	wantCode(t, "a charge above the per-payment cap", e.charge(w, e.metro, 50*yuan+1), tongbao.EUNPROCESSABLE, ledger.ErrDebitLimit)
	wantCode(t, "a charge by another merchant", e.charge(w, e.canteen, yuan), tongbao.EUNPROCESSABLE, scenario.ErrChargeNotGranted)
	wantCode(t, "a charge by no merchant", e.charge(w, twotier.Wallet{ID: tongbao.NewID()}, yuan), tongbao.EUNPROCESSABLE, scenario.ErrChargeNotGranted)
	wantCode(t, "a charge by a personal wallet", e.charge(w, e.holder, yuan), tongbao.EUNPROCESSABLE, scenario.ErrChargeNotGranted)
	e.unchanged("refused charges", before)

	charge := scenario.Payment{ID: tongbao.NewID(), SubWallet: w.Wallet, Merchant: e.metro.ID, Amount: 2 * yuan}
	_, err = e.scenario.Charge(e.ctx, charge)
	must(t, err)
	r, err := e.scenario.RevokeCharge(e.ctx, w.Wallet)
	must(t, err)
	if r.ChargeRevokedAt.IsZero() {
		t.Fatalf("revoked link %+v", r)
	}
	before = e.balances(w)
	wantCode(t, "a charge after revocation", e.charge(w, e.metro, yuan), tongbao.EUNPROCESSABLE, scenario.ErrChargeRevoked)
	e.unchanged("a charge after revocation", before)
	// The charge made before, asked again: its first result.
	rep, err := e.scenario.Charge(e.ctx, charge)
	must(t, err)
	if !rep.Duplicate {
		t.Fatal("a repeated charge after revocation is not a duplicate")
	}
	// The engine refuses it too, whatever the record says.
	_, err = e.svc.PayScenario(e.ctx, twotier.ScenarioPayment{ID: tongbao.NewID(), From: w.Wallet, To: e.metro.ID, Amount: yuan, Charge: true})
	wantCode(t, "a charge past the record", err, tongbao.EUNPROCESSABLE, scenario.ErrChargeRevoked)
	// The holder still pays the metro itself, and may grant another.
	must(t, e.pay(w, e.metro, yuan))
	_, err = e.scenario.GrantCharge(e.ctx, w.Wallet, e.canteen.ID)
	must(t, err)
	must(t, e.charge(w, e.canteen, yuan))
	wantCode(t, "the metro after the grant moved on", e.charge(w, e.metro, yuan), tongbao.EUNPROCESSABLE, nil)
	if got := e.balance(w.Wallet); got != 246*yuan {
		t.Fatalf("sub-wallet holds %v; want 246", got)
	}
	e.supplyOK("charges")
}

// TestGenericPaymentsRefuseSubWallets checks that the generic payment
// path (what /v1/payments uses) and the bank top-up and withdrawal refuse
// a sub-wallet, changing nothing; funding from the parent is the way in.
func TestGenericPaymentsRefuseSubWallets(t *testing.T) {
	e := newEnv(t)
	w := e.push(e.template(e.transit()), 100*yuan)
	before := e.balances(w)
	_, err := e.svc.Pay(e.ctx, twotier.Payment{ID: tongbao.NewID(), From: w.Wallet, To: e.metro.ID, Amount: yuan})
	wantCode(t, "twotier.Pay from a sub-wallet", err, tongbao.EUNPROCESSABLE, twotier.ErrScenarioWallet)
	_, err = e.svc.Pay(e.ctx, twotier.Payment{ID: tongbao.NewID(), From: e.holder.ID, To: w.Wallet, Amount: yuan})
	wantCode(t, "twotier.Pay into a sub-wallet, even from its parent", err, tongbao.EUNPROCESSABLE, twotier.ErrScenarioWallet)
	out, err := e.svc.PayBatch(e.ctx, []twotier.Payment{
		{ID: tongbao.NewID(), From: w.Wallet, To: e.metro.ID, Amount: yuan},
		{ID: tongbao.NewID(), From: e.holder.ID, To: w.Wallet, Amount: yuan},
	})
	must(t, err)
	for i, o := range out {
		wantCode(t, "PayBatch with a sub-wallet", o.Err, tongbao.EUNPROCESSABLE, twotier.ErrScenarioWallet)
		_ = i
	}
	_, err = e.svc.TopUp(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.Wallet, Amount: yuan})
	wantCode(t, "top-up from the bank", err, tongbao.EUNPROCESSABLE, twotier.ErrScenarioWallet)
	_, err = e.svc.Withdraw(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.Wallet, Amount: yuan})
	wantCode(t, "withdrawal to the bank", err, tongbao.EUNPROCESSABLE, twotier.ErrScenarioWallet)
	e.unchanged("generic operations", before)
	e.supplyOK("generic operations")
}

// TestIdempotency checks that every operation again under its id gives
// its first result, and under its id with other content a conflict,
// moving nothing.
func TestIdempotency(t *testing.T) {
	e := newEnv(t)
	spec := e.transit()
	spec.ID = tongbao.NewID()
	tpl := e.template(spec)
	again := e.template(spec)
	if again.ID != tpl.ID || !again.CreatedAt.Equal(tpl.CreatedAt) {
		t.Fatalf("template again: %+v; want %+v", again, tpl)
	}
	spec.PaymentMax++
	_, err := e.scenario.CreateTemplate(e.ctx, spec)
	wantCode(t, "a template's id with other caps", err, tongbao.ECONFLICT, tongbao.ErrIDConflict)

	push := scenario.PushSpec{ID: tongbao.NewID(), Parent: e.holder.ID, Template: tpl.ID}
	w, err := e.scenario.Push(e.ctx, push)
	must(t, err)
	w2, err := e.scenario.Push(e.ctx, push)
	must(t, err)
	if w2.Wallet != w.Wallet || w2.Template != w.Template || !w2.CreatedAt.Equal(w.CreatedAt) {
		t.Fatalf("push again: %+v; want %+v", w2, w)
	}
	push.ExpiresAt = start.Add(time.Hour)
	_, err = e.scenario.Push(e.ctx, push)
	wantCode(t, "a sub-wallet's id with another expiry", err, tongbao.ECONFLICT, tongbao.ErrIDConflict)
	_, err = e.scenario.Push(e.ctx, scenario.PushSpec{ID: e.metro.ID, Parent: e.holder.ID, Template: tpl.ID})
	wantCode(t, "a merchant wallet's id as a sub-wallet's", err, tongbao.ECONFLICT, tongbao.ErrIDConflict)

	fund := scenario.Move{ID: tongbao.NewID(), SubWallet: w.Wallet, Amount: 100 * yuan}
	pay := scenario.Payment{ID: tongbao.NewID(), SubWallet: w.Wallet, Merchant: e.metro.ID, Amount: 5 * yuan}
	for i := 0; i < 2; i++ {
		r, err := e.scenario.Fund(e.ctx, fund)
		must(t, err)
		if r.Duplicate != (i == 1) {
			t.Fatalf("fund %d: duplicate %v", i, r.Duplicate)
		}
		p, err := e.scenario.Pay(e.ctx, pay)
		must(t, err)
		if p.Duplicate != (i == 1) {
			t.Fatalf("payment %d: duplicate %v", i, p.Duplicate)
		}
	}
	before := e.balances(w)
	fund.Amount++
	_, err = e.scenario.Fund(e.ctx, fund)
	wantCode(t, "a funding's id with another amount", err, tongbao.ECONFLICT, tongbao.ErrIDConflict)
	pay.Amount++
	_, err = e.scenario.Pay(e.ctx, pay)
	wantCode(t, "a payment's id with another amount", err, tongbao.ECONFLICT, tongbao.ErrIDConflict)
	pay.Amount--
	_, err = e.scenario.GrantCharge(e.ctx, w.Wallet, e.metro.ID)
	must(t, err)
	_, err = e.scenario.Charge(e.ctx, pay)
	wantCode(t, "a payment's id as a charge's", err, tongbao.ECONFLICT, nil)
	e.unchanged("conflicts", before)
	if got := e.balance(w.Wallet); got != 95*yuan {
		t.Fatalf("sub-wallet holds %v; want 95", got)
	}
	e.supplyOK("idempotency")
}

// TestBadInput checks that each malformed request is refused with a
// clear code and changes nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	tpl := e.template(e.transit())
	w := e.push(tpl, 100*yuan)
	other := e.personal(e.b)
	tplB := e.template(scenario.TemplateSpec{Operator: e.b, Name: "Canteen B", BalanceMax: yuan, PaymentMax: yuan, Withdrawable: true})
	before := e.balances(w)
	spec := func(edit func(*scenario.TemplateSpec)) error {
		s := e.transit()
		edit(&s)
		_, err := e.scenario.CreateTemplate(e.ctx, s)
		return err
	}
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"template without a name", spec(func(s *scenario.TemplateSpec) { s.Name = " " }), tongbao.EINVALID},
		{"template with a zero balance cap", spec(func(s *scenario.TemplateSpec) { s.BalanceMax = 0 }), tongbao.EINVALID},
		{"template with a negative daily cap", spec(func(s *scenario.TemplateSpec) { s.DailyMax = -1 }), tongbao.EINVALID},
		{"template with a bad category", spec(func(s *scenario.TemplateSpec) { s.Categories = []string{"41a1"} }), tongbao.EINVALID},
		{"template with an empty region", spec(func(s *scenario.TemplateSpec) { s.Regions = []string{""} }), tongbao.EINVALID},
		{"template with a zero merchant", spec(func(s *scenario.TemplateSpec) { s.Merchants = []tongbao.ID{{}} }), tongbao.EINVALID},
		{"template expiring in the past", spec(func(s *scenario.TemplateSpec) { s.ExpiresAt = start.Add(-time.Second) }), tongbao.EINVALID},
		{"template forbidding sweeps that never expires", spec(func(s *scenario.TemplateSpec) { s.ExpiresAt = time.Time{} }), tongbao.EINVALID},
		{"template at no operator", spec(func(s *scenario.TemplateSpec) { s.Operator = tongbao.IDFromUint64(99) }), tongbao.ENOTFOUND},
		{"template at the central bank", spec(func(s *scenario.TemplateSpec) { s.Operator = tongbao.IDFromUint64(1) }), tongbao.EINVALID},
		{"push to no template", func() error {
			_, err := e.scenario.Push(e.ctx, scenario.PushSpec{Parent: e.holder.ID, Template: tongbao.NewID()})
			return err
		}(), tongbao.ENOTFOUND},
		{"push from a merchant wallet", func() error {
			_, err := e.scenario.Push(e.ctx, scenario.PushSpec{Parent: e.metro.ID, Template: tpl.ID})
			return err
		}(), tongbao.EINVALID},
		{"push from a sub-wallet", func() error {
			_, err := e.scenario.Push(e.ctx, scenario.PushSpec{Parent: w.Wallet, Template: tpl.ID})
			return err
		}(), tongbao.EINVALID},
		{"push to another operator's template", func() error {
			_, err := e.scenario.Push(e.ctx, scenario.PushSpec{Parent: other.ID, Template: tpl.ID})
			return err
		}(), tongbao.EINVALID},
		{"push to a template at B from A", func() error {
			_, err := e.scenario.Push(e.ctx, scenario.PushSpec{Parent: e.holder.ID, Template: tplB.ID})
			return err
		}(), tongbao.EINVALID},
		{"push expiring after its template", func() error {
			_, err := e.scenario.Push(e.ctx, scenario.PushSpec{Parent: e.holder.ID, Template: tpl.ID, ExpiresAt: tpl.ExpiresAt.Add(time.Second)})
			return err
		}(), tongbao.EINVALID},
		{"fund without an id", func() error {
			_, err := e.scenario.Fund(e.ctx, scenario.Move{SubWallet: w.Wallet, Amount: yuan})
			return err
		}(), tongbao.EINVALID},
		{"fund a zero amount", func() error {
			_, err := e.scenario.Fund(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: w.Wallet})
			return err
		}(), tongbao.EINVALID},
		{"fund in dollars", func() error {
			_, err := e.scenario.Fund(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: w.Wallet, Amount: yuan, Currency: "USD"})
			return err
		}(), tongbao.EINVALID},
		{"fund no sub-wallet", func() error {
			_, err := e.scenario.Fund(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: e.holder.ID, Amount: yuan})
			return err
		}(), tongbao.ENOTFOUND},
		{"fund more than the parent holds", func() error {
			_, err := e.scenario.Fund(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: w.Wallet, Amount: holderFunds})
			return err
		}(), tongbao.EUNPROCESSABLE},
		{"pay a negative amount", e.pay(w, e.metro, -1), tongbao.EINVALID},
		{"pay more than the sub-wallet holds", func() error {
			spec := e.transit()
			spec.Name = "empty"
			return e.pay(e.push(e.template(spec), 0), e.metro, yuan)
		}(), tongbao.EUNPROCESSABLE},
		{"pay no wallet", e.pay(w, twotier.Wallet{ID: tongbao.NewID()}, yuan), tongbao.ENOTFOUND},
		{"sweep without an id", func() error {
			_, err := e.scenario.Sweep(e.ctx, scenario.Move{SubWallet: w.Wallet, Amount: yuan})
			return err
		}(), tongbao.EINVALID},
		{"grant a personal wallet", func() error {
			_, err := e.scenario.GrantCharge(e.ctx, w.Wallet, e.holder.ID)
			return err
		}(), tongbao.EINVALID},
	}
	for _, tt := range tests {
		wantCode(t, tt.name, tt.err, tt.code, nil)
	}
	e.unchanged("bad input", before)
	e.supplyOK("bad input")
}

// TestConcurrentCharges sends many charges at once against the daily cap:
// exactly as many pass as fit, whatever the interleaving.
func TestConcurrentCharges(t *testing.T) {
	e := newEnv(t)
	spec := e.transit()
	spec.DailyMax = 100 * yuan
	w := e.push(e.template(spec), 500*yuan)
	_, err := e.scenario.GrantCharge(e.ctx, w.Wallet, e.metro.ID)
	must(t, err)
	const charges, fare = 40, 7 * yuan
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < charges; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.charge(w, e.metro, fare)
			switch {
			case err == nil:
				ok.Add(1)
			case tongbao.ErrorCode(err) != tongbao.EUNPROCESSABLE:
				t.Errorf("charge: %v", err)
			}
		}()
	}
	wg.Wait()
	if want := int64(spec.DailyMax / fare); ok.Load() != want {
		t.Fatalf("%d charges passed; want %d", ok.Load(), want)
	}
	if got, want := e.balance(w.Wallet), 500*yuan-tongbao.Amount(ok.Load())*fare; got != want {
		t.Fatalf("sub-wallet holds %v; want %v", got, want)
	}
	e.supplyOK("concurrent charges")
}

// TestRevokeDuringCharges revokes a permission while the merchant charges
// as fast as it can: no charge sent after the revocation was answered
// goes through, and the sub-wallet lost exactly what the charges that did
// took.
func TestRevokeDuringCharges(t *testing.T) {
	e := newEnv(t)
	spec := e.transit()
	spec.DailyMax = 0
	w := e.push(e.template(spec), 500*yuan)
	_, err := e.scenario.GrantCharge(e.ctx, w.Wallet, e.metro.ID)
	must(t, err)
	const workers, fare = 4, 1 * yuan
	var revoked atomic.Bool
	var passed atomic.Int64
	var wg sync.WaitGroup
	// Some charges go through before the revocation.
	someThrough, done := make(chan struct{}), make(chan struct{})
	var once sync.Once
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 100; k++ {
				after := revoked.Load()
				err := e.charge(w, e.metro, fare)
				switch {
				case err == nil && after:
					t.Errorf("a charge sent after the revocation went through")
					return
				case err == nil:
					if passed.Add(1) == 10 {
						once.Do(func() { close(someThrough) })
					}
				case after:
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-someThrough:
	case <-done:
		t.Fatal("the charges ended before ten went through")
	}
	_, err = e.scenario.RevokeCharge(e.ctx, w.Wallet)
	must(t, err)
	revoked.Store(true)
	<-done
	if got, want := e.balance(w.Wallet), 500*yuan-tongbao.Amount(passed.Load())*fare; got != want {
		t.Fatalf("sub-wallet holds %v after %d charges; want %v", got, passed.Load(), want)
	}
	e.supplyOK("revoking during charges")
}

// TestEndExpired checks that money left in expired sub-wallets goes back
// to their parents by itself: each is swept and closed once, one whose
// parent cannot receive is left for the next run, and one not expired is
// not touched.
func TestEndExpired(t *testing.T) {
	e := newEnv(t)
	tpl := e.template(e.transit())
	full := e.push(tpl, 120*yuan)
	must(t, e.pay(full, e.metro, 20*yuan))
	empty := e.push(tpl, 0)
	spec := e.transit()
	spec.Name, spec.ExpiresAt = "Later", tpl.ExpiresAt.Add(time.Hour)
	later := e.push(e.template(spec), 30*yuan)
	// Another holder's, whose wallet is suspended when its sub-wallet
	// expires.
	owner := e.holder
	e.holder = e.personal(e.a)
	stuck := e.push(tpl, 10*yuan)
	stuckParent := e.holder
	e.holder = owner
	_, err := e.svc.SetState(e.ctx, stuckParent.ID, twotier.StateSuspended, "under review")
	must(t, err)

	if n, err := e.scenario.EndExpired(e.ctx); n != 0 || err != nil {
		t.Fatalf("before the expiry: ended %d, %v; want none", n, err)
	}
	e.clock.Set(tpl.ExpiresAt)
	n, err := e.scenario.EndExpired(e.ctx)
	if n != 2 || err == nil {
		t.Fatalf("at the expiry: ended %d, %v; want 2 and the suspended parent's refusal", n, err)
	}
	if got := e.balance(owner.ID); got != holderFunds-120*yuan-30*yuan+100*yuan {
		t.Fatalf("holder holds %v after the end; want %v", got, holderFunds-50*yuan)
	}
	for _, w := range []scenario.SubWallet{full, empty} {
		tw, err := e.svc.Wallet(e.ctx, w.Wallet)
		must(t, err)
		link, err := e.scenario.SubWallet(e.ctx, w.Wallet)
		must(t, err)
		if tw.State != twotier.StateClosed || link.EndedAt.IsZero() || e.balance(w.Wallet) != 0 {
			t.Fatalf("ended sub-wallet: state %s, ended %v, balance %v", tw.State, link.EndedAt, e.balance(w.Wallet))
		}
	}
	if got := e.balance(later.Wallet); got != 30*yuan {
		t.Fatalf("the sub-wallet not expired holds %v; want 30", got)
	}
	if got := e.balance(stuck.Wallet); got != 10*yuan {
		t.Fatalf("the sub-wallet of the suspended parent holds %v; want 10", got)
	}
	e.supplyOK("ending")

	_, err = e.svc.SetState(e.ctx, stuckParent.ID, twotier.StateActive, "")
	must(t, err)
	e.clock.Advance(time.Minute) // the scheduler's next run
	if n, err := e.scenario.EndExpired(e.ctx); n != 1 || err != nil {
		t.Fatalf("after the parent is active again: ended %d, %v; want 1", n, err)
	}
	if got := e.balance(stuckParent.ID); got != holderFunds {
		t.Fatalf("the other holder holds %v; want %v", got, holderFunds)
	}
	if n, err := e.scenario.EndExpired(e.ctx); n != 0 || err != nil {
		t.Fatalf("again: ended %d, %v; want none", n, err)
	}
	e.supplyOK("ending again")
}

// TestStoreExpiredPages pages through the links due to end, in id order,
// on the store itself: only expired ones not ended, each once.
func TestStoreExpiredPages(t *testing.T) {
	e := newEnv(t)
	at := start.Add(time.Hour)
	var want []tongbao.ID
	for i := 0; i < 5; i++ {
		w := scenario.SubWallet{Wallet: tongbao.NewID(), Parent: e.holder.ID, Template: tongbao.NewID(), Operator: e.a, CreatedAt: start}
		switch i {
		case 0: // never expires
		case 1: // expires later
			w.ExpiresAt = at.Add(time.Nanosecond)
		case 2: // ended already
			w.ExpiresAt, w.EndedAt = at, at
		default:
			w.ExpiresAt = at.Add(-time.Duration(i) * time.Minute)
			want = append(want, w.Wallet)
		}
		must(t, e.store.CreateSubWallet(e.ctx, w))
	}
	w := scenario.SubWallet{Wallet: tongbao.NewID(), Parent: e.holder.ID, ExpiresAt: at, CreatedAt: start}
	must(t, e.store.CreateSubWallet(e.ctx, w))
	want = append(want, w.Wallet)
	wantCode(t, "a link stored twice", e.store.CreateSubWallet(e.ctx, w), tongbao.ECONFLICT, scenario.ErrSubWalletExists)
	slices.SortFunc(want, func(a, b tongbao.ID) int { return bytes.Compare(a[:], b[:]) })
	var got []tongbao.ID
	for after := (tongbao.ID{}); ; {
		page, err := e.store.Expired(e.ctx, at, after, 1)
		must(t, err)
		if len(page) == 0 {
			break
		}
		got = append(got, page[0].Wallet)
		after = page[0].Wallet
	}
	if !slices.Equal(got, want) {
		t.Fatalf("expired links %v; want %v", got, want)
	}
	w.EndedAt = at
	must(t, e.store.UpdateSubWallet(e.ctx, w))
	page, err := e.store.Expired(e.ctx, at, tongbao.ID{}, 0)
	must(t, err)
	if len(page) != len(want)-1 {
		t.Fatalf("after ending one: %d links; want %d", len(page), len(want)-1)
	}
	wantCode(t, "updating no link", e.store.UpdateSubWallet(e.ctx, scenario.SubWallet{Wallet: tongbao.NewID()}), tongbao.ENOTFOUND, scenario.ErrSubWalletNotFound)
}

// TestAcrossOperators pays and charges a merchant at another operator
// from a sub-wallet: the same caps count, the payments go through the
// clearing accounts and settle, reconciliation finds nothing amiss, and a
// repeat answers with the first result even after the expiry.
func TestAcrossOperators(t *testing.T) {
	e := newEnv(t)
	tpl := e.template(e.transit())
	w := e.push(tpl, 300*yuan)
	first := scenario.Payment{ID: tongbao.NewID(), SubWallet: w.Wallet, Merchant: e.elsewhere.ID, Amount: 50 * yuan}
	r, err := e.scenario.Pay(e.ctx, first)
	must(t, err)
	if !r.CrossOperator || r.Duplicate {
		t.Fatalf("payment across operators: %+v", r)
	}
	again, err := e.scenario.Pay(e.ctx, first)
	must(t, err)
	if !again.Duplicate || again.Timestamp != r.Timestamp {
		t.Fatalf("the payment again: %+v; want the first %+v", again, r)
	}
	before := e.balances(w)
	conflict := first
	conflict.Amount++
	_, err = e.scenario.Pay(e.ctx, conflict)
	wantCode(t, "its id with another amount", err, tongbao.ECONFLICT, nil)
	wantCode(t, "past the per-payment cap", e.pay(w, e.elsewhere, 50*yuan+1), tongbao.EUNPROCESSABLE, ledger.ErrDebitLimit)
	e.unchanged("refusals across operators", before)
	e.supplyOK("a payment across operators")

	_, err = e.scenario.GrantCharge(e.ctx, w.Wallet, e.elsewhere.ID)
	must(t, err)
	must(t, e.charge(w, e.elsewhere, 50*yuan))
	if _, err := e.svc.Settle(e.ctx); err != nil {
		t.Fatal(err)
	}
	// The day's payments across and within operators share the daily cap.
	must(t, e.pay(w, e.metro, 20*yuan))
	before = e.balances(w)
	wantCode(t, "a charge past the daily cap", e.charge(w, e.elsewhere, 1), tongbao.EUNPROCESSABLE, ledger.ErrDailyLimit)
	e.unchanged("a charge past the daily cap", before)
	if got := e.balance(e.elsewhere.ID); got != 100*yuan {
		t.Fatalf("the merchant at B holds %v; want 100", got)
	}
	e.supplyOK("charges across operators and a settlement")
	for _, op := range []tongbao.ID{e.a, e.b} {
		rep, err := e.svc.Reconcile(e.ctx, op, e.clock.Now())
		must(t, err)
		if len(rep.Differences) != 0 || rep.Records != 2 {
			t.Fatalf("reconciliation of %v: %d records, differences %+v", op, rep.Records, rep.Differences)
		}
	}

	e.clock.Set(tpl.ExpiresAt)
	r2, err := e.scenario.Pay(e.ctx, first)
	must(t, err)
	if !r2.Duplicate || r2.Timestamp != r.Timestamp {
		t.Fatalf("the payment again after the expiry: %+v; want the first %+v", r2, r)
	}
	wantCode(t, "a new payment after the expiry", e.pay(w, e.elsewhere, yuan), tongbao.EUNPROCESSABLE, scenario.ErrExpired)
	e.supplyOK("after the expiry")
}

// A parent wallet that may not pay (receive-only, suspended, frozen) pays
// nothing through its sub-wallets either, and pushes no new one; the
// money can still come back to it where its state lets money in.
func TestParentStateStopsSubWallets(t *testing.T) {
	e := newEnv(t)
	spec := e.transit()
	spec.Withdrawable = true
	w := e.push(e.template(spec), 100*yuan)
	must(t, e.pay(w, e.metro, yuan))
	_, err := e.scenario.GrantCharge(e.ctx, w.Wallet, e.metro.ID)
	must(t, err)

	_, err = e.svc.SetState(e.ctx, e.holder.ID, twotier.StateReceiveOnly, "AML review")
	must(t, err)
	before := e.balances(w)
	wantCode(t, "a payment of a receive-only parent's sub-wallet", e.pay(w, e.metro, yuan), tongbao.ErrorCode(ledger.ErrDebitsDisabled), ledger.ErrDebitsDisabled)
	wantCode(t, "a charge of a receive-only parent's sub-wallet", e.charge(w, e.metro, yuan), tongbao.ErrorCode(ledger.ErrDebitsDisabled), ledger.ErrDebitsDisabled)
	_, err = e.scenario.Push(e.ctx, scenario.PushSpec{Parent: e.holder.ID, Template: w.Template})
	wantCode(t, "a push from a receive-only parent", err, tongbao.EUNPROCESSABLE, twotier.ErrParentNotActive)
	e.unchanged("a receive-only parent", before)
	must(t, e.sweep(w, 10*yuan)) // money may go back to a parent that receives

	_, err = e.svc.SetState(e.ctx, e.holder.ID, twotier.StateActive, "")
	must(t, err)
	must(t, e.pay(w, e.metro, yuan))
	must(t, e.charge(w, e.metro, yuan))

	_, err = e.svc.Freeze(e.ctx, e.holder.ID, e.clock.Now().Add(time.Hour), "court order")
	must(t, err)
	before = e.balances(w)
	wantCode(t, "a payment of a frozen parent's sub-wallet", e.pay(w, e.metro, yuan), tongbao.ErrorCode(ledger.ErrAccountFrozen), ledger.ErrAccountFrozen)
	wantCode(t, "a charge of a frozen parent's sub-wallet", e.charge(w, e.metro, yuan), tongbao.ErrorCode(ledger.ErrAccountFrozen), ledger.ErrAccountFrozen)
	e.unchanged("a frozen parent", before)
	e.clock.Advance(time.Hour) // the freeze lifts by itself, for the sub-wallets too
	must(t, e.pay(w, e.metro, yuan))
	e.supplyOK("parent states")
}

// A wallet opened with an id the engine derives for a charge meter is
// never taken for one: granting the charge is refused and no money moves
// out of that wallet.
func TestDerivedIDTakenIsRefused(t *testing.T) {
	e := newEnv(t)
	tpl := e.template(e.transit())
	w := e.push(tpl, 100*yuan)
	meter := twotier.ChargeMeterID(w.Wallet, e.metro.ID)
	squat, err := e.scenario.Push(e.ctx, scenario.PushSpec{ID: meter, Parent: e.holder.ID, Template: tpl.ID})
	must(t, err)
	_, err = e.scenario.Fund(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: squat.Wallet, Amount: 50 * yuan})
	must(t, err)
	before := e.balances(w, squat)
	_, err = e.scenario.GrantCharge(e.ctx, w.Wallet, e.metro.ID)
	wantCode(t, "a grant whose meter id is a wallet's", err, tongbao.ECONFLICT, nil)
	wantCode(t, "a charge without the grant", e.charge(w, e.metro, yuan), tongbao.EUNPROCESSABLE, scenario.ErrChargeNotGranted)
	e.unchanged("a taken meter id", before)
	e.supplyOK("a taken meter id")
}

// A wallet and its sub-wallets together hold no more than the wallet's
// KYC category allows: the parent's balance cap shrinks by each
// sub-wallet's, so it cannot be loaded again to make up for what it moved
// into them; a sub-wallet closed gives its part back.
func TestSubWalletsShareTheParentsBalanceCap(t *testing.T) {
	e := newEnv(t)
	const cap4 = 10_000 * yuan // category 4's balance cap by default
	parent, err := e.svc.OpenWallet(e.ctx, twotier.WalletSpec{Operator: e.a, Category: twotier.Category4, Phone: fmt.Sprintf("+86%011d", phones.Add(1))})
	must(t, err)
	topUp := func(amount tongbao.Amount) error {
		_, err := e.svc.TopUp(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: parent.ID, Amount: amount})
		return err
	}
	spec := e.transit()
	spec.Withdrawable = true
	tpl := e.template(spec) // 500 on balance
	sub, err := e.scenario.Push(e.ctx, scenario.PushSpec{Parent: parent.ID, Template: tpl.ID})
	must(t, err)
	must(t, topUp(cap4-500*yuan))
	wantCode(t, "loading the parent past its cap less the sub-wallet's", topUp(1), tongbao.EUNPROCESSABLE, ledger.ErrBalanceLimit)
	_, err = e.scenario.Fund(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: sub.Wallet, Amount: 500 * yuan})
	must(t, err)
	must(t, topUp(500*yuan)) // the room the funding made
	wantCode(t, "loading the parent again", topUp(1), tongbao.EUNPROCESSABLE, ledger.ErrBalanceLimit)
	if got := e.balance(parent.ID) + e.balance(sub.Wallet); got != cap4 {
		t.Fatalf("wallet and sub-wallet hold %v; want the category's cap %v", got, cap4)
	}

	// A second template whose cap would take the rest of the category's.
	big := spec
	big.Name, big.BalanceMax, big.PaymentMax = "Big", cap4-500*yuan, 50*yuan
	_, err = e.scenario.Push(e.ctx, scenario.PushSpec{Parent: parent.ID, Template: e.template(big).ID})
	wantCode(t, "sub-wallets taking the whole cap", err, tongbao.EUNPROCESSABLE, twotier.ErrParentCapTaken)

	// A parent at its cap receives no sweep either (as at any cap); once
	// it has spent, the money comes back, and the sub-wallet, closed,
	// gives its part of the cap back.
	wantCode(t, "a sweep into a full parent", e.sweep(sub, 500*yuan), tongbao.EUNPROCESSABLE, ledger.ErrBalanceLimit)
	_, err = e.svc.Pay(e.ctx, twotier.Payment{ID: tongbao.NewID(), From: parent.ID, To: e.canteen.ID, Amount: 500 * yuan})
	must(t, err)
	must(t, e.sweep(sub, 500*yuan))
	_, err = e.svc.SetState(e.ctx, sub.Wallet, twotier.StateClosed, "no longer used")
	must(t, err)
	must(t, topUp(500*yuan))
	wantCode(t, "loading the parent past its category's cap", topUp(1), tongbao.EUNPROCESSABLE, ledger.ErrBalanceLimit)
	if got := e.balance(parent.ID); got != cap4 {
		t.Fatalf("parent holds %v; want its category's whole cap %v", got, cap4)
	}
	e.supplyOK("shared caps")
}
