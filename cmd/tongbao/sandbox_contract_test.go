package main

import (
	"testing"
	"time"

	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// TestSandboxClockFiresContractTimers moves a sandbox node's clock past
// an escrow's deadline: its timer has fired, and the held money is back
// with the buyer, when the advance answers.
func TestSandboxClockFiresContractTimers(t *testing.T) {
	ctx := t.Context()
	_, cb, _ := sandboxNode(t, t.TempDir(), true, "")
	op, admin := fundedOperator(t, cb, "Operator A", 1_000_000*yuan, 1_000_000*yuan)
	buyer, err := admin.OpenWallet(ctx, client.NewKey(), op.ID, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	must(t, err)
	_, err = admin.TopUp(ctx, client.NewKey(), buyer.ID, 500*yuan)
	must(t, err)
	shop, err := admin.OpenWallet(ctx, client.NewKey(), op.ID, wire.OpenWallet{Category: 2, HolderName: "Shop", Merchant: true, MerchantCategory: "5812", Region: "310000"})
	must(t, err)
	hk, err := admin.CreateKey(ctx, wire.CreateKey{Role: wire.RoleHolder, Wallet: &buyer.ID})
	must(t, err)
	holder := admin.WithKey(hk.Secret)
	carrier, err := admin.RegisterContractParty(ctx, client.NewKey(), wire.RegisterContractParty{Name: "Carrier", PublicKey: "0000000000000000000000000000000000000000000000000000000000000001"})
	must(t, err)
	clock, err := cb.SandboxClock(ctx)
	must(t, err)
	k, err := holder.DeployContract(ctx, "", wire.DeployContract{Template: "escrow", Reference: "sandbox-1",
		Parties: map[string]string{"buyer": buyer.ID.String(), "seller": shop.ID.String(), "carrier": carrier.ID.String()},
		Params:  map[string]any{"price": "120.00", "deadline": clock.Now.Add(24 * time.Hour).UTC().Format(time.RFC3339)}})
	must(t, err)
	_, err = holder.AcceptContract(ctx, k.ID, "buyer", k.Hash)
	must(t, err)
	if w, err := admin.Wallet(ctx, buyer.ID); err != nil || *w.Available != wire.Amount(380*yuan) {
		t.Fatalf("buyer after accepting: %+v, %v; want 380.00 available", w, err)
	}
	_, err = cb.AdvanceSandboxClock(ctx, 25*time.Hour)
	must(t, err)
	k, err = holder.Contract(ctx, k.ID)
	must(t, err)
	if k.Status != "completed" || k.Runtime.Refunded != wire.Amount(120*yuan) {
		t.Fatalf("after the deadline: %s, refunded %v; want completed, 120.00", k.Status, k.Runtime.Refunded)
	}
	if w, err := admin.Wallet(ctx, buyer.ID); err != nil || *w.Available != wire.Amount(500*yuan) || *w.Balance != wire.Amount(500*yuan) {
		t.Fatalf("buyer after the deadline: %+v, %v; want 500.00 back", w, err)
	}
}
