package contract_test

import (
	"errors"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/internal/domaintest"
	"github.com/tongbao/tongbao/twotier"
)

func TestInstalmentsRetryThenDefault(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.wallet(yuan("250.00")), e.wallet(0)
	c := e.deploy("instalments", map[string]any{"payer": payer.String(), "payee": payee.String(), "instalment": "100.00",
		"day": 15, "count": 3, "retries": 2, "retry_every": "24h"})
	e.acceptAll(c, "payer")
	// 15 March and 15 April pay; 15 May finds 50.00 and fails.
	e.Clock.Set(time.Date(2027, 3, 15, 9, 0, 0, 0, start.Location()))
	domaintest.Must(t, runDue(e))
	e.Clock.Set(time.Date(2027, 4, 15, 9, 0, 0, 0, start.Location()))
	domaintest.Must(t, runDue(e))
	if got := e.balances(payer, payee); got[0] != yuan("50.00") || got[1] != yuan("200.00") {
		t.Fatalf("after two instalments: %v", got)
	}
	e.Clock.Set(time.Date(2027, 5, 15, 9, 0, 0, 0, start.Location()))
	domaintest.Must(t, runDue(e))
	e.advance(24 * time.Hour) // retry 1 fails
	if got := e.contract(c.ID).Status; got != contract.StatusActive {
		t.Fatalf("status %s after one retry; want active", got)
	}
	e.advance(24 * time.Hour) // retry 2 fails: the failure path ends it
	got := e.contract(c.ID)
	if got.Status != contract.StatusCompleted || got.Runtime.State["defaulted"] != int64(3) {
		t.Fatalf("status %s, state %v; want completed with defaulted 3", got.Status, got.Runtime.State)
	}
	if b := e.balances(payer, payee); b[0] != yuan("50.00") || b[1] != yuan("200.00") {
		t.Fatalf("a failed instalment moved money: %v", b)
	}
	invs, err := e.svc.Invocations(e.Ctx, c.ID, 0, 100)
	domaintest.Must(t, err)
	failed := 0
	for _, inv := range invs {
		if inv.Outcome == contract.OutcomeFailed {
			failed++
		}
	}
	if failed != 3 {
		t.Fatalf("%d failed invocations; want 3 (the instalment and two retries)", failed)
	}
	e.SupplyOK(t, "defaulted")
}

func TestInstalmentRetrySucceedsWhenFunded(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.wallet(yuan("50.00")), e.wallet(0)
	c := e.deploy("instalments", map[string]any{"payer": payer.String(), "payee": payee.String(), "instalment": "100.00",
		"day": 15, "count": 1, "retries": 2, "retry_every": "24h"})
	e.acceptAll(c, "payer")
	e.Clock.Set(time.Date(2027, 3, 15, 9, 0, 0, 0, start.Location()))
	domaintest.Must(t, runDue(e))
	_, err := e.Payments.TopUp(e.Ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: payer, Amount: yuan("100.00")})
	domaintest.Must(t, err)
	e.advance(24 * time.Hour)
	if got := e.balances(payer, payee); got[0] != yuan("50.00") || got[1] != yuan("100.00") {
		t.Fatalf("after the retry: %v; want 50.00 and 100.00", got)
	}
	if got := e.contract(c.ID).Runtime.State["paid"]; got != int64(1) {
		t.Fatalf("paid %v; want 1", got)
	}
	e.advance(72 * time.Hour)
	if got := e.balance(payee); got != yuan("100.00") {
		t.Fatalf("paid twice: payee %s", got)
	}
}

func runDue(e *env) error {
	_, err := e.svc.RunDue(e.Ctx)
	return err
}

