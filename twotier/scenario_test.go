package twotier_test

import (
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/twotier"
)

// scenarioLimits are the sub-wallets' caps in these tests: balance 500,
// 50 a payment, 120 a day.
var scenarioLimits = ledger.Limits{BalanceMax: 500 * yuan, DebitMax: 50 * yuan, DailyDebitMax: 120 * yuan}

func (e *env) merchantWallet(op tongbao.ID) twotier.Wallet {
	e.tb.Helper()
	w, err := e.svc.OpenWallet(e.ctx, twotier.WalletSpec{Operator: op, Category: twotier.Category2, HolderName: "地铁", Merchant: true, MerchantCategory: "4111", Region: "Shanghai"})
	must(e.tb, err)
	return w
}

func (e *env) subWallet(parent twotier.Wallet) twotier.Wallet {
	e.tb.Helper()
	w, err := e.svc.OpenScenarioWallet(e.ctx, twotier.ScenarioWalletSpec{ID: tongbao.NewID(), Parent: parent.ID, Limits: scenarioLimits})
	must(e.tb, err)
	return w
}

// TestScenarioWalletMoney follows a sub-wallet's money: funded from its
// parent, paying a merchant, swept back, counted in the supply all along;
// and every generic operation refuses it, changing nothing.
func TestScenarioWalletMoney(t *testing.T) {
	e := newEnv(t, time.Date(2026, 5, 1, 10, 0, 0, 0, shanghai))
	e.fund(1_000_000*yuan, 100_000*yuan)
	parent := e.wallet(e.a, twotier.Category2, "")
	e.topUp(parent, 2_000*yuan)
	shop := e.merchantWallet(e.a)
	other := e.merchantWallet(e.b)
	sub := e.subWallet(parent)
	if sub.Kind != twotier.WalletScenario || sub.Parent != parent.ID || sub.Operator != e.a {
		t.Fatalf("sub-wallet %+v; want a scenario wallet of %v at A", sub, parent.ID)
	}
	again, err := e.svc.OpenScenarioWallet(e.ctx, twotier.ScenarioWalletSpec{ID: sub.ID, Parent: parent.ID, Limits: scenarioLimits})
	must(t, err)
	if again.ID != sub.ID || again.Parent != parent.ID {
		t.Fatalf("opening again: got %+v", again)
	}
	changed := scenarioLimits
	changed.DailyDebitMax++
	_, err = e.svc.OpenScenarioWallet(e.ctx, twotier.ScenarioWalletSpec{ID: sub.ID, Parent: parent.ID, Limits: changed})
	wantCode(t, "opening again with other caps", err, tongbao.ECONFLICT, twotier.ErrWalletExists)
	e.restart() // the parent survives a restart (migration 0002)
	if w, err := e.svc.Wallet(e.ctx, sub.ID); err != nil || w.Parent != parent.ID || w.Kind != twotier.WalletScenario {
		t.Fatalf("stored sub-wallet %+v, %v", w, err)
	}

	fund := twotier.WalletOperation{ID: tongbao.NewID(), Wallet: sub.ID, Amount: 300 * yuan}
	_, err = e.svc.FundScenario(e.ctx, fund)
	must(t, err)
	r, err := e.svc.FundScenario(e.ctx, fund)
	must(t, err)
	if !r.Duplicate {
		t.Fatal("funding again with the same id: not a duplicate")
	}
	_, err = e.svc.FundScenario(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: sub.ID, Amount: 201 * yuan})
	wantCode(t, "funding past the balance cap", err, tongbao.EUNPROCESSABLE, ledger.ErrBalanceLimit)
	e.supplyOK("funding")

	before := e.snapshot(parent.ID, sub.ID, shop.ID, other.ID)
	for _, c := range []struct {
		what string
		err  error
		code string
	}{
		{"generic payment from a sub-wallet", func() error { _, err := e.pay(sub, shop, yuan); return err }(), tongbao.EUNPROCESSABLE},
		{"generic payment into a sub-wallet", func() error { _, err := e.pay(parent, sub, yuan); return err }(), tongbao.EUNPROCESSABLE},
		{"top-up of a sub-wallet", func() error {
			_, err := e.svc.TopUp(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: sub.ID, Amount: yuan})
			return err
		}(), tongbao.EUNPROCESSABLE},
		{"withdrawal from a sub-wallet", func() error {
			_, err := e.svc.Withdraw(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: sub.ID, Amount: yuan})
			return err
		}(), tongbao.EUNPROCESSABLE},
		{"upgrade of a sub-wallet", func() error { _, err := e.svc.Upgrade(e.ctx, sub.ID, twotier.Category1, &scenarioLimits); return err }(), tongbao.EUNPROCESSABLE},
		{"batch payment from a sub-wallet", func() error {
			out, err := e.svc.PayBatch(e.ctx, []twotier.Payment{{ID: tongbao.NewID(), From: sub.ID, To: shop.ID, Amount: yuan}})
			must(t, err)
			return out[0].Err
		}(), tongbao.EUNPROCESSABLE},
		{"batch payment into a sub-wallet", func() error {
			out, err := e.svc.PayBatch(e.ctx, []twotier.Payment{{ID: tongbao.NewID(), From: parent.ID, To: sub.ID, Amount: yuan}})
			must(t, err)
			return out[0].Err
		}(), tongbao.EUNPROCESSABLE},
		{"scenario payment to a personal wallet", func() error {
			_, err := e.svc.PayScenario(e.ctx, twotier.ScenarioPayment{ID: tongbao.NewID(), From: sub.ID, To: parent.ID, Amount: yuan})
			return err
		}(), tongbao.EINVALID},
		{"scenario payment past the single cap", func() error {
			_, err := e.svc.PayScenario(e.ctx, twotier.ScenarioPayment{ID: tongbao.NewID(), From: sub.ID, To: shop.ID, Amount: 51 * yuan})
			return err
		}(), tongbao.EUNPROCESSABLE},
		{"charge without a permission", func() error {
			_, err := e.svc.PayScenario(e.ctx, twotier.ScenarioPayment{ID: tongbao.NewID(), From: sub.ID, To: shop.ID, Amount: yuan, Charge: true})
			return err
		}(), tongbao.EUNPROCESSABLE},
		{"funding a personal wallet as a sub-wallet", func() error {
			_, err := e.svc.FundScenario(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: parent.ID, Amount: yuan})
			return err
		}(), tongbao.EINVALID},
		{"a sub-wallet of a merchant wallet", func() error {
			_, err := e.svc.OpenScenarioWallet(e.ctx, twotier.ScenarioWalletSpec{ID: tongbao.NewID(), Parent: shop.ID, Limits: scenarioLimits})
			return err
		}(), tongbao.EINVALID},
		{"a sub-wallet of a sub-wallet", func() error {
			_, err := e.svc.OpenScenarioWallet(e.ctx, twotier.ScenarioWalletSpec{ID: tongbao.NewID(), Parent: sub.ID, Limits: scenarioLimits})
			return err
		}(), tongbao.EINVALID},
	} {
		wantCode(t, c.what, c.err, c.code, nil)
	}
	after := e.snapshot(parent.ID, sub.ID, shop.ID, other.ID)
	for id, b := range before {
		if after[id] != b {
			t.Fatalf("a refusal moved %v from %v to %v", id, b, after[id])
		}
	}

	// Payments up to the daily cap, then refused; the sweep of the rest
	// uses none of the caps.
	for i := 0; i < 2; i++ {
		_, err := e.svc.PayScenario(e.ctx, twotier.ScenarioPayment{ID: tongbao.NewID(), From: sub.ID, To: shop.ID, Amount: 50 * yuan})
		must(t, err)
	}
	_, err = e.svc.PayScenario(e.ctx, twotier.ScenarioPayment{ID: tongbao.NewID(), From: sub.ID, To: shop.ID, Amount: 21 * yuan})
	wantCode(t, "scenario payment past the daily cap", err, tongbao.EUNPROCESSABLE, ledger.ErrDailyLimit)
	u, err := e.svc.ScenarioUsage(e.ctx, sub.ID)
	must(t, err)
	if u.PaidToday != 100*yuan || u.Limits != scenarioLimits {
		t.Fatalf("usage %+v; want 100 paid today under %+v", u, scenarioLimits)
	}
	_, err = e.svc.SweepScenario(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: sub.ID, Amount: 200 * yuan})
	must(t, err)
	if got := e.balance(sub.ID); got != 0 {
		t.Fatalf("sub-wallet holds %v after the sweep; want 0", got)
	}
	if got := e.balance(parent.ID); got != 1_900*yuan {
		t.Fatalf("parent holds %v; want 1900", got)
	}
	rep := e.supplyOK("payments and the sweep")
	for _, o := range rep.Operators {
		if o.Operator == e.a && o.Wallets != 2_000*yuan {
			t.Fatalf("operator A's wallets %v; want 2000", o.Wallets)
		}
	}

	// Cap schedules never touch a sub-wallet.
	caps := twotier.DefaultCaps()
	_, err = e.svc.SetCaps(e.ctx, e.a, e.clock.Now(), caps, "risk officer")
	must(t, err)
	_, err = e.svc.ApplyDueCaps(e.ctx)
	must(t, err)
	u, err = e.svc.ScenarioUsage(e.ctx, sub.ID)
	must(t, err)
	if u.Limits != scenarioLimits {
		t.Fatalf("after ApplyDueCaps the sub-wallet's caps are %+v; want %+v", u.Limits, scenarioLimits)
	}
}

