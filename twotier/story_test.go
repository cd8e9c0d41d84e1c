package twotier_test

import (
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/twotier"
)

// TestStory tells the whole two-tier story on one ledger and checks the
// supply after every step: reserves, issuance, wallets of every category,
// top-ups, payments within and across operators, a settlement window
// closed and settled, reconciliation, a withdrawal, a redemption, and a
// restart.
func TestStory(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, shanghai)
	e := newEnv(t, start)
	ctx := e.ctx
	e.supplyOK("creating the institutions")

	for _, op := range []tongbao.ID{e.a, e.b} {
		if _, err := e.svc.DepositReserves(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: op, Amount: 2_000_000 * yuan}); err != nil {
			t.Fatal(err)
		}
	}
	e.supplyOK("depositing reserves")
	for _, op := range []tongbao.ID{e.a, e.b} {
		if _, err := e.svc.Issue(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: op, Amount: 1_000_000 * yuan, Currency: tongbao.CNY}); err != nil {
			t.Fatal(err)
		}
	}
	r := e.supplyOK("issuance")
	if r.Issued != 2_000_000*yuan {
		t.Fatalf("issued %v; want 2000000.00", r.Issued)
	}

	// Wallets of every category at both operators, and merchants.
	w1 := e.wallet(e.a, twotier.Category1, "13800000001")
	w2 := e.wallet(e.a, twotier.Category2, "13800000002")
	w3 := e.wallet(e.a, twotier.Category3, "13800000003")
	w4 := e.wallet(e.a, twotier.Category4, "13800000004")
	v2 := e.wallet(e.b, twotier.Category2, "13900000002")
	v4 := e.wallet(e.b, twotier.Category4, "13900000004")
	shop, err := e.svc.OpenWallet(ctx, twotier.WalletSpec{Operator: e.b, Category: twotier.Category2, HolderName: "Noodle Shop", Merchant: true, MerchantCategory: "5812", Region: "310000"})
	if err != nil {
		t.Fatal(err)
	}
	if shop.Kind != twotier.WalletMerchant || shop.HolderMasked != "N**********" {
		t.Fatalf("merchant wallet %+v", shop)
	}
	if w1.HolderMasked != "张**" || w1.AliasMasked != "138****0001" {
		t.Fatalf("masked holder %q, alias %q", w1.HolderMasked, w1.AliasMasked)
	}
	e.supplyOK("opening wallets")

	for _, w := range []twotier.Wallet{w1, w2, w3, w4, v2, v4} {
		e.topUp(w, 8_000*yuan)
	}
	e.supplyOK("top-ups")

	// Within operator A, paying to a phone number alias.
	payee, err := e.svc.Resolve(ctx, "138 0000 0004")
	if err != nil || payee.ID != w4.ID {
		t.Fatalf("resolve phone: %v, %v", payee.ID, err)
	}
	byID, err := e.svc.Resolve(ctx, w3.ID.String())
	if err != nil || byID.ID != w3.ID {
		t.Fatalf("resolve id: %v, %v", byID.ID, err)
	}
	res, err := e.pay(w2, payee, 1_000*yuan)
	if err != nil || res.CrossOperator {
		t.Fatalf("pay within A: %+v, %v", res, err)
	}
	e.supplyOK("a payment within an operator")

	// Across operators: A's holders pay B's, B's pay A's.
	window := e.svc.CurrentWindow()
	for _, p := range []struct {
		from, to twotier.Wallet
		amount   tongbao.Amount
	}{{w2, v2, 3_000 * yuan}, {w3, shop, 250 * yuan}, {v4, w1, 1_200 * yuan}, {w1, v4, 100 * yuan}} {
		res, err := e.pay(p.from, p.to, p.amount)
		if err != nil || !res.CrossOperator || res.Window != window {
			t.Fatalf("pay across: %+v, %v", res, err)
		}
		e.supplyOK("a payment across operators")
	}
	// A owes 3000 + 250 + 100 - 1200 = 2150.
	if got := e.balance(twotier.ClearingAccount(e.a, window)); got != 2_150*yuan {
		t.Fatalf("A's position %v; want 2150.00", got)
	}
	as, _ := e.svc.AccountsOf(e.a)
	bs, _ := e.svc.AccountsOf(e.b)
	backingA, backingB := e.balance(as.Backing), e.balance(bs.Backing)

	// Settle the window.
	e.clock.Advance(time.Hour)
	st, err := e.svc.Settle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Window != window || st.Positions[e.a] != 2_150*yuan || st.Positions[e.b] != -2_150*yuan {
		t.Fatalf("settlement %+v", st)
	}
	if e.svc.CurrentWindow() != window+1 {
		t.Fatalf("current window %d; want %d", e.svc.CurrentWindow(), window+1)
	}
	if got := e.balance(as.Backing); got != backingA-2_150*yuan {
		t.Fatalf("A's backing %v; want %v", got, backingA-2_150*yuan)
	}
	if got := e.balance(bs.Backing); got != backingB+2_150*yuan {
		t.Fatalf("B's backing %v; want %v", got, backingB+2_150*yuan)
	}
	if got := e.balance(as.CentralClearing); got != 0 {
		t.Fatalf("central clearing %v; want 0", got)
	}
	e.supplyOK("settlement")

	// A payment in the new window.
	if res, err := e.pay(v2, w2, 500*yuan); err != nil || res.Window != window+1 {
		t.Fatalf("pay in the new window: %+v, %v", res, err)
	}
	e.supplyOK("a payment in the new window")

	// Reconciliation: no difference on either side.
	for _, op := range []tongbao.ID{e.a, e.b} {
		rec, err := e.svc.Reconcile(ctx, op, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Differences) != 0 || rec.Records != 5 || rec.Transfers != 5 || len(rec.Settled) != 1 {
			t.Fatalf("reconciliation of %v: %+v", op, rec)
		}
	}

	// A withdrawal to the bank and a redemption at the central bank.
	if _, err := e.svc.Withdraw(ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w3.ID, Amount: 1_000 * yuan}); err != nil {
		t.Fatal(err)
	}
	e.supplyOK("a withdrawal")
	if _, err := e.svc.Redeem(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: e.a, Amount: 500_000 * yuan}); err != nil {
		t.Fatal(err)
	}
	r = e.supplyOK("a redemption")
	if r.Issued != 1_500_000*yuan {
		t.Fatalf("issued %v; want 1500000.00", r.Issued)
	}

	// Everything survives a restart: wallets, the window, the supply.
	e.restart()
	if e.svc.CurrentWindow() != window+1 {
		t.Fatalf("after restart, window %d; want %d", e.svc.CurrentWindow(), window+1)
	}
	if got, err := e.svc.Wallet(ctx, w4.ID); err != nil || got.Category != twotier.Category4 || got.AliasMasked != w4.AliasMasked {
		t.Fatalf("after restart, wallet %+v, %v", got, err)
	}
	e.supplyOK("a restart")
	if _, err := e.svc.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	e.supplyOK("a second settlement")
}