func TestPayableEarlyAtDiscountOrOnDueDate(t *testing.T) {
	e := newEnv(t)
	buyer, supplier := e.wallet(yuan("2000.00")), e.wallet(0)
	due := start.Add(30 * 24 * time.Hour).Format(time.RFC3339)
	c := e.deploy("payable", map[string]any{"buyer": buyer.String(), "supplier": supplier.String(), "invoice": "1000.00", "due": due, "discount_bps": 150})
	e.acceptAll(c, "buyer")
	// The buyer may not accept the supplier's discount for it.
	if _, err := e.svc.Request(e.Ctx, c.ID, "accept_discount", "buyer", tongbao.ID{}, "x", nil); !errors.Is(err, contract.ErrNotParty) {
		t.Fatalf("the buyer asking: %v; want ErrNotParty", err)
	}
	_, err := e.svc.Request(e.Ctx, c.ID, "accept_discount", "supplier", tongbao.ID{}, "d1", nil)
	domaintest.Must(t, err)
	if got := e.balance(supplier); got != yuan("985.00") {
		t.Fatalf("supplier %s; want 985.00 (1.5%% off)", got)
	}
	e.advance(31 * 24 * time.Hour)
	if got := e.balance(supplier); got != yuan("985.00") {
		t.Fatalf("paid again on the due date: %s", got)
	}

	// A second invoice, paid on its due date; the discount is refused after it.
	c2 := e.deploy("payable", map[string]any{"buyer": buyer.String(), "supplier": supplier.String(), "invoice": "500.00",
		"due": e.Clock.Now().Add(24 * time.Hour).Format(time.RFC3339), "reference": "inv-2"})
	e.acceptAll(c2, "buyer")
	e.advance(24 * time.Hour)
	if got := e.balance(supplier); got != yuan("1485.00") {
		t.Fatalf("supplier %s after the due date; want 1485.00", got)
	}
	if _, err := e.svc.Request(e.Ctx, c2.ID, "accept_discount", "supplier", tongbao.ID{}, "late", nil); !errors.Is(err, contract.ErrEnded) {
		t.Fatalf("discount after payment: %v; want ErrEnded", err)
	}
	e.SupplyOK(t, "payables")
}

func TestSplitConservesEveryFen(t *testing.T) {
	e := newEnv(t)
	payer := e.wallet(yuan("100.00"))
	merchant, platform, tax := e.merchant("5812", "310000"), e.wallet(0), e.wallet(0)
	c := e.deploy("split", map[string]any{"payer": payer.String(), "merchant": merchant.String(), "platform": platform.String(), "tax": tax.String(),
		"merchant_weight": 9000, "platform_weight": 333, "tax_weight": 667})
	if _, err := e.svc.Deposit(e.Ctx, c.ID, "payer", yuan("10.01"), "p0"); !errors.Is(err, contract.ErrNotActive) {
		t.Fatalf("deposit before consent: %v; want ErrNotActive", err)
	}
	e.acceptAll(c, "payer")
	inv, err := e.svc.Deposit(e.Ctx, c.ID, "payer", yuan("10.01"), "p1")
	domaintest.Must(t, err)
	got := e.balances(payer, merchant, platform, tax)
	if got[0] != yuan("89.99") || got[1]+got[2]+got[3] != yuan("10.01") {
		t.Fatalf("balances %v: the split lost or made money", got)
	}
	if got[2] != 33 || got[3] != 66 || got[1] != 902 {
		t.Fatalf("shares %v; want merchant 902 (with the remainder), platform 33, tax 66", got[1:])
	}
	if inv.Outcome != contract.OutcomeSucceeded || e.contract(c.ID).Runtime.Balance != 0 {
		t.Fatalf("the contract kept money: %+v", e.contract(c.ID).Runtime)
	}
	e.SupplyOK(t, "split")
}

