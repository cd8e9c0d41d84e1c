package httpapi_test

import (
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// scenarioEnv is a server on a manual clock with two operators, a holder
// at A with 5,000.00, a metro (4111) and a noodle shop (5812) at A, each
// with its merchant key, and a holder at B.
type scenarioEnv struct {
	*env
	clock            *tongbao.ManualClock
	a, b             tongbao.ID
	adminA, adminB   *client.Client
	holder           wire.Wallet
	holderKey        *client.Client
	other            wire.Wallet
	otherKey         *client.Client
	metro, shop      wire.Wallet
	metroKey, shopKy *client.Client
}

func newScenarioEnv(t *testing.T) *scenarioEnv {
	t.Helper()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	must(t, err)
	e := &scenarioEnv{clock: tongbao.NewManualClock(time.Date(2026, 3, 10, 9, 0, 0, 0, shanghai))}
	e.env = newEnvClock(t, e.clock)
	e.a, e.adminA = e.operator("Operator A", 50_000*yuan, 1_000_000*yuan)
	e.b, e.adminB = e.operator("Operator B", 50_000*yuan, 1_000_000*yuan)
	e.holder, e.holderKey = e.wallet(e.adminA, e.a, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	_, err = e.adminA.TopUp(e.ctx, client.NewKey(), e.holder.ID, 5_000*yuan)
	must(t, err)
	e.other, e.otherKey = e.wallet(e.adminB, e.b, wire.OpenWallet{Category: 2, HolderName: "赵六", Phone: "13900000002"})
	merchant := func(name, mcc string) (wire.Wallet, *client.Client) {
		w, err := e.adminA.OpenWallet(e.ctx, client.NewKey(), e.a, wire.OpenWallet{Category: 2, HolderName: name, Merchant: true, MerchantCategory: mcc, Region: "310000"})
		must(t, err)
		k, err := e.adminA.CreateKey(e.ctx, wire.CreateKey{Role: wire.RoleMerchant, Wallet: &w.ID})
		must(t, err)
		return w, e.adminA.WithKey(k.Secret)
	}
	e.metro, e.metroKey = merchant("Shanghai Metro", "4111")
	e.shop, e.shopKy = merchant("Noodle Shop", "5812")
	return e
}

// balances reads the holder's, the merchants' and the sub-wallet's
// balances through operator A's admin.
func (e *scenarioEnv) balances(sub tongbao.ID) [4]tongbao.Amount {
	e.tb.Helper()
	return [4]tongbao.Amount{e.balance(e.adminA, e.holder.ID), e.balance(e.adminA, e.metro.ID), e.balance(e.adminA, e.shop.ID), e.balance(e.adminA, sub)}
}

func (e *scenarioEnv) unchanged(step string, sub tongbao.ID, before [4]tongbao.Amount) {
	e.tb.Helper()
	if got := e.balances(sub); got != before {
		e.tb.Fatalf("after %s: balances %v; want %v", step, got, before)
	}
	e.supplyOK(step)
}

// TestScenarioStory drives a transit sub-wallet over HTTP: the operator
// defines the template, the holder pushes and funds a sub-wallet, pays
// the metro and is refused at the shop and past the caps; the metro
// charges it (tap to pay) until the holder revokes; after the expiry the
// holder sweeps everything back.
func TestScenarioStory(t *testing.T) {
	e := newScenarioEnv(t)
	ctx := e.ctx
	expires := e.clock.Now().Add(30 * 24 * time.Hour).UTC()
	spec := wire.CreateScenarioTemplate{Name: "Shanghai Metro", BalanceMax: wire.Amount(500 * yuan), PaymentMax: wire.Amount(50 * yuan),
		DailyMax: wire.Amount(120 * yuan), Categories: []string{"4111"}, ExpiresAt: &expires}
	_, err := e.holderKey.CreateScenarioTemplate(ctx, client.NewKey(), e.a, spec)
	wantProblem(t, "a holder defining a template", err, "forbidden")
	_, err = e.adminB.CreateScenarioTemplate(ctx, client.NewKey(), e.a, spec)
	wantProblem(t, "operator B defining A's template", err, "forbidden")
	key := client.NewKey()
	tpl, err := e.adminA.CreateScenarioTemplate(ctx, key, e.a, spec)
	must(t, err)
	again, err := e.adminA.CreateScenarioTemplate(ctx, key, e.a, spec)
	must(t, err)
	if again.ID != tpl.ID || tpl.Operator != e.a || tpl.PaymentMax != wire.Amount(50*yuan) || tpl.ExpiresAt == nil || !tpl.ExpiresAt.Equal(expires) {
		t.Fatalf("template %+v, again %+v", tpl, again)
	}
	list, err := e.holderKey.ScenarioTemplates(ctx, e.a)
	must(t, err)
	if len(list.Items) != 1 || list.Items[0].ID != tpl.ID {
		t.Fatalf("templates the holder sees: %+v", list)
	}
	_, err = e.otherKey.ScenarioTemplates(ctx, e.a)
	wantProblem(t, "a holder at B listing A's templates", err, "forbidden")

	sub, err := e.holderKey.PushSubWallet(ctx, client.NewKey(), e.holder.ID, wire.PushSubWallet{Template: tpl.ID})
	must(t, err)
	if sub.Parent != e.holder.ID || sub.Template != tpl.ID || sub.Expired {
		t.Fatalf("sub-wallet %+v", sub)
	}
	_, err = e.otherKey.PushSubWallet(ctx, client.NewKey(), e.holder.ID, wire.PushSubWallet{Template: tpl.ID})
	wantProblem(t, "pushing from another's wallet", err, "forbidden")
	_, err = e.otherKey.PushSubWallet(ctx, client.NewKey(), e.other.ID, wire.PushSubWallet{Template: tpl.ID})
	wantProblem(t, "pushing to another operator's template", err, "sub-wallet-parent-invalid")

	fundKey := client.NewKey()
	r, err := e.holderKey.FundSubWallet(ctx, fundKey, sub.ID, 200*yuan)
	must(t, err)
	r2, err := e.holderKey.FundSubWallet(ctx, fundKey, sub.ID, 200*yuan)
	must(t, err)
	if r2 != r {
		t.Fatalf("funding again under its key: %+v; want %+v", r2, r)
	}
	if got := e.balances(sub.ID); got != [4]tongbao.Amount{4_800 * yuan, 0, 0, 200 * yuan} {
		t.Fatalf("after funding: %v", got)
	}
	e.supplyOK("funding")

	_, err = e.holderKey.PayFromSubWallet(ctx, client.NewKey(), sub.ID, e.metro.ID, 4*yuan)
	must(t, err)
	before := e.balances(sub.ID)
	_, err = e.holderKey.PayFromSubWallet(ctx, client.NewKey(), sub.ID, e.shop.ID, yuan)
	wantProblem(t, "paying the shop", err, "merchant-not-allowed")
	_, err = e.holderKey.PayFromSubWallet(ctx, client.NewKey(), sub.ID, e.metro.ID, 50*yuan+1)
	wantProblem(t, "past the per-payment cap", err, "single-payment-cap-exceeded")
	e.unchanged("refused payments", sub.ID, before)
	for _, a := range []tongbao.Amount{50 * yuan, 50 * yuan} {
		_, err = e.holderKey.PayFromSubWallet(ctx, client.NewKey(), sub.ID, e.metro.ID, a)
		must(t, err)
	}
	before = e.balances(sub.ID)
	_, err = e.holderKey.PayFromSubWallet(ctx, client.NewKey(), sub.ID, e.metro.ID, 17*yuan)
	wantProblem(t, "past the daily cap", err, "daily-cap-exceeded")
	_, err = e.otherKey.PayFromSubWallet(ctx, client.NewKey(), sub.ID, e.metro.ID, yuan)
	wantProblem(t, "another holder paying from the sub-wallet", err, "forbidden")
	// The generic payment path refuses the sub-wallet both ways.
	_, err = e.holderKey.Pay(ctx, client.NewKey(), wire.Pay{From: e.holder.ID, To: sub.ID.String(), Amount: wire.Amount(yuan)})
	wantProblem(t, "a generic payment into the sub-wallet", err, "sub-wallet-scenario-only")
	_, err = e.holderKey.Pay(ctx, client.NewKey(), wire.Pay{From: sub.ID, To: e.metro.ID.String(), Amount: wire.Amount(yuan)})
	wantProblem(t, "a generic payment from the sub-wallet", err, "forbidden")
	_, err = e.adminA.TopUp(ctx, client.NewKey(), sub.ID, yuan)
	wantProblem(t, "a bank top-up of the sub-wallet", err, "sub-wallet-scenario-only")
	_, err = e.holderKey.SweepSubWallet(ctx, client.NewKey(), sub.ID, yuan)
	wantProblem(t, "a sweep before the expiry", err, "sweep-not-allowed")
	e.unchanged("refusals", sub.ID, before)

	d, err := e.holderKey.SubWallet(ctx, sub.ID)
	must(t, err)
	if *d.Balance != wire.Amount(96*yuan) || *d.PaidToday != wire.Amount(104*yuan) {
		t.Fatalf("sub-wallet read back: %+v", d)
	}

	// Tap to pay, the next day.
	e.clock.Advance(24 * time.Hour)
	_, err = e.metroKey.ChargeSubWallet(ctx, client.NewKey(), sub.ID, 3*yuan)
	wantProblem(t, "a charge before any permission", err, "forbidden")
	_, err = e.holderKey.GrantCharge(ctx, sub.ID, e.shop.ID)
	wantProblem(t, "granting the shop", err, "merchant-not-allowed")
	g, err := e.holderKey.GrantCharge(ctx, sub.ID, e.metro.ID)
	must(t, err)
	if g.ChargeMerchant != e.metro.ID || g.ChargeGrantedAt == nil {
		t.Fatalf("granted: %+v", g)
	}
	chargeKey := client.NewKey()
	c1, err := e.metroKey.ChargeSubWallet(ctx, chargeKey, sub.ID, 3*yuan)
	must(t, err)
	c2, err := e.metroKey.ChargeSubWallet(ctx, chargeKey, sub.ID, 3*yuan)
	must(t, err)
	if c2.ID != c1.ID || c2.Timestamp != c1.Timestamp {
		t.Fatalf("the charge again under its key: %+v; want %+v", c2, c1)
	}
	_, err = e.metroKey.ChargeSubWallet(ctx, chargeKey, sub.ID, 4*yuan)
	wantProblem(t, "its key with another amount", err, "idempotency-key-conflict")
	before = e.balances(sub.ID)
	_, err = e.metroKey.ChargeSubWallet(ctx, client.NewKey(), sub.ID, 50*yuan+1)
	wantProblem(t, "a charge above the per-payment cap", err, "single-payment-cap-exceeded")
	_, err = e.shopKy.ChargeSubWallet(ctx, client.NewKey(), sub.ID, yuan)
	wantProblem(t, "the shop charging", err, "forbidden")
	e.unchanged("refused charges", sub.ID, before)
	rv, err := e.holderKey.RevokeCharge(ctx, sub.ID)
	must(t, err)
	if rv.ChargeRevokedAt == nil {
		t.Fatalf("revoked: %+v", rv)
	}
	_, err = e.metroKey.ChargeSubWallet(ctx, client.NewKey(), sub.ID, 3*yuan)
	wantProblem(t, "a charge after revocation", err, "charge-revoked")
	e.unchanged("a charge after revocation", sub.ID, before)
	st, err := e.metroKey.Statement(ctx, e.metro.ID, "")
	must(t, err)
	if len(st.Lines) != 1 || st.Lines[0].Kind != "sub_wallet_payment" || st.Closing != wire.Amount(107*yuan) {
		t.Fatalf("the metro's statement of the day: %+v", st)
	}
	ts, err := e.metroKey.Transfers(ctx, e.metro.ID, client.Page{})
	must(t, err)
	if len(ts.Items) != 4 || ts.Items[0].Kind != "sub_wallet_charge" || ts.Items[1].Kind != "sub_wallet_payment" {
		t.Fatalf("the metro's history: %+v", ts.Items)
	}

	// After the expiry: no payment, and the sweep of everything.
	e.clock.Set(expires)
	_, err = e.holderKey.PayFromSubWallet(ctx, client.NewKey(), sub.ID, e.metro.ID, yuan)
	wantProblem(t, "paying after the expiry", err, "sub-wallet-expired")
	_, err = e.holderKey.SweepSubWallet(ctx, client.NewKey(), sub.ID, 93*yuan)
	must(t, err)
	if got := e.balances(sub.ID); got != [4]tongbao.Amount{4_893 * yuan, 107 * yuan, 0, 0} {
		t.Fatalf("after the sweep: %v", got)
	}
	subs, err := e.adminA.SubWallets(ctx, e.holder.ID)
	must(t, err)
	if len(subs.Items) != 1 || !subs.Items[0].Expired {
		t.Fatalf("sub-wallets: %+v", subs)
	}
	e.supplyOK("the sweep after the expiry")
}

// TestScenarioBadInput sends malformed and refused scenario requests:
// each gets a problem type and changes nothing.
func TestScenarioBadInput(t *testing.T) {
	e := newScenarioEnv(t)
	ctx := e.ctx
	tpl, err := e.adminA.CreateScenarioTemplate(ctx, client.NewKey(), e.a, wire.CreateScenarioTemplate{Name: "Canteen", BalanceMax: wire.Amount(100 * yuan), PaymentMax: wire.Amount(30 * yuan), Withdrawable: true})
	must(t, err)
	sub, err := e.holderKey.PushSubWallet(ctx, client.NewKey(), e.holder.ID, wire.PushSubWallet{Template: tpl.ID})
	must(t, err)
	_, err = e.holderKey.FundSubWallet(ctx, client.NewKey(), sub.ID, 60*yuan)
	must(t, err)
	subPath := "/v1/sub-wallets/" + sub.ID.String()
	tplPath := "/v1/operators/" + e.a.String() + "/scenario-templates"
	tests := []struct {
		name, method, path string
		key                bool
		body               string
		who                *client.Client
		problem            string
	}{
		{"template without caps", "POST", tplPath, false, `{"name":"x"}`, e.adminA, "scenario-template-invalid"},
		{"template with a bad category", "POST", tplPath, false, `{"name":"x","balance_max":"1","payment_max":"1","merchant_categories":["41"]}`, e.adminA, "invalid-request"},
		{"template with an unknown field", "POST", tplPath, false, `{"name":"x","balance_max":"1","payment_max":"1","color":"red"}`, e.adminA, "malformed-json"},
		{"template with a float amount", "POST", tplPath, false, `{"name":"x","balance_max":1.5,"payment_max":"1"}`, e.adminA, "invalid-amount"},
		{"push to no template", "POST", "/v1/wallets/" + e.holder.ID.String() + "/sub-wallets", false, `{"template":"` + tongbao.NewID().String() + `"}`, e.holderKey, "scenario-template-not-found"},
		{"push with a malformed body", "POST", "/v1/wallets/" + e.holder.ID.String() + "/sub-wallets", false, `{"template":`, e.holderKey, "malformed-json"},
		{"fund without an Idempotency-Key", "POST", subPath + "/fund", false, `{"amount":"1.00"}`, e.holderKey, "idempotency-key-required"},
		{"fund a bad amount", "POST", subPath + "/fund", true, `{"amount":"abc"}`, e.holderKey, "invalid-amount"},
		{"fund a negative amount", "POST", subPath + "/fund", true, `{"amount":"-1.00"}`, e.holderKey, "invalid-amount"},
		{"fund in dollars", "POST", subPath + "/fund", true, `{"amount":"1.00","currency":"USD"}`, e.holderKey, "currency-mismatch"},
		{"fund past the balance cap", "POST", subPath + "/fund", true, `{"amount":"98.01"}`, e.holderKey, "balance-cap-exceeded"},
		{"fund no sub-wallet", "POST", "/v1/sub-wallets/" + e.holder.ID.String() + "/fund", true, `{"amount":"1.00"}`, e.holderKey, "sub-wallet-not-found"},
		{"pay a personal wallet", "POST", subPath + "/payments", true, `{"merchant":"` + e.holder.ID.String() + `","amount":"1.00"}`, e.holderKey, "not-a-merchant-wallet"},
		{"pay no wallet", "POST", subPath + "/payments", true, `{"merchant":"` + tongbao.NewID().String() + `","amount":"1.00"}`, e.holderKey, "wallet-not-found"},
		{"pay more than it holds", "POST", subPath + "/payments", true, `{"merchant":"` + e.shop.ID.String() + `","amount":"29.00"}`, e.holderKey, "insufficient-funds"},
		{"sweep more than it holds", "POST", subPath + "/sweep", true, `{"amount":"2.01"}`, e.holderKey, "insufficient-funds"},
		{"revoke no permission", "POST", subPath + "/charge-permission/revoke", false, ``, e.holderKey, "charge-not-permitted"},
		{"grant a bad merchant id", "POST", subPath + "/charge-permission", false, `{"merchant":"nope"}`, e.holderKey, "malformed-json"},
		{"read another's sub-wallet", "GET", subPath, false, ``, e.otherKey, "forbidden"},
		{"read as operator B", "GET", subPath, false, ``, e.adminB, "forbidden"},
	}
	// The template lists no merchant, so the shop may be paid: two
	// payments of 29.00 leave 2.00.
	for i := 0; i < 2; i++ {
		_, err := e.holderKey.PayFromSubWallet(ctx, client.NewKey(), sub.ID, e.shop.ID, 29*yuan)
		must(t, err)
	}
	before := e.balances(sub.ID)
	for _, tt := range tests {
		key := ""
		if tt.key {
			key = client.NewKey()
		}
		var in any
		if tt.method == "POST" {
			in = []byte(tt.body)
		}
		err := tt.who.Do(ctx, tt.method, tt.path, key, in, nil)
		wantProblem(t, tt.name, err, tt.problem)
	}
	e.unchanged("bad input", sub.ID, before)
	if got := e.balance(e.adminA, sub.ID); got != 2*yuan {
		t.Fatalf("sub-wallet holds %v; want 2.00", got)
	}
	// The withdrawable template lets the holder sweep before the expiry.
	r, err := e.holderKey.SweepSubWallet(ctx, client.NewKey(), sub.ID, 2*yuan)
	must(t, err)
	if r.Duplicate {
		t.Fatal("a first sweep reported as a duplicate")
	}
	e.supplyOK("the sweep")
}
