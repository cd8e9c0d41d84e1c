package httpapi_test

import (
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// TestStory tells the whole two-tier story over HTTP through the client,
// checking the supply after every step: issuance, wallets of each
// category, top-ups, payments within and across operators, a settlement
// window closed, reconciliation with no difference, a withdrawal and a
// redemption.
func TestStory(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	e.supplyOK("bootstrap")
	a, adminA := e.operator("Operator A", 50_000*yuan, 0)
	b, adminB := e.operator("Operator B", 50_000*yuan, 0)
	e.supplyOK("authorising operators")
	for _, op := range []tongbao.ID{a, b} {
		if _, err := e.cb.DepositReserves(ctx, client.NewKey(), op, 2_000_000*yuan); err != nil {
			t.Fatal(err)
		}
		e.supplyOK("depositing reserves")
		if _, err := e.cb.Issue(ctx, client.NewKey(), op, 1_000_000*yuan); err != nil {
			t.Fatal(err)
		}
		e.supplyOK("issuance")
	}
	if s := e.supplyOK("issuance"); s.Issued != wire.Amount(2_000_000*yuan) {
		t.Fatalf("issued %v; want 2000000.00", tongbao.Amount(s.Issued))
	}

	holderCaps := &wire.Limits{BalanceMax: wire.Amount(1_000_000 * yuan), DebitMax: wire.Amount(100_000 * yuan)}
	w1, h1 := e.wallet(adminA, a, wire.OpenWallet{Category: 1, HolderName: "张三丰", Phone: "13800000001", HolderLimits: holderCaps})
	w2, h2 := e.wallet(adminA, a, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	w3, h3 := e.wallet(adminA, a, wire.OpenWallet{Category: 3, HolderName: "王五", Phone: "13800000003"})
	w4, _ := e.wallet(adminA, a, wire.OpenWallet{Category: 4, Phone: "13800000004"})
	v2, h5 := e.wallet(adminB, b, wire.OpenWallet{Category: 2, HolderName: "赵六", Phone: "13900000002"})
	shop, err := adminB.OpenWallet(ctx, client.NewKey(), b, wire.OpenWallet{Category: 2, HolderName: "Noodle Shop", Merchant: true, MerchantCategory: "5812", Region: "310000"})
	if err != nil {
		t.Fatal(err)
	}
	if w1.HolderMasked != "张**" || w1.AliasMasked != "138****0001" || shop.Kind != "merchant" {
		t.Fatalf("wallets %+v %+v", w1, shop)
	}
	e.supplyOK("opening wallets")

	for _, w := range []struct {
		admin *clientT
		id    tongbao.ID
	}{{adminA, w1.ID}, {adminA, w2.ID}, {adminA, w3.ID}, {adminA, w4.ID}, {adminB, v2.ID}} {
		if _, err := w.admin.TopUp(ctx, client.NewKey(), w.id, 8_000*yuan); err != nil {
			t.Fatal(err)
		}
		e.supplyOK("a top-up")
	}
	// A holder tops its own wallet up too.
	if _, err := h3.TopUp(ctx, client.NewKey(), w3.ID, 100*yuan); err != nil {
		t.Fatal(err)
	}
	e.supplyOK("a holder's top-up")

	// Within operator A, to a phone number; a retry with the same key is
	// answered with the first answer and moves nothing.
	key := client.NewKey()
	p, err := h2.Pay(ctx, key, wire.Pay{From: w2.ID, To: "138 0000 0004", Amount: wire.Amount(1_000 * yuan)})
	if err != nil || p.CrossOperator || p.To != w4.ID {
		t.Fatalf("pay within A: %+v, %v", p, err)
	}
	again, err := h2.Pay(ctx, key, wire.Pay{From: w2.ID, To: "138 0000 0004", Amount: wire.Amount(1_000 * yuan)})
	if err != nil || again != p {
		t.Fatalf("retry: %+v, %v; want %+v", again, err, p)
	}
	if got := e.balance(adminA, w2.ID); got != 7_000*yuan {
		t.Fatalf("w2 balance %v; want 7000.00 (paid once)", got)
	}
	e.supplyOK("a payment within an operator")

	// Across operators, both ways, and to a merchant.
	windows, err := e.cb.Windows(ctx, client.Page{})
	if err != nil {
		t.Fatal(err)
	}
	window := windows.Items[len(windows.Items)-1].Number
	for _, x := range []struct {
		h      *clientT
		from   tongbao.ID
		to     string
		amount tongbao.Amount
	}{{h2, w2.ID, v2.ID.String(), 3_000 * yuan}, {h3, w3.ID, shop.ID.String(), 250 * yuan}, {h5, v2.ID, "13800000001", 1_200 * yuan}, {h1, w1.ID, v2.ID.String(), 100 * yuan}} {
		p, err := x.h.Pay(ctx, client.NewKey(), wire.Pay{From: x.from, To: x.to, Amount: wire.Amount(x.amount), Currency: "CNY"})
		if err != nil || !p.CrossOperator || p.Window != window {
			t.Fatalf("pay across: %+v, %v", p, err)
		}
		e.supplyOK("a payment across operators")
	}
	// The merchant sees the incoming payment.
	mk, err := adminB.CreateKey(ctx, wire.CreateKey{Role: wire.RoleMerchant, Wallet: &shop.ID})
	if err != nil {
		t.Fatal(err)
	}
	in, err := adminB.WithKey(mk.Secret).Transfers(ctx, shop.ID, client.Page{})
	if err != nil || len(in.Items) != 1 || in.Items[0].Direction != "in" || in.Items[0].Amount != wire.Amount(250*yuan) {
		t.Fatalf("merchant's incoming payments: %+v, %v", in, err)
	}

	st, err := e.cb.CloseWindow(ctx, client.NewKey(), window)
	if err != nil {
		t.Fatal(err)
	}
	// A owes 3000 + 250 + 100 - 1200 = 2150.
	if st.Window != window || st.Positions[a.String()] != wire.Amount(2_150*yuan) || st.Positions[b.String()] != wire.Amount(-2_150*yuan) {
		t.Fatalf("settlement %+v", st)
	}
	e.supplyOK("settlement")

	if _, err := h5.Pay(ctx, client.NewKey(), wire.Pay{From: v2.ID, To: w2.ID.String(), Amount: wire.Amount(500 * yuan)}); err != nil {
		t.Fatal(err)
	}
	e.supplyOK("a payment in the new window")

	today := time.Now().In(shanghaiTZ(t)).Format(time.DateOnly)
	for _, x := range []struct {
		admin *clientT
		op    tongbao.ID
	}{{adminA, a}, {adminB, b}, {e.cb, a}} {
		r, err := x.admin.Reconcile(ctx, x.op, today)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Differences) != 0 || r.Records != 5 || r.Transfers != 5 || len(r.Settled) != 1 {
			t.Fatalf("reconciliation of %v: %+v", x.op, r)
		}
	}

	if _, err := h3.Withdraw(ctx, client.NewKey(), w3.ID, 1_000*yuan); err != nil {
		t.Fatal(err)
	}
	e.supplyOK("a withdrawal")
	if _, err := e.cb.Redeem(ctx, client.NewKey(), a, 500_000*yuan); err != nil {
		t.Fatal(err)
	}
	if s := e.supplyOK("a redemption"); s.Issued != wire.Amount(1_500_000*yuan) {
		t.Fatalf("issued %v; want 1500000.00", tongbao.Amount(s.Issued))
	}

	// History pages with a cursor.
	seen := 0
	for page := (client.Page{Limit: 2}); ; {
		tp, err := adminA.Transfers(ctx, w2.ID, page)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(tp.Items)
		if tp.NextCursor == "" {
			break
		}
		page.Cursor = tp.NextCursor
	}
	if seen != 4 { // top-up, two payments out, one in
		t.Fatalf("w2 history has %d transfers; want 4", seen)
	}
	// Wallet lists page with a cursor too.
	ids := map[tongbao.ID]bool{}
	for page := (client.Page{Limit: 2}); ; {
		wp, err := adminA.Wallets(ctx, a, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wp.Items {
			ids[w.ID] = true
		}
		if wp.NextCursor == "" {
			break
		}
		page.Cursor = wp.NextCursor
	}
	if len(ids) != 4 {
		t.Fatalf("operator A lists %d wallets; want 4", len(ids))
	}
}