func TestSubsidyPurposeAndExpirySweep(t *testing.T) {
	e := newEnv(t)
	funder := e.merchant("9399", "310000")
	_, err := e.Payments.TopUp(e.Ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: funder, Amount: yuan("1000.00")})
	domaintest.Must(t, err)
	alice, bob, eve := e.wallet(0), e.wallet(0), e.wallet(0)
	grocer, jeweller, farShop := e.merchant("5411", "310000"), e.merchant("5944", "310000"), e.merchant("5411", "110000")
	c := e.deploy("subsidy", map[string]any{"funder": funder.String(), "budget": "300.00", "per_holder": "100.00",
		"beneficiaries": []string{alice.String(), bob.String()}, "categories": []string{"5411"}, "regions": []string{"310000"},
		"expires": start.Add(7 * 24 * time.Hour).Format(time.RFC3339)})
	e.acceptAll(c, "funder")
	spend := func(who, at tongbao.ID, amount tongbao.Amount, key string) error {
		_, err := e.svc.Request(e.Ctx, c.ID, "spend", "", who, key, map[string]any{"merchant": at.String(), "amount": int64(amount)})
		return err
	}
	domaintest.Must(t, spend(alice, grocer, yuan("60.00"), "a1"))
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"at a jeweller", spend(alice, jeweller, yuan("10.00"), "a2")},
		{"in another region", spend(alice, farShop, yuan("10.00"), "a3")},
		{"past the ceiling", spend(alice, grocer, yuan("40.01"), "a4")},
		{"not a beneficiary", spend(eve, grocer, yuan("10.00"), "e1")},
	} {
		if !errors.Is(tc.err, contract.ErrPurpose) {
			t.Fatalf("%s: %v; want ErrPurpose", tc.name, tc.err)
		}
	}
	domaintest.Must(t, spend(bob, grocer, yuan("100.00"), "b1"))
	if got := e.balances(grocer, jeweller, farShop); got[0] != yuan("160.00") || got[1] != 0 || got[2] != 0 {
		t.Fatalf("merchants %v", got)
	}
	e.advance(7 * 24 * time.Hour)
	if got := e.balance(funder); got != yuan("840.00") {
		t.Fatalf("funder %s after the expiry; want 840.00 (140.00 unspent returned)", got)
	}
	if err := spend(alice, grocer, yuan("10.00"), "a5"); !errors.Is(err, contract.ErrEnded) {
		t.Fatalf("spend after the expiry: %v; want ErrEnded", err)
	}
	e.SupplyOK(t, "subsidy")
}

func TestCreditLine(t *testing.T) {
	e := newEnv(t)
	shop, lender, supplier := e.merchant("5411", "310000"), e.merchant("6012", "310000"), e.merchant("5045", "310000")
	for _, w := range []struct {
		id tongbao.ID
		a  tongbao.Amount
	}{{shop, yuan("30.00")}, {lender, yuan("5000.00")}} {
		_, err := e.Payments.TopUp(e.Ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.id, Amount: w.a})
		domaintest.Must(t, err)
	}
	c := e.deploy("credit", map[string]any{"merchant": shop.String(), "lender": lender.String(), "limit": "100.00", "repay_every": "1h"})
	e.acceptAll(c, "merchant", "lender")
	pay := func(amount tongbao.Amount, key string) error {
		_, err := e.svc.Request(e.Ctx, c.ID, "pay", "merchant", tongbao.ID{}, key, map[string]any{"to": supplier.String(), "amount": int64(amount)})
		return err
	}
	domaintest.Must(t, pay(yuan("100.00"), "p1")) // 30.00 own, 70.00 drawn
	if got := e.balances(shop, lender, supplier); got[0] != 0 || got[1] != yuan("4930.00") || got[2] != yuan("100.00") {
		t.Fatalf("after the first payment: %v", got)
	}
	before := e.balances(shop, lender, supplier)
	if err := pay(yuan("30.01"), "p2"); !errors.Is(err, contract.ErrCreditLimit) {
		t.Fatalf("past the limit: %v; want ErrCreditLimit", err)
	}
	if got := e.balances(shop, lender, supplier); got[0] != before[0] || got[1] != before[1] || got[2] != before[2] {
		t.Fatalf("a refused payment moved money: %v -> %v", before, got)
	}
	// Receipts: 50.00 comes in; the hourly sweep repays it.
	_, err := e.Payments.TopUp(e.Ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: shop, Amount: yuan("50.00")})
	domaintest.Must(t, err)
	e.advance(time.Hour)
	if got := e.contract(c.ID).Runtime.State["drawn"]; got != int64(2000) {
		t.Fatalf("drawn %v after the sweep; want 2000 fen", got)
	}
	if got := e.balances(shop, lender); got[0] != 0 || got[1] != yuan("4980.00") {
		t.Fatalf("after the sweep: %v", got)
	}
	e.SupplyOK(t, "credit")
}
