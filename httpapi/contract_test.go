package httpapi_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// contractStart is where the contract tests' manual clock begins.
var contractStart = time.Date(2027, 3, 1, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))

// contractEnv is a server with an operator, a holder (the buyer), a shop
// with a merchant key (the seller) and a registered carrier whose key
// signs events.
type contractEnv struct {
	*env
	clock      *tongbao.ManualClock
	op         tongbao.ID
	admin      *client.Client
	buyer      wire.Wallet
	holder     *client.Client
	shop       wire.Wallet
	merchant   *client.Client
	carrier    wire.ContractParty
	carrierKey ed25519.PrivateKey
	// public posts events without a key.
	public *client.Client
}

// partyKey is a party's key pair from a fixed seed, so every run signs
// the same bytes.
func partyKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(slices.Repeat([]byte{seed}, ed25519.SeedSize))
}

func newContractEnv(t *testing.T) *contractEnv {
	t.Helper()
	clock := tongbao.NewManualClock(contractStart)
	e := &contractEnv{env: newEnvClock(t, clock), clock: clock}
	e.op, e.admin = e.operator("Operator A", 50_000*yuan, 1_000_000*yuan)
	e.buyer, e.holder = e.wallet(e.admin, e.op, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	_, err := e.admin.TopUp(e.ctx, client.NewKey(), e.buyer.ID, 1_000*yuan)
	must(t, err)
	e.shop, err = e.admin.OpenWallet(e.ctx, client.NewKey(), e.op, wire.OpenWallet{Category: 2, HolderName: "Shop", Merchant: true, MerchantCategory: "5812", Region: "310000"})
	must(t, err)
	mk, err := e.admin.CreateKey(e.ctx, wire.CreateKey{Role: wire.RoleMerchant, Wallet: &e.shop.ID})
	must(t, err)
	e.merchant = e.admin.WithKey(mk.Secret)
	e.carrierKey = partyKey(1)
	e.carrier, err = e.admin.RegisterContractParty(e.ctx, client.NewKey(), wire.RegisterContractParty{Name: "Carrier",
		PublicKey: base64.RawURLEncoding.EncodeToString(e.carrierKey.Public().(ed25519.PublicKey))})
	must(t, err)
	e.public = e.cb.WithKey("")
	return e
}

// balances are the buyer's and the shop's balances and the buyer's
// available balance.
func (e *contractEnv) balances() [3]tongbao.Amount {
	e.tb.Helper()
	b, err := e.admin.Wallet(e.ctx, e.buyer.ID)
	must(e.tb, err)
	s, err := e.admin.Wallet(e.ctx, e.shop.ID)
	must(e.tb, err)
	return [3]tongbao.Amount{tongbao.Amount(*b.Balance), tongbao.Amount(*b.Available), tongbao.Amount(*s.Balance)}
}

// refused checks that a request was refused with the named problem and
// moved nothing.
func (e *contractEnv) refused(what, problem string, f func() error) {
	e.tb.Helper()
	before := e.balances()
	wantProblem(e.tb, what, f(), problem)
	if after := e.balances(); after != before {
		e.tb.Fatalf("%s: balances moved from %v to %v", what, before, after)
	}
}

// escrow deploys the escrow template between the buyer and the shop as
// the holder.
func (e *contractEnv) escrow(reference string) wire.Contract {
	e.tb.Helper()
	k, err := e.holder.DeployContract(e.ctx, "", e.escrowSpec(reference))
	must(e.tb, err)
	return k
}

func (e *contractEnv) escrowSpec(reference string) wire.DeployContract {
	return wire.DeployContract{Template: "escrow", Reference: reference,
		Parties: map[string]string{"buyer": e.buyer.ID.String(), "seller": e.shop.ID.String(), "carrier": e.carrier.ID.String()},
		Params:  map[string]any{"price": "120.00", "deadline": contractStart.Add(7 * 24 * time.Hour).Format(time.RFC3339)}}
}

// event signs an event with key as signer.
func event(t testing.TB, key ed25519.PrivateKey, signer tongbao.ID, k tongbao.ID, id, typ string) []byte {
	t.Helper()
	jws, err := contract.SignEvent(key, signer, contract.Event{ID: id, Type: typ, Contract: k, IssuedAt: contractStart.Unix()})
	must(t, err)
	return jws
}

// TestContractEscrowOverHTTP deploys the escrow template, accepts it,
// and releases it with the carrier's signed event; each bad event on the
// way is refused with its own problem and moves nothing.
func TestContractEscrowOverHTTP(t *testing.T) {
	e := newContractEnv(t)
	ctx := e.ctx

	tl, err := e.holder.ContractTemplates(ctx)
	must(t, err)
	if !slices.ContainsFunc(tl.Items, func(t wire.ContractTemplate) bool { return t.Name == "escrow" && len(t.Params) > 0 }) {
		t.Fatalf("templates %+v lack escrow with its params", tl.Items)
	}
	schema, ctype, err := e.merchant.GetRaw(ctx, "/v1/contracts/schema")
	must(t, err)
	if ctype != httpapi.ContentTypeSchema || !json.Valid(schema) || string(schema) != string(contract.Schema()) {
		t.Fatalf("schema: %q, %d bytes; want %s, the contract schema", ctype, len(schema), httpapi.ContentTypeSchema)
	}
	got, err := e.admin.ContractParty(ctx, e.carrier.ID)
	must(t, err)
	if got.PublicKey != e.carrier.PublicKey || got.Operator != e.op {
		t.Fatalf("party %+v; want %+v", got, e.carrier)
	}

	k := e.escrow("order-1")
	if k.Status != "pending" || !slices.Equal(k.NeedsConsent, []string{"buyer"}) || k.Operator != e.op {
		t.Fatalf("deployed %s, needs consent of %v, at %s; want pending, buyer, %s", k.Status, k.NeedsConsent, k.Operator, e.op)
	}
	// The same document again is the same contract, answered 200.
	var again wire.Contract
	resp := e.holder.Do(ctx, http.MethodPost, "/v1/contracts", "", e.escrowSpec("order-1"), &again)
	must(t, resp)
	if again.ID != k.ID || again.Hash != k.Hash {
		t.Fatalf("deployed again: %s; want %s", again.ID, k.ID)
	}

	e.refused("accepting another hash", "contract-hash-mismatch", func() error {
		_, err := e.holder.AcceptContract(ctx, k.ID, "buyer", strings.Repeat("0", 64))
		return err
	})
	e.refused("the shop accepting for the buyer", "forbidden", func() error {
		_, err := e.merchant.AcceptContract(ctx, k.ID, "buyer", k.Hash)
		return err
	})
	e.refused("an event before the contract is active", "contract-not-active", func() error {
		_, err := e.public.PostContractEvent(ctx, event(t, e.carrierKey, e.carrier.ID, k.ID, "early", "delivered"))
		return err
	})
	// A dry run of the activation and the delivery shows the money that
	// would move, and moves none.
	before := e.balances()
	dry, err := e.merchant.DryRunContract(ctx, k.ID, wire.DryRunContract{Steps: []wire.ContractDryStep{{Trigger: "activate"}, {Trigger: "delivered"}}})
	must(t, err)
	if len(dry.Steps) != 2 || dry.Steps[0].Outcome != "succeeded" || dry.Steps[1].Outcome != "succeeded" || len(dry.Steps[1].Moves) == 0 {
		t.Fatalf("dry run: %+v; want activation and delivery succeeded with moves", dry.Steps)
	}
	if after := e.balances(); after != before {
		t.Fatalf("a dry run moved balances from %v to %v", before, after)
	}
	k, err = e.holder.AcceptContract(ctx, k.ID, "buyer", k.Hash)
	must(t, err)
	if k.Status != "active" || len(k.NeedsConsent) != 0 || k.Runtime.Consents["buyer"].By == "" {
		t.Fatalf("accepted: %s, needs %v, consents %v; want active", k.Status, k.NeedsConsent, k.Runtime.Consents)
	}
	if got, want := e.balances(), [3]tongbao.Amount{before[0], before[1] - 120*yuan, before[2]}; got != want {
		t.Fatalf("after accepting: balances %v; want %v (120.00 held on the buyer's wallet)", got, want)
	}
	read, err := e.merchant.Contract(ctx, k.ID)
	must(t, err)
	if len(read.Runtime.Holds) != 1 || read.Runtime.Holds[0].Status != "open" || len(read.Timers) != 1 || read.Timers[0].Trigger != "deadline" {
		t.Fatalf("read by the seller: holds %+v, timers %+v; want one open hold, the deadline's timer", read.Runtime.Holds, read.Timers)
	}

	// Bad events: each its own problem, nothing moved.
	other := partyKey(2)
	e.refused("a bad signature", "contract-event-signature-invalid", func() error {
		_, err := e.public.PostContractEvent(ctx, event(t, other, e.carrier.ID, k.ID, "ev-1", "delivered"))
		return err
	})
	e.refused("an unregistered signer", "contract-party-unregistered", func() error {
		_, err := e.public.PostContractEvent(ctx, event(t, other, tongbao.NewID(), k.ID, "ev-1", "delivered"))
		return err
	})
	e.refused("a malformed event", "contract-event-malformed", func() error {
		_, err := e.public.PostContractEvent(ctx, []byte("not.a.jws"))
		return err
	})
	e.refused("an event sent as JSON", "unsupported-media-type", func() error {
		return e.public.Do(ctx, http.MethodPost, "/v1/contract-events", "", event(t, e.carrierKey, e.carrier.ID, k.ID, "ev-1", "delivered"), nil)
	})
	e.refused("an event of a type the contract does not take", "contract-trigger-not-found", func() error {
		_, err := e.public.PostContractEvent(ctx, event(t, e.carrierKey, e.carrier.ID, k.ID, "ev-1", "lost"))
		return err
	})

	// The carrier's confirmation, sent as text/plain with a newline after
	// it, releases the money to the seller.
	a := send(t, "POST", e.base+"/v1/contract-events", string(event(t, e.carrierKey, e.carrier.ID, k.ID, "ev-1", "delivered"))+"\n", "Content-Type", "text/plain; charset=utf-8")
	var inv wire.ContractInvocation
	if err := json.Unmarshal(a.body, &inv); a.status != http.StatusOK || err != nil {
		t.Fatalf("the delivery event: %d %s", a.status, a.body)
	}
	if inv.Outcome != "succeeded" || inv.Trigger != "delivered" || len(inv.Moves) == 0 {
		t.Fatalf("delivered: %+v; want succeeded with moves", inv)
	}
	if got, want := e.balances(), [3]tongbao.Amount{before[0] - 120*yuan, before[1] - 120*yuan, before[2] + 120*yuan}; got != want {
		t.Fatalf("after delivery: balances %v; want %v", got, want)
	}
	e.refused("the same event again", "contract-event-replayed", func() error {
		_, err := e.public.PostContractEvent(ctx, event(t, e.carrierKey, e.carrier.ID, k.ID, "ev-1", "delivered"))
		return err
	})
	k, err = e.holder.Contract(ctx, k.ID)
	must(t, err)
	if k.Status != "completed" || k.Runtime.PaidOut != wire.Amount(120*yuan) || len(k.Timers) != 0 {
		t.Fatalf("after delivery: %s, paid out %v, timers %v; want completed, 120.00, none", k.Status, k.Runtime.PaidOut, k.Timers)
	}
	e.refused("another event of an ended contract", "contract-ended", func() error {
		_, err := e.public.PostContractEvent(ctx, event(t, e.carrierKey, e.carrier.ID, k.ID, "ev-2", "delivered"))
		return err
	})

	// The invocations page by sequence, oldest first.
	var seen []string
	p := client.Page{Limit: 1}
	for range 10 {
		page, err := e.cb.ContractInvocations(ctx, k.ID, p)
		must(t, err)
		for _, inv := range page.Items {
			seen = append(seen, inv.Trigger+":"+inv.Outcome)
		}
		if page.NextCursor == "" {
			break
		}
		p.Cursor = page.NextCursor
	}
	if want := []string{"activate:succeeded", "delivered:succeeded"}; !slices.Equal(seen, want) {
		t.Fatalf("invocations %v; want %v", seen, want)
	}
	e.supplyOK("the escrow")
}

// TestContractBadDocuments checks that a document that is not JSON or
// YAML, one that breaks the schema and one whose CEL does not compile
// are each refused with their own problem, deploying nothing.
func TestContractBadDocuments(t *testing.T) {
	e := newContractEnv(t)
	ctx := e.ctx
	good := fmt.Sprintf(`tongbao_contract: 1
name: Lock
parties:
  - {name: payer, wallet: %s}
  - {name: payee, wallet: %s}
refund_to: payer
funding:
  - hold: {from: payer, amount: "10.00"}
triggers:
  - name: release
    on: {request: {name: release, by: payer}}
    when: "WHEN"
    actions:
      - release: {to: payee}
`, e.buyer.ID, e.shop.ID)
	cases := []struct {
		name, document, problem string
	}{
		{"not JSON or YAML", "{tongbao_contract: [", "contract-document-malformed"},
		{"not the schema", `{"tongbao_contract": 1, "name": "x"}`, "contract-schema-violation"},
		{"CEL that does not compile", strings.Replace(good, "WHEN", "event.data.ok &&", 1), "contract-condition-invalid"},
		{"CEL of the wrong type", strings.Replace(good, "WHEN", "1 + 1", 1), "contract-condition-invalid"},
	}
	for _, tc := range cases {
		e.refused(tc.name, tc.problem, func() error {
			_, err := e.holder.DeployContract(ctx, "", wire.DeployContract{Document: tc.document})
			return err
		})
	}
	e.refused("an unknown template", "contract-template-not-found", func() error {
		_, err := e.holder.DeployContract(ctx, "", wire.DeployContract{Template: "nothing"})
		return err
	})
	e.refused("a template without its params", "contract-schema-violation", func() error {
		_, err := e.holder.DeployContract(ctx, "", wire.DeployContract{Template: "escrow"})
		return err
	})
	e.refused("a contract the holder is no party of", "forbidden", func() error {
		doc := strings.Replace(strings.Replace(good, "WHEN", "true", 1), e.buyer.ID.String(), e.shop.ID.String(), 1)
		_, err := e.holder.DeployContract(ctx, "", wire.DeployContract{Document: doc})
		return err
	})
	page, err := e.admin.Contracts(ctx, client.Page{})
	must(t, err)
	if len(page.Items) != 0 {
		t.Fatalf("contracts after refusals: %d; want none", len(page.Items))
	}
	// The good one deploys, from YAML, and lists.
	k, err := e.holder.DeployContract(ctx, "", wire.DeployContract{Document: strings.Replace(good, "WHEN", "true", 1)})
	must(t, err)
	for _, c := range []*client.Client{e.admin, e.cb} {
		page, err = c.Contracts(ctx, client.Page{})
		must(t, err)
		if len(page.Items) != 1 || page.Items[0].ID != k.ID || page.Items[0].Document != nil {
			t.Fatalf("contracts: %+v; want %s without its document", page.Items, k.ID)
		}
	}
}

// TestContractPauseResumeTerminate runs a two-party lock: paused it
// refuses its payer's release, resumed it takes it, and a terminated one
// refuses everything; its hold goes back to the payer.
func TestContractPauseResumeTerminate(t *testing.T) {
	e := newContractEnv(t)
	ctx := e.ctx
	lock := func(ref string) wire.Contract {
		k, err := e.holder.DeployContract(ctx, "", wire.DeployContract{Template: "lock_two_party", Reference: ref,
			Parties: map[string]string{"payer": e.buyer.ID.String(), "payee": e.shop.ID.String()},
			Params:  map[string]any{"amount": "50.00", "deadline": contractStart.Add(24 * time.Hour).Format(time.RFC3339)}})
		must(t, err)
		k, err = e.holder.AcceptContract(ctx, k.ID, "payer", k.Hash)
		must(t, err)
		return k
	}
	release := func(k wire.Contract) error {
		_, err := e.holder.RequestContract(ctx, client.NewKey(), k.ID, wire.ContractRequest{Name: "release", Party: "payer"})
		return err
	}
	k := lock("lock-1")
	if _, err := e.holder.PauseContract(ctx, k.ID); client.ProblemName(err) != "forbidden" {
		t.Fatalf("a holder pausing: %v; want forbidden", err)
	}
	paused, err := e.admin.PauseContract(ctx, k.ID)
	must(t, err)
	if paused.Status != "paused" {
		t.Fatalf("paused: %s", paused.Status)
	}
	e.refused("a request of a paused contract", "contract-paused", func() error { return release(k) })
	e.refused("the shop requesting the payer's release", "forbidden", func() error {
		_, err := e.merchant.RequestContract(ctx, client.NewKey(), k.ID, wire.ContractRequest{Name: "release", Party: "payer"})
		return err
	})
	_, err = e.admin.ResumeContract(ctx, k.ID)
	must(t, err)
	before := e.balances()
	must(t, release(k))
	if got, want := e.balances(), [3]tongbao.Amount{before[0] - 50*yuan, before[1], before[2] + 50*yuan}; got != want {
		t.Fatalf("after the release: balances %v; want %v", got, want)
	}

	k = lock("lock-2")
	held := e.balances()
	inv, err := e.admin.TerminateContract(ctx, k.ID, "the order was cancelled")
	must(t, err)
	if inv.Trigger != "terminate" || inv.Outcome != "succeeded" {
		t.Fatalf("terminated: %+v", inv)
	}
	if got, want := e.balances(), [3]tongbao.Amount{held[0], held[1] + 50*yuan, held[2]}; got != want {
		t.Fatalf("after terminating: balances %v; want %v (the hold voided)", got, want)
	}
	e.refused("a request of a terminated contract", "contract-ended", func() error { return release(k) })
	e.refused("terminating again", "contract-ended", func() error {
		_, err := e.admin.TerminateContract(ctx, k.ID, "again")
		return err
	})
	e.refused("resuming a terminated contract", "contract-ended", func() error {
		_, err := e.admin.ResumeContract(ctx, k.ID)
		return err
	})
	e.supplyOK("the locks")
}

// TestContractSplitDeposit deposits into a split contract under an
// Idempotency-Key: the shares reach their wallets at once, and a retry
// with the key deposits nothing more.
func TestContractSplitDeposit(t *testing.T) {
	e := newContractEnv(t)
	ctx := e.ctx
	platform, err := e.admin.OpenWallet(ctx, client.NewKey(), e.op, wire.OpenWallet{Category: 2, HolderName: "Platform", Merchant: true, MerchantCategory: "7399", Region: "310000"})
	must(t, err)
	tax, err := e.admin.OpenWallet(ctx, client.NewKey(), e.op, wire.OpenWallet{Category: 2, HolderName: "Tax", Merchant: true, MerchantCategory: "9311", Region: "310000"})
	must(t, err)
	k, err := e.holder.DeployContract(ctx, "", wire.DeployContract{Template: "split", Reference: "sale-1",
		Parties: map[string]string{"payer": e.buyer.ID.String(), "merchant": e.shop.ID.String(), "platform": platform.ID.String(), "tax": tax.ID.String()}})
	must(t, err)
	e.refused("a deposit before consent", "contract-not-active", func() error {
		_, err := e.holder.DepositContract(ctx, client.NewKey(), k.ID, "payer", 100*yuan)
		return err
	})
	_, err = e.holder.AcceptContract(ctx, k.ID, "payer", k.Hash)
	must(t, err)
	if err := e.holder.Do(ctx, http.MethodPost, "/v1/contracts/"+k.ID.String()+"/deposits", "", wire.ContractDeposit{Party: "payer", Amount: wire.Amount(yuan)}, nil); client.ProblemName(err) != "idempotency-key-required" {
		t.Fatalf("a deposit without a key: %v; want idempotency-key-required", err)
	}
	before := e.balances()
	key := client.NewKey()
	for range 2 {
		inv, err := e.holder.DepositContract(ctx, key, k.ID, "payer", 100*yuan+1)
		must(t, err)
		if inv.Outcome != "succeeded" {
			t.Fatalf("deposit: %+v", inv)
		}
	}
	// 100.01 split 9000:400:600: 90.009 → 90.00 and the remainder's fen,
	// 4.0004 → 4.00, 6.0006 → 6.00.
	if got, want := e.balances(), [3]tongbao.Amount{before[0] - 100*yuan - 1, before[1] - 100*yuan - 1, before[2] + 90*yuan + 1}; got != want {
		t.Fatalf("after the deposit: balances %v; want %v", got, want)
	}
	for _, w := range []struct {
		id   tongbao.ID
		want tongbao.Amount
	}{{platform.ID, 4 * yuan}, {tax.ID, 6 * yuan}} {
		if got := e.balance(e.admin, w.id); got != w.want {
			t.Errorf("wallet %s holds %v; want %v", w.id, got, w.want)
		}
	}
	e.supplyOK("the split")
}

// TestContractPublicKeyForms checks the forms a party's public key is
// taken in, and that another form is refused.
func TestContractPublicKeyForms(t *testing.T) {
	pub := partyKey(7).Public().(ed25519.PublicKey)
	for _, s := range []string{hex.EncodeToString(pub), base64.RawURLEncoding.EncodeToString(pub), base64.URLEncoding.EncodeToString(pub)} {
		got, err := httpapi.ParsePublicKey(s)
		if err != nil || string(got) != string(pub) {
			t.Errorf("%q: %x, %v; want %x", s, got, err, []byte(pub))
		}
	}
	for _, s := range []string{"", "abc", base64.StdEncoding.EncodeToString(append(pub[:31:31], 0xfb)), hex.EncodeToString(pub[:31]), strings.Repeat("z", 64)} {
		if _, err := httpapi.ParsePublicKey(s); err == nil {
			t.Errorf("%q: taken; want refused", s)
		}
	}
}