// TestScenarioCharge grants a merchant the right to charge a sub-wallet,
// charges it within and past the permission's cap, and revokes it.
func TestScenarioCharge(t *testing.T) {
	e := newEnv(t, time.Date(2026, 5, 1, 10, 0, 0, 0, shanghai))
	e.fund(1_000_000*yuan, 100_000*yuan)
	parent := e.wallet(e.a, twotier.Category2, "")
	e.topUp(parent, 1_000*yuan)
	metro, bakery := e.merchantWallet(e.a), e.merchantWallet(e.a)
	sub := e.subWallet(parent)
	_, err := e.svc.FundScenario(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: sub.ID, Amount: 100 * yuan})
	must(t, err)
	must(t, e.svc.GrantCharge(e.ctx, sub.ID, metro.ID, 10*yuan))
	charge := func(to twotier.Wallet, amount tongbao.Amount) error {
		_, err := e.svc.PayScenario(e.ctx, twotier.ScenarioPayment{ID: tongbao.NewID(), From: sub.ID, To: to.ID, Amount: amount, Charge: true})
		return err
	}
	must(t, charge(metro, 10*yuan))
	wantCode(t, "charge past the permission's cap", charge(metro, 10*yuan+1), tongbao.EUNPROCESSABLE, ledger.ErrDebitLimit)
	wantCode(t, "charge by another merchant", charge(bakery, yuan), tongbao.EUNPROCESSABLE, twotier.ErrChargeNotGranted)
	must(t, e.svc.RevokeCharge(e.ctx, sub.ID, metro.ID))
	must(t, e.svc.RevokeCharge(e.ctx, sub.ID, metro.ID))
	wantCode(t, "charge after revocation", charge(metro, yuan), tongbao.EUNPROCESSABLE, twotier.ErrChargeRevoked)
	wantCode(t, "revoking what was never granted", e.svc.RevokeCharge(e.ctx, sub.ID, bakery.ID), tongbao.EUNPROCESSABLE, twotier.ErrChargeNotGranted)
	// The holder still pays the merchant itself.
	_, err = e.svc.PayScenario(e.ctx, twotier.ScenarioPayment{ID: tongbao.NewID(), From: sub.ID, To: metro.ID, Amount: yuan})
	must(t, err)
	// Granted again, it charges again.
	must(t, e.svc.GrantCharge(e.ctx, sub.ID, metro.ID, 5*yuan))
	must(t, charge(metro, 5*yuan))
	if got := e.balance(sub.ID); got != 84*yuan {
		t.Fatalf("sub-wallet holds %v; want 84", got)
	}
	e.supplyOK("charges")
}

