package httpapi_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// TestAuthorisationMatrix runs every role against every route: a role the
// route does not name gets 403; a role it names, on its own operator or
// wallet, is not refused; on another's, it gets 403; without a key, 401.
func TestAuthorisationMatrix(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	a, adminA := e.operator("Operator A", 50_000*yuan, 1_000_000*yuan)
	b, adminB := e.operator("Operator B", 50_000*yuan, 1_000_000*yuan)
	w, holder := e.wallet(adminA, a, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	shop, err := adminA.OpenWallet(ctx, client.NewKey(), a, wire.OpenWallet{Category: 2, HolderName: "Shop", Merchant: true, MerchantCategory: "5812", Region: "310000"})
	must(t, err)
	mk, err := adminA.CreateKey(ctx, wire.CreateKey{Role: wire.RoleMerchant, Wallet: &shop.ID})
	must(t, err)
	merchant := adminA.WithKey(mk.Secret)
	v, holderB := e.wallet(adminB, b, wire.OpenWallet{Category: 2, HolderName: "赵六", Phone: "13900000002"})
	for _, id := range []tongbao.ID{w.ID, shop.ID} {
		_, err := adminA.TopUp(ctx, client.NewKey(), id, 1_000*yuan)
		must(t, err)
	}
	_, err = adminB.TopUp(ctx, client.NewKey(), v.ID, 1_000*yuan)
	must(t, err)
	// A payment request of the shop's, and one of another merchant's at B.
	req, err := merchant.CreatePaymentRequest(ctx, client.NewKey(), wire.CreatePaymentRequest{OrderID: "own-1", Amount: 100, MerchantName: "Shop", MerchantCity: "Shanghai"})
	must(t, err)
	shopB, err := adminB.OpenWallet(ctx, client.NewKey(), b, wire.OpenWallet{Category: 2, HolderName: "Shop B", Merchant: true, MerchantCategory: "5411", Region: "110000"})
	must(t, err)
	mkB, err := adminB.CreateKey(ctx, wire.CreateKey{Role: wire.RoleMerchant, Wallet: &shopB.ID})
	must(t, err)
	reqB, err := adminB.WithKey(mkB.Secret).CreatePaymentRequest(ctx, client.NewKey(), wire.CreatePaymentRequest{OrderID: "other-1", Amount: 100, MerchantName: "Shop B", MerchantCity: "Beijing"})
	must(t, err)
	static, err := merchant.CollectionCode(ctx, shop.ID, "Shop", "Shanghai")
	must(t, err)
	// A sub-wallet of the holder's at A, funded, which lets the shop
	// charge it, and one of another holder's at B.
	scenarioTemplate := wire.CreateScenarioTemplate{Name: "Anything", BalanceMax: wire.Amount(100 * yuan), PaymentMax: wire.Amount(10 * yuan), Withdrawable: true}
	tplA, err := adminA.CreateScenarioTemplate(ctx, client.NewKey(), a, scenarioTemplate)
	must(t, err)
	tplB, err := adminB.CreateScenarioTemplate(ctx, client.NewKey(), b, scenarioTemplate)
	must(t, err)
	sub, err := holder.PushSubWallet(ctx, client.NewKey(), w.ID, wire.PushSubWallet{Template: tplA.ID})
	must(t, err)
	_, err = holder.FundSubWallet(ctx, client.NewKey(), sub.ID, 10*yuan)
	must(t, err)
	_, err = holder.GrantCharge(ctx, sub.ID, shop.ID)
	must(t, err)
	subB, err := holderB.PushSubWallet(ctx, client.NewKey(), v.ID, wire.PushSubWallet{Template: tplB.ID})
	must(t, err)
	// A contract between the holder and the shop at A, and one between
	// the holder and the shop at B, each with a carrier registered there.
	carrierKey := hex.EncodeToString(partyKey(9).Public().(ed25519.PublicKey))
	carrierA, err := adminA.RegisterContractParty(ctx, client.NewKey(), wire.RegisterContractParty{Name: "Carrier A", PublicKey: carrierKey})
	must(t, err)
	carrierB, err := adminB.RegisterContractParty(ctx, client.NewKey(), wire.RegisterContractParty{Name: "Carrier B", PublicKey: carrierKey})
	must(t, err)
	escrow := func(buyer, seller, carrier tongbao.ID) wire.DeployContract {
		return wire.DeployContract{Template: "escrow", Reference: "matrix", Parties: map[string]string{"buyer": buyer.String(), "seller": seller.String(), "carrier": carrier.String()},
			Params: map[string]any{"price": "1.00", "deadline": "2099-01-01T00:00:00Z"}}
	}
	kA, err := adminA.DeployContract(ctx, "", escrow(w.ID, shop.ID, carrierA.ID))
	must(t, err)
	kB, err := adminB.DeployContract(ctx, "", escrow(v.ID, shopB.ID, carrierB.ID))
	must(t, err)
	// An offline device of the holder's, of the shop's and of the holder
	// at B; and a fraud case at A and one at B, each opened by a cloned
	// device's double spend to the shop's devices.
	device := func(cl *client.Client, wallet tongbao.ID) *simDevice {
		return newSimDevice(t, ctx, tongbao.SystemClock{}, cl, wallet)
	}
	devW, devShop, devV := device(holder, w.ID), device(merchant, shop.ID), device(holderB, v.ID)
	devShop2 := device(merchant, shop.ID)
	fraudA, fraudB := device(holder, w.ID), device(holderB, v.ID)
	fraudA.load(10 * yuan)
	fraudB.load(10 * yuan)
	caseA := doubleSpend(t, fraudA, devShop, devShop2, yuan)
	caseB := doubleSpend(t, fraudB, devShop, devShop2, yuan)
	devices := map[tongbao.ID]tongbao.ID{w.ID: devW.id(), shop.ID: devShop.id(), v.ID: devV.id()}

	type who struct {
		role   string
		cl     *client.Client
		op     tongbao.ID // its own operator
		wallet tongbao.ID // its own wallet (for the wallet routes)
	}
	roles := []who{
		{httpapi.RoleCentralBank, e.cb, a, w.ID},
		{httpapi.RoleOperatorAdmin, adminA, a, w.ID},
		{httpapi.RoleHolder, holder, a, w.ID},
		{httpapi.RoleMerchant, merchant, a, shop.ID},
	}
	// body returns a plausible body for a route, naming the caller's own
	// wallet, so that only authorisation can refuse it.
	// contractParty names the party of the matrix's escrow a wallet
	// speaks for: the shop is the seller, an operator admin's too (an
	// institution's wallet), any other the buyer.
	contractParty := func(own tongbao.ID) string {
		if own == shop.ID || own == shopB.ID {
			return "seller"
		}
		return "buyer"
	}
	body := func(pattern string, own tongbao.ID) string {
		switch pattern {
		case "/v1/keys":
			if own == a {
				return fmt.Sprintf(`{"role":"operator_admin","operator":%q}`, a)
			}
			return fmt.Sprintf(`{"role":"holder","wallet":%q}`, own)
		case "/v1/operators":
			return `{"name":"Operator X","net_debit_cap":"1000.00"}`
		case "/v1/operators/{operator}/caps":
			return `{"effective_from":"2020-01-01T00:00:00Z","caps":{"2":{"balance_max":"500000","debit_max":"50000","daily_debit_max":"100000","yearly_debit_max":"0"},"3":{"balance_max":"20000","debit_max":"5000","daily_debit_max":"10000","yearly_debit_max":"0"},"4":{"balance_max":"10000","debit_max":"2000","daily_debit_max":"5000","yearly_debit_max":"0"}}}`
		case "/v1/operators/{operator}/wallets":
			return `{"category":3,"holder_name":"周九"}`
		case "/v1/wallets/{wallet}/state":
			return `{"state":"active"}`
		case "/v1/wallets/{wallet}/freeze":
			return `{}`
		case "/v1/wallets/{wallet}/category":
			return `{"category":2}`
		case "/v1/payments":
			return fmt.Sprintf(`{"from":%q,"to":%q,"amount":"0.01"}`, own, v.ID)
		case "/v1/payments/batch":
			return fmt.Sprintf(`{"payments":[{"from":%q,"to":%q,"amount":"0.01"}]}`, own, v.ID)
		case "/v1/settlement-windows/close", "/v1/wallets/{wallet}/payment-codes":
			return `{}`
		case "/v1/collection-codes/pay":
			return fmt.Sprintf(`{"from":%q,"payload":%q,"amount":"0.01"}`, own, static.Payload)
		case "/v1/payment-codes/charge":
			return `{"code":"010000000000000000","amount":"0.01"}`
		case "/v1/payment-requests":
			return `{"order_id":"m-1","amount":"0.01","merchant_name":"Shop","merchant_city":"Shanghai"}`
		case "/v1/payment-requests/{request}/pay":
			return fmt.Sprintf(`{"from":%q}`, own)
		case "/v1/payment-requests/{request}/refunds":
			return `{"amount":"0.01","reason":"matrix"}`
		case "/v1/operators/{operator}/scenario-templates":
			return `{"name":"Matrix","balance_max":"1.00","payment_max":"0.01"}`
		case "/v1/wallets/{wallet}/sub-wallets":
			return fmt.Sprintf(`{"template":%q}`, tplA.ID)
		case "/v1/sub-wallets/{wallet}/payments", "/v1/sub-wallets/{wallet}/charge-permission":
			return fmt.Sprintf(`{"merchant":%q,"amount":"0.01"}`, shop.ID)
		case "/v1/sub-wallets/{wallet}/charge-permission/revoke":
			return `{}`
		case "/v1/sandbox/clock/advance":
			return `{"by":"1s"}`
		case "/v1/contract-parties":
			return fmt.Sprintf(`{"name":"Matrix","public_key":%q}`, carrierKey)
		case "/v1/contracts":
			b, err := wire.Encode(escrow(w.ID, shop.ID, carrierA.ID))
			must(t, err)
			return string(b)
		case "/v1/contracts/{contract}/accept":
			return fmt.Sprintf(`{"party":%q,"hash":%q}`, contractParty(own), kA.Hash)
		case "/v1/contracts/{contract}/deposits":
			return fmt.Sprintf(`{"party":%q,"amount":"0.01"}`, contractParty(own))
		case "/v1/contracts/{contract}/requests":
			return fmt.Sprintf(`{"name":"matrix","party":%q}`, contractParty(own))
		case "/v1/contracts/{contract}/dry-run":
			return `{"steps":[{"trigger":"activate"}]}`
		case "/v1/contracts/{contract}/terminate":
			return `{"reason":"matrix"}`
		case "/v1/offline/devices":
			return fmt.Sprintf(`{"device":%q,"wallet":%q,"public_key":%q}`, tongbao.NewID(), own, carrierKey)
		case "/v1/offline/devices/{device}/sync", "/v1/offline/tokens":
			return `{"tokens":[]}`
		case "/v1/offline/devices/{device}/state":
			return `{"state":"suspended","reason":"matrix"}`
		case "/v1/offline/cases/{case}/close":
			return `{"note":"matrix"}`
		}
		return `{"amount":"0.01"}`
	}
	path := func(pattern string, op, wallet tongbao.ID) string {
		if op == a {
			pattern = strings.ReplaceAll(pattern, "{contract}", kA.ID.String())
			pattern = strings.ReplaceAll(pattern, "{party}", carrierA.ID.String())
			pattern = strings.ReplaceAll(pattern, "{case}", caseA.String())
		} else {
			pattern = strings.ReplaceAll(pattern, "{contract}", kB.ID.String())
			pattern = strings.ReplaceAll(pattern, "{party}", carrierB.ID.String())
			pattern = strings.ReplaceAll(pattern, "{case}", caseB.String())
		}
		// The device routes name the device of the wallet the caller
		// acts for: its own at A, another's at B.
		pattern = strings.ReplaceAll(pattern, "{device}", devices[wallet].String())
		p := strings.ReplaceAll(pattern, "{operator}", op.String())
		if strings.HasPrefix(pattern, "/v1/sub-wallets/") {
			// The sub-wallet routes name a sub-wallet: the caller's own
			// holder's at A, or another's at B.
			wallet = sub.ID
			if op != a {
				wallet = subB.ID
			}
		}
		p = strings.ReplaceAll(p, "{wallet}", wallet.String())
		p = strings.ReplaceAll(p, "{key}", "0000000000000000") // no such key: the matrix must not revoke its own
		if op == a {
			p = strings.ReplaceAll(p, "{request}", req.ID.String())
		} else {
			p = strings.ReplaceAll(p, "{request}", reqB.ID.String())
		}
		if pattern == "/v1/resolve" {
			p += "?alias=13900000002"
		}
		return p
	}
	status := func(err error) int {
		if err == nil {
			return 200
		}
		if p, ok := err.(*wire.Problem); ok {
			return p.Status
		}
		t.Fatalf("not a problem: %v", err)
		return 0
	}
	for _, rt := range e.srv.Routes() {
		if len(rt.Roles) == 0 {
			continue // public
		}
		for _, r := range roles {
			t.Run(rt.Method+" "+rt.Pattern+" as "+r.role, func(t *testing.T) {
				var in any
				if rt.Method == "POST" {
					own := r.wallet
					switch {
					case r.role == httpapi.RoleCentralBank:
						own = a
					case r.role == httpapi.RoleOperatorAdmin && strings.HasPrefix(rt.Pattern, "/v1/contracts/{contract}/"):
						own = shop.ID // an operator admin speaks for its institutions' wallets
					}
					in = []byte(body(rt.Pattern, own))
				}
				err := r.cl.Do(ctx, rt.Method, path(rt.Pattern, r.op, r.wallet), client.NewKey(), in, nil)
				allowed := slices.Contains(rt.Roles, r.role)
				switch got := status(err); {
				case !allowed && got != 403:
					t.Fatalf("got %d (%v); want 403", got, err)
				case allowed && (got == 401 || got == 403):
					t.Fatalf("got %d (%v); want it allowed", got, err)
				}
				// Another's operator or wallet is outside the caller's part.
				// A holder may read any payment request (it scanned the code)
				// and pay it, from its own wallet only.
				anothers := strings.Contains(rt.Pattern, "{operator}") || strings.Contains(rt.Pattern, "{wallet}") || strings.HasPrefix(rt.Pattern, "/v1/payments") ||
					rt.Pattern == "/v1/collection-codes/pay" || strings.Contains(rt.Pattern, "{contract}") || strings.Contains(rt.Pattern, "{device}") || strings.Contains(rt.Pattern, "{case}") ||
					rt.Method == "POST" && rt.Pattern == "/v1/offline/devices" || strings.Contains(rt.Pattern, "{party}") || (strings.Contains(rt.Pattern, "{request}") && !(r.role == httpapi.RoleHolder && rt.Method == "GET"))
				if allowed && r.role != httpapi.RoleCentralBank && anothers {
					if rt.Pattern == "/v1/keys" {
						return
					}
					var in any
					if rt.Method == "POST" {
						in = []byte(body(rt.Pattern, v.ID))
					}
					var batch wire.PayBatchResults
					err := r.cl.Do(ctx, rt.Method, path(rt.Pattern, b, v.ID), client.NewKey(), in, &batch)
					if err == nil && len(batch.Results) == 1 && batch.Results[0].Problem != nil {
						err = batch.Results[0].Problem // each payment of a batch is authorised on its own
					}
					if got := status(err); got != 403 {
						t.Fatalf("on another's: got %d (%v); want 403", got, err)
					}
				}
			})
		}
		t.Run(rt.Method+" "+rt.Pattern+" without a key", func(t *testing.T) {
			err := e.cb.WithKey("").Do(ctx, rt.Method, path(rt.Pattern, a, w.ID), client.NewKey(), nil, nil)
			if got := status(err); got != 401 {
				t.Fatalf("got %d (%v); want 401", got, err)
			}
		})
	}
	e.supplyOK("the matrix")
}
