package main

import (
	"io"
	"log/slog"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// A retry after a restart, when the first answer is no longer in memory,
// still names the payment the first request made (same id, parties,
// amount, timestamp and window; only Duplicate says it is a retry), moves
// no money, and a changed body under the same key is refused.
func TestRetryAfterRestartNamesTheSamePayment(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	serve := func() (*node, func(), string) {
		n, err := openNode(ctx, dir, log, false)
		if err != nil {
			t.Fatal(err)
		}
		addr, stop, err := n.listen("127.0.0.1:0", log)
		if err != nil {
			n.close()
			t.Fatal(err)
		}
		return n, func() { stop(); n.close() }, "http://" + addr
	}
	n, stop, base := serve()
	cbKey := n.cbKey // made on the first start only
	cb := client.New(base, cbKey, nil)
	var ops [2]tongbao.ID
	var admins [2]*client.Client
	var adminSecret string
	for i, name := range []string{"Bank A", "Bank B"} {
		op, err := cb.CreateOperator(ctx, client.NewKey(), wire.CreateOperator{Name: name, NetDebitCap: wire.Amount(1_000_000_00)})
		must(t, err)
		_, err = cb.DepositReserves(ctx, client.NewKey(), op.ID, 10_000_00)
		must(t, err)
		_, err = cb.Issue(ctx, client.NewKey(), op.ID, 10_000_00)
		must(t, err)
		k, err := cb.CreateKey(ctx, wire.CreateKey{Role: wire.RoleOperatorAdmin, Operator: &op.ID})
		must(t, err)
		ops[i], admins[i] = op.ID, cb.WithKey(k.Secret)
		if i == 0 {
			adminSecret = k.Secret
		}
	}
	open := func(i int) wire.Wallet {
		w, err := admins[i].OpenWallet(ctx, client.NewKey(), ops[i], wire.OpenWallet{Category: 2, HolderName: "Holder"})
		must(t, err)
		return w
	}
	payer, sameOp, otherOp := open(0), open(0), open(1)
	topUpKey := client.NewKey()
	topUp, err := admins[0].TopUp(ctx, topUpKey, payer.ID, 1_000_00)
	must(t, err)
	hk, err := admins[0].CreateKey(ctx, wire.CreateKey{Role: wire.RoleHolder, Wallet: &payer.ID})
	must(t, err)
	holderSecret := hk.Secret
	holder := cb.WithKey(holderSecret)
	type sent struct {
		key    string
		pay    wire.Pay
		answer wire.Payment
	}
	var payments []sent
	for _, to := range []tongbao.ID{sameOp.ID, otherOp.ID} {
		s := sent{key: client.NewKey(), pay: wire.Pay{From: payer.ID, To: to.String(), Amount: 12_34}}
		s.answer, err = holder.Pay(ctx, s.key, s.pay)
		must(t, err)
		payments = append(payments, s)
	}
	if !payments[1].answer.CrossOperator || payments[1].answer.Window == 0 {
		t.Fatalf("cross-operator payment answered %+v", payments[1].answer)
	}
	balances := func(admin *client.Client, ids ...tongbao.ID) []wire.Amount {
		var out []wire.Amount
		for _, id := range ids {
			w, err := admin.Wallet(ctx, id)
			must(t, err)
			if w.Balance == nil {
				t.Fatalf("wallet %v read without its balance", id)
			}
			out = append(out, *w.Balance)
		}
		return out
	}
	before := balances(admins[0], payer.ID, sameOp.ID)
	stop()

	_, stop, base = serve()
	defer stop()
	cb = client.New(base, cbKey, nil)
	holder = client.New(base, holderSecret, nil)
	admin := client.New(base, adminSecret, nil)
	for _, s := range payments {
		again, err := holder.Pay(ctx, s.key, s.pay)
		must(t, err)
		want := s.answer
		want.Duplicate = true
		if again != want {
			t.Errorf("retry after a restart answered %+v; want %+v", again, want)
		}
		changed := s.pay
		changed.Amount++
		if _, err := holder.Pay(ctx, s.key, changed); err == nil {
			t.Errorf("a retry with another amount under key %s was taken", s.key)
		}
	}
	again, err := admin.TopUp(ctx, topUpKey, payer.ID, 1_000_00)
	must(t, err)
	if again.ID != topUp.ID || again.Timestamp != topUp.Timestamp || !again.Duplicate {
		t.Errorf("top-up retried after a restart answered %+v; first %+v", again, topUp)
	}
	if after := balances(admin, payer.ID, sameOp.ID); after[0] != before[0] || after[1] != before[1] {
		t.Errorf("retries after a restart moved money: balances %v, then %v", before, after)
	}
	s, err := cb.Supply(ctx)
	must(t, err)
	if !s.OK {
		t.Errorf("supply check after the retries: %+v", s)
	}
}
