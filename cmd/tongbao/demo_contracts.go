package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// demoCarrierFile holds the demo carrier's key pair, which signs the
// delivery event the demo prints.
const demoCarrierFile = "carrier.key"

// demoContracts are the contracts of the demo (first operator only):
// an escrow between the demo holder and the demo shop, released by the
// carrier's signed delivery, and a subsidy programme the holder can spend
// at the shop's merchant category.
type demoContracts struct {
	Escrow  tongbao.ID `json:"escrow,omitzero"`
	Subsidy tongbao.ID `json:"subsidy,omitzero"`
	Carrier tongbao.ID `json:"carrier,omitzero"`
	Funder  tongbao.ID `json:"funder,omitzero"`
}

// contracts deploys the demo's contracts on the first start (or the
// first since contracts came) and shows them on every start.
func (d *demo) contracts(data, keysPath string) error {
	ctx := d.ctx
	a := &d.keys.Operators[0]
	admin := d.cb.WithKey(a.Admin)
	holder := d.cb.WithKey(a.Holder)
	dc := &d.keys.Contracts
	if dc.Escrow.IsZero() {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			return err
		}
		party, err := admin.RegisterContractParty(ctx, client.NewKey(), wire.RegisterContractParty{Name: "Demo Express (a carrier)", PublicKey: base64.RawURLEncoding.EncodeToString(pub)})
		if err != nil {
			return fmt.Errorf("register the carrier: %w", err)
		}
		if err := writePartyKey(filepath.Join(data, demoCarrierFile), partyKeyFile{ID: &party.ID, PublicKey: party.PublicKey,
			PrivateKey: base64.RawURLEncoding.EncodeToString(priv.Seed())}, false); err != nil {
			return err
		}
		deadline := d.now().Add(7 * 24 * time.Hour).Format(time.RFC3339)
		escrow, err := holder.DeployContract(ctx, client.NewKey(), wire.DeployContract{Template: "escrow", Reference: "demo-order-1",
			Parties: map[string]string{"buyer": a.Wallet.String(), "seller": a.Shop.String(), "carrier": party.ID.String()},
			Params:  map[string]any{"price": "88.00", "deadline": deadline}})
		if err != nil {
			return fmt.Errorf("deploy the escrow: %w", err)
		}
		if _, err := holder.AcceptContract(ctx, escrow.ID, "buyer", escrow.Hash); err != nil {
			return fmt.Errorf("accept the escrow: %w", err)
		}
		// The subsidy's funder is an institution's wallet: the operator
		// admin accepts for it.
		funder, err := admin.OpenWallet(ctx, client.NewKey(), a.ID, wire.OpenWallet{Category: 1, HolderName: "Civic consumption subsidy", Merchant: true,
			MerchantCategory: "9399", Region: "310000", HolderLimits: &wire.Limits{}})
		if err != nil {
			return fmt.Errorf("open the subsidy's wallet: %w", err)
		}
		if _, err := admin.TopUp(ctx, client.NewKey(), funder.ID, 5_000_00); err != nil {
			return fmt.Errorf("fund the subsidy's wallet: %w", err)
		}
		shop, err := admin.Wallet(ctx, a.Shop)
		if err != nil {
			return err
		}
		subsidy, err := admin.DeployContract(ctx, client.NewKey(), wire.DeployContract{Template: "subsidy", Reference: "demo-subsidy-1",
			Parties: map[string]string{"funder": funder.ID.String()},
			Params: map[string]any{"budget": "2000.00", "per_holder": "50.00", "beneficiaries": []string{a.Wallet.String()},
				"categories": []string{shop.MerchantCategory}, "regions": []string{}, "expires": d.now().Add(30 * 24 * time.Hour).Format(time.RFC3339)}})
		if err != nil {
			return fmt.Errorf("deploy the subsidy: %w", err)
		}
		if _, err := admin.AcceptContract(ctx, subsidy.ID, "funder", subsidy.Hash); err != nil {
			return fmt.Errorf("accept the subsidy: %w", err)
		}
		dc.Escrow, dc.Subsidy, dc.Carrier, dc.Funder = escrow.ID, subsidy.ID, party.ID, funder.ID
		b, _ := json.MarshalIndent(d.keys, "", "  ")
		if err := os.WriteFile(keysPath, b, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "  the demo holder put 88.00 in escrow for the shop, released when the carrier signs the delivery\n")
		fmt.Fprintf(d.out, "  a subsidy programme of 2,000.00 lets the demo holder spend 50.00 at shops of category %s for 30 days\n", shop.MerchantCategory)
	}
	escrow, err := holder.Contract(ctx, dc.Escrow)
	if err != nil {
		return err
	}
	subsidy, err := admin.Contract(ctx, dc.Subsidy)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  the escrow is %s; the subsidy is %s\n", escrow.Status, subsidy.Status)
	return nil
}

// now is the node's time as the demo tells it: the sandbox clock's on a
// sandbox node, else the wall clock.
func (d *demo) now() time.Time {
	if c, err := d.cb.SandboxClock(d.ctx); err == nil {
		return c.Now
	}
	return time.Now()
}

// contractSteps prints how to drive the demo's contracts.
func (d *demo) contractSteps(data string) {
	a := d.keys.Operators[0]
	dc := d.keys.Contracts
	if dc.Escrow.IsZero() {
		return
	}
	w := d.out
	fmt.Fprintf(w, "  # the carrier signs the delivery: the escrow releases 88.00 to the shop (an event id is accepted once)\n")
	fmt.Fprintf(w, "  go run ./cmd/tongbao contract event %s delivered delivery-1 --key-file %s\n", dc.Escrow, filepath.Join(data, demoCarrierFile))
	fmt.Fprintf(w, "  go run ./cmd/tongbao contract invocations %s --key %s\n", dc.Escrow, a.Holder)
	fmt.Fprintf(w, "  # spend 30.00 of the subsidy at the demo shop (a jeweller would be refused: contract-purpose-violation)\n")
	fmt.Fprintf(w, "  go run ./cmd/tongbao contract request %s spend --data merchant=%s --data amount=3000 --key %s\n\n", dc.Subsidy, a.Shop, a.Holder)
}
