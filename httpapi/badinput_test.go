package httpapi_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// TestBadInputChangesNothing sends every kind of bad request and checks
// that each gets the right problem type and that no balance moved.
func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	a, adminA := e.operator("Operator A", 50_000*yuan, 1_000_000*yuan)
	b, adminB := e.operator("Operator B", 50_000*yuan, 1_000_000*yuan)
	c, adminC := e.operator("Operator C", 100*yuan, 1_000_000*yuan)
	w2, h2 := e.wallet(adminA, a, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	w3, h3 := e.wallet(adminA, a, wire.OpenWallet{Category: 3, HolderName: "王五", Phone: "13800000003"})
	w4, h4 := e.wallet(adminA, a, wire.OpenWallet{Category: 4, Phone: "13800000004"})
	v2, _ := e.wallet(adminB, b, wire.OpenWallet{Category: 2, HolderName: "赵六", Phone: "13900000002"})
	x2, hx := e.wallet(adminC, c, wire.OpenWallet{Category: 2, HolderName: "钱七", Phone: "13700000002"})
	closed, _ := e.wallet(adminA, a, wire.OpenWallet{Category: 3, HolderName: "孙八"})
	for _, w := range []struct {
		admin *client.Client
		id    tongbao.ID
	}{{adminA, w2.ID}, {adminA, w3.ID}, {adminA, w4.ID}, {adminB, v2.ID}, {adminC, x2.ID}} {
		if _, err := w.admin.TopUp(ctx, client.NewKey(), w.id, 5_000*yuan); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := adminA.SetState(ctx, closed.ID, "closed", "holder left"); err != nil {
		t.Fatal(err)
	}
	if _, err := adminA.Freeze(ctx, w4.ID, time.Now().Add(time.Hour), "fraud check"); err != nil {
		t.Fatal(err)
	}
	wallets := map[tongbao.ID]*client.Client{w2.ID: adminA, w3.ID: adminA, w4.ID: adminA, closed.ID: adminA, v2.ID: adminB, x2.ID: adminC}
	snapshot := func() map[tongbao.ID]tongbao.Amount {
		m := map[tongbao.ID]tongbao.Amount{}
		for id, admin := range wallets {
			m[id] = e.balance(admin, id)
		}
		s := e.supplyOK("snapshot")
		m[tongbao.ID{}] = tongbao.Amount(s.Issued)
		for _, o := range s.Operators {
			m[o.Operator] = tongbao.Amount(o.Vault)
		}
		return m
	}
	raw := func(cl *client.Client, method, path, key string, body string) error {
		return cl.Do(ctx, method, path, key, []byte(body), nil)
	}
	pay := func(h *client.Client, from tongbao.ID, to string, amount string, currency string) error {
		body := fmt.Sprintf(`{"from":%q,"to":%q,"amount":%s`, from, to, amount)
		if currency != "" {
			body += fmt.Sprintf(`,"currency":%q`, currency)
		}
		return raw(h, http.MethodPost, "/v1/payments", client.NewKey(), body+"}")
	}
	usedKey := client.NewKey()
	if _, err := h2.Pay(ctx, usedKey, wire.Pay{From: w2.ID, To: w3.ID.String(), Amount: wire.Amount(1 * yuan)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		do   func() error
		want string
	}{
		{"malformed JSON", func() error { return raw(h2, "POST", "/v1/payments", client.NewKey(), `{"from":`) }, "malformed-json"},
		{"unknown field", func() error { return pay(h2, w2.ID, w3.ID.String(), `"1.00","colour":"red"`, "") }, "malformed-json"},
		{"trailing data", func() error {
			return raw(h2, "POST", "/v1/payments", client.NewKey(), fmt.Sprintf(`{"from":%q,"to":%q,"amount":"1.00"}{}`, w2.ID, w3.ID))
		}, "malformed-json"},
		{"zero amount", func() error { return pay(h2, w2.ID, w3.ID.String(), `"0"`, "") }, "invalid-amount"},
		{"negative amount", func() error { return pay(h2, w2.ID, w3.ID.String(), `"-10.00"`, "") }, "invalid-amount"},
		{"overflowing amount", func() error { return pay(h2, w2.ID, w3.ID.String(), `"92233720368547758.08"`, "") }, "invalid-amount"},
		{"three decimals", func() error { return pay(h2, w2.ID, w3.ID.String(), `"1.005"`, "") }, "invalid-amount"},
		{"amount as a number", func() error { return pay(h2, w2.ID, w3.ID.String(), `100`, "") }, "invalid-amount"},
		{"overflowing top-up", func() error {
			return raw(adminA, "POST", "/v1/wallets/"+w2.ID.String()+"/top-up", client.NewKey(), `{"amount":"99999999999999999999"}`)
		}, "invalid-amount"},
		{"unknown payee", func() error { return pay(h2, w2.ID, tongbao.NewID().String(), `"1.00"`, "") }, "wallet-not-found"},
		{"unknown phone", func() error { return pay(h2, w2.ID, "13111111111", `"1.00"`, "") }, "wallet-not-found"},
		{"unknown wallet top-up", func() error { _, err := adminA.TopUp(ctx, client.NewKey(), tongbao.NewID(), yuan); return err }, "wallet-not-found"},
		{"closed payee", func() error { return pay(h2, w2.ID, closed.ID.String(), `"1.00"`, "") }, "wallet-closed"},
		{"closed wallet top-up", func() error { _, err := adminA.TopUp(ctx, client.NewKey(), closed.ID, yuan); return err }, "wallet-closed"},
		{"wrong currency", func() error { return pay(h2, w2.ID, w3.ID.String(), `"1.00"`, "USD") }, "currency-mismatch"},
		{"frozen payer", func() error { return pay(h4, w4.ID, w3.ID.String(), `"1.00"`, "") }, "wallet-frozen"},
		{"frozen payee", func() error { return pay(h2, w2.ID, w4.ID.String(), `"1.00"`, "") }, "wallet-frozen"},
		{"net debit cap", func() error { return pay(hx, x2.ID, v2.ID.String(), `"200.00"`, "") }, "net-debit-cap-exceeded"},
		{"single-payment cap", func() error { return pay(h3, w3.ID, w2.ID.String(), `"5000.01"`, "") }, "single-payment-cap-exceeded"},
		{"insufficient funds within caps", func() error { return pay(h2, w2.ID, w3.ID.String(), `"9000.00"`, "") }, "insufficient-funds"},
		{"holder pays from another's wallet", func() error { return pay(h2, w3.ID, w2.ID.String(), `"1.00"`, "") }, "forbidden"},
		{"holder tops up another's wallet", func() error { _, err := h2.TopUp(ctx, client.NewKey(), w3.ID, yuan); return err }, "forbidden"},
		{"operator tops up another operator's wallet", func() error { _, err := adminB.TopUp(ctx, client.NewKey(), w2.ID, yuan); return err }, "forbidden"},
		{"operator issues to itself", func() error { _, err := adminA.Issue(ctx, client.NewKey(), a, yuan); return err }, "forbidden"},
		{"holder reads the supply", func() error { _, err := h2.Supply(ctx); return err }, "forbidden"},
		{"no key", func() error { _, err := h2.WithKey("").Wallet(ctx, w2.ID); return err }, "unauthorized"},
		{"unknown key", func() error { _, err := h2.WithKey("tb_holder_nonsense").Wallet(ctx, w2.ID); return err }, "unauthorized"},
		{"no Idempotency-Key on a payment", func() error {
			return raw(h2, "POST", "/v1/payments", "", fmt.Sprintf(`{"from":%q,"to":%q,"amount":"1.00"}`, w2.ID, w3.ID))
		}, "idempotency-key-required"},
		{"no Idempotency-Key on a top-up", func() error { _, err := adminA.TopUp(ctx, "", w2.ID, yuan); return err }, "idempotency-key-required"},
		{"no Idempotency-Key on issuance", func() error { _, err := e.cb.Issue(ctx, "", a, yuan); return err }, "idempotency-key-required"},
		{"same key, other body", func() error {
			_, err := h2.Pay(ctx, usedKey, wire.Pay{From: w2.ID, To: w3.ID.String(), Amount: wire.Amount(2 * yuan)})
			return err
		}, "idempotency-key-conflict"},
		{"issuance beyond reserves", func() error { _, err := e.cb.Issue(ctx, client.NewKey(), a, 1*yuan); return err }, "insufficient-funds"},
		{"redeem more than the vault", func() error { _, err := e.cb.Redeem(ctx, client.NewKey(), b, 2_000_000*yuan); return err }, "insufficient-funds"},
		{"bad wallet id in path", func() error { return raw(adminA, "GET", "/v1/wallets/nonsense", "", "") }, "invalid-request"},
		{"unknown route", func() error { return raw(adminA, "GET", "/v1/nothing", "", "") }, "not-found"},
		{"wrong method", func() error { return raw(adminA, "DELETE", "/v1/supply", "", "") }, "method-not-allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot()
			wantProblem(t, tc.name, tc.do(), tc.want)
			if after := snapshot(); !maps.Equal(before, after) {
				t.Fatalf("balances changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
	_ = context.Background
}