// TestParentClosesAfterItsSubWallets checks that a wallet cannot be
// closed while a sub-wallet of it is open: the sub-wallet's money goes
// back only to its parent.
func TestParentClosesAfterItsSubWallets(t *testing.T) {
	e := newEnv(t, time.Date(2026, 5, 1, 10, 0, 0, 0, shanghai))
	e.fund(1_000_000*yuan, 100_000*yuan)
	parent := e.wallet(e.a, twotier.Category2, "")
	e.topUp(parent, 100*yuan)
	sub := e.subWallet(parent)
	_, err := e.svc.FundScenario(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: sub.ID, Amount: 40 * yuan})
	must(t, err)
	_, err = e.svc.Withdraw(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: parent.ID, Amount: 60 * yuan})
	must(t, err)
	_, err = e.svc.SetState(e.ctx, parent.ID, twotier.StateClosed, "moved abroad")
	wantCode(t, "closing a parent with an open sub-wallet", err, tongbao.ECONFLICT, twotier.ErrSubWalletsOpen)
	_, err = e.svc.SetState(e.ctx, sub.ID, twotier.StateClosed, "moved abroad")
	wantCode(t, "closing a sub-wallet that holds money", err, tongbao.ECONFLICT, ledger.ErrAccountNotEmpty)
	_, err = e.svc.SweepScenario(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: sub.ID, Amount: 40 * yuan})
	must(t, err)
	_, err = e.svc.SetState(e.ctx, sub.ID, twotier.StateClosed, "moved abroad")
	must(t, err)
	_, err = e.svc.Withdraw(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: parent.ID, Amount: 40 * yuan})
	must(t, err)
	_, err = e.svc.SetState(e.ctx, parent.ID, twotier.StateClosed, "moved abroad")
	must(t, err)
	e.supplyOK("closing")
}
