package contract_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/twotier"
	"pgregory.net/rapid"
)

// propertyStepsMin is the fewest steps the default run of TestProperty
// takes, across its runs.
const propertyStepsMin = 10_000

// propCall is a request or a deposit as made, to make again.
type propCall struct {
	contract    tongbao.ID
	name, party string
	wallet      tongbao.ID
	key         string
	data        map[string]any
	amount      tongbao.Amount // a deposit when positive
}

// TestProperty drives random contracts (every template that needs no
// signer, with random parameters and parties) through random consents,
// requests, deposits, pauses, terminations, replays and time steps on the
// manual clock. After every step: the run's wallets and contracts hold
// together what they held at its start (money moved, none made or lost),
// no wallet is below its floor, every contract transfer that took money from
// a wallet belongs to a contract one of whose parties on that wallet
// consented, and a replayed request, deposit or timer run changes
// nothing. Every tenth step and at the end of each run, the whole
// supply check (every currency sums to zero, each operator's backing
// equals its liabilities): it reads every wallet of the node, which the
// runs share.
func TestProperty(t *testing.T) {
	// The property is about the rules, not durability (the crash test
	// covers that): on a memory file system, so fsyncs cost nothing.
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		t.Setenv("TMPDIR", "/dev/shm")
	}
	e := newEnv(t)
	var steps atomic.Int64
	seen := map[tongbao.ID]int64{} // wallet → timestamp of the newest transfer checked
	prop := func(rt *rapid.T) {
		wallets := make([]tongbao.ID, 4)
		for i := range wallets {
			wallets[i] = e.wallet(tongbao.Amount(rapid.Int64Range(0, 2000_00).Draw(rt, "funds")))
		}
		merchants := []tongbao.ID{e.merchant("5411", "310000"), e.merchant("5944", "310000"), e.merchant("5411", "110000")}
		_, err := e.Payments.TopUp(e.Ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: merchants[0], Amount: 1000_00})
		mustR(rt, err)
		all := append(append([]tongbao.ID{}, wallets...), merchants...)
		var contracts []tongbao.ID
		var calls []propCall
		pick := func(label string, ids []tongbao.ID) tongbao.ID {
			return ids[rapid.IntRange(0, len(ids)-1).Draw(rt, label)]
		}
		amount := func(label string) string {
			return tongbao.Amount(rapid.Int64Range(1, 300_00).Draw(rt, label)).String()
		}
		later := func(label string) string {
			return e.Clock.Now().Add(time.Duration(rapid.IntRange(1, 96).Draw(rt, label)) * time.Hour).Format(time.RFC3339)
		}
		secret := "s3cret"
		sum := sha256.Sum256([]byte(secret))
		hash := hex.EncodeToString(sum[:])

		deploy := func() {
			payer, payee := pick("payer", wallets), pick("payee", all)
			if payee == payer {
				return
			}
			var tpl string
			var v map[string]any
			switch rapid.IntRange(0, 6).Draw(rt, "template") {
			case 0:
				tpl, v = "lock_two_party", map[string]any{"payer": payer.String(), "payee": payee.String(), "amount": amount("amount"), "deadline": later("deadline")}
			case 1:
				tpl, v = "htlc", map[string]any{"payer": payer.String(), "payee": payee.String(), "amount": amount("amount"), "hash": hash, "deadline": later("deadline")}
			case 2:
				others := []tongbao.ID{}
				for _, w := range all {
					if w != payer {
						others = append(others, w)
					}
				}
				m, p, x := pick("merchant", others), pick("platform", others), pick("tax", others)
				if m == p || p == x || m == x {
					return
				}
				tpl, v = "split", map[string]any{"payer": payer.String(), "merchant": m.String(), "platform": p.String(), "tax": x.String(),
					"merchant_weight": rapid.IntRange(1, 10000).Draw(rt, "w1"), "platform_weight": rapid.IntRange(1, 1000).Draw(rt, "w2"), "tax_weight": rapid.IntRange(1, 1000).Draw(rt, "w3")}
			case 3:
				tpl, v = "instalments", map[string]any{"payer": payer.String(), "payee": payee.String(), "instalment": amount("instalment"),
					"day": rapid.IntRange(1, 28).Draw(rt, "day"), "count": rapid.IntRange(1, 4).Draw(rt, "count"), "retries": rapid.IntRange(1, 3).Draw(rt, "retries"), "retry_every": "24h"}
			case 4:
				tpl, v = "payable", map[string]any{"buyer": payer.String(), "supplier": payee.String(), "invoice": amount("invoice"), "due": later("due"), "discount_bps": rapid.IntRange(0, 1000).Draw(rt, "bps")}
			case 5:
				tpl, v = "credit", map[string]any{"merchant": payer.String(), "lender": pick("lender", merchants[:1]).String(), "limit": amount("limit"), "repay_every": "6h"}
			case 6:
				tpl, v = "subsidy", map[string]any{"funder": merchants[0].String(), "budget": amount("budget"), "per_holder": amount("per"),
					"beneficiaries": []string{wallets[0].String(), wallets[1].String()}, "categories": []string{"5411"}, "regions": []string{"310000"}, "expires": later("expires")}
			}
			v["reference"] = fmt.Sprint("r", len(contracts), "-", tongbao.NewID())
			c, _, err := e.svc.Deploy(e.Ctx, contract.DeploySpec{Operator: e.A, Template: tpl, Params: v})
			mustR(rt, err)
			contracts = append(contracts, c.ID)
		}
		someContract := func() (contract.Contract, bool) {
			if len(contracts) == 0 {
				return contract.Contract{}, false
			}
			return e.contract(pick("contract", contracts)), true
		}
		docOf := func(c contract.Contract) *contract.Document {
			d, err := e.svc.Document(c)
			mustR(rt, err)
			return d
		}
		// acceptable errors are refusals by the rules; anything else fails.
		refusal := func(err error) {
			if err == nil {
				return
			}
			switch tongbao.ErrorCode(err) {
			case tongbao.EINTERNAL, tongbao.EUNAVAILABLE:
				rt.Fatalf("unexpected error: %v", err)
			}
		}
		// The run's money: every contract of the run moves money only
		// among its wallets and the contracts' own, so their sum stays.
		total := func() tongbao.Amount {
			var sum tongbao.Amount
			ids := append([]tongbao.ID{}, all...)
			for _, id := range contracts {
				ids = append(ids, e.contract(id).Wallet)
			}
			for _, id := range ids {
				b, err := e.Payments.WalletBalance(e.Ctx, id)
				mustR(rt, err)
				sum += b.Net()
			}
			return sum
		}
		total0 := total()
		n := rapid.IntRange(80, 160).Draw(rt, "steps")
		for i := 0; i < n; i++ {
			steps.Add(1)
			before := e.balances(all...)
			switch rapid.IntRange(0, 9).Draw(rt, "action") {
			case 0, 1:
				deploy()
			case 2:
				c, ok := someContract()
				if !ok {
					continue
				}
				ps := docOf(c).DebitedParties()
				if len(ps) == 0 {
					continue
				}
				_, err := e.svc.Accept(e.Ctx, c.ID, ps[rapid.IntRange(0, len(ps)-1).Draw(rt, "party")], c.Hash, "prop")
				refusal(err)
			case 3, 4:
				c, ok := someContract()
				if !ok {
					continue
				}
				d := docOf(c)
				var reqs []*contract.RequestOn
				for _, t := range d.Triggers {
					if t.On.Request != nil {
						reqs = append(reqs, t.On.Request)
					}
				}
				if len(reqs) == 0 {
					continue
				}
				r := reqs[rapid.IntRange(0, len(reqs)-1).Draw(rt, "request")]
				cl := propCall{contract: c.ID, name: r.Name, party: r.By, key: fmt.Sprint("k", i), data: map[string]any{}}
				switch r.Name {
				case "claim":
					cl.data["preimage"] = rapid.SampledFrom([]string{secret, "wrong"}).Draw(rt, "preimage")
				case "pay":
					cl.data["to"] = pick("to", all).String()
					cl.data["amount"] = rapid.Int64Range(1, 500_00).Draw(rt, "pay")
				case "spend":
					cl.party, cl.wallet = "", pick("spender", wallets)
					cl.data["merchant"] = pick("shop", merchants).String()
					cl.data["amount"] = rapid.Int64Range(1, 300_00).Draw(rt, "spend")
				}
				_, err := e.svc.Request(e.Ctx, cl.contract, cl.name, cl.party, cl.wallet, cl.key, cl.data)
				refusal(err)
				if err == nil {
					calls = append(calls, cl)
				}
			case 5:
				c, ok := someContract()
				if !ok {
					continue
				}
				ps := docOf(c).DebitedParties()
				if len(ps) == 0 || c.Status != contract.StatusActive {
					continue
				}
				cl := propCall{contract: c.ID, party: ps[0], key: fmt.Sprint("d", i), amount: tongbao.Amount(rapid.Int64Range(1, 200_00).Draw(rt, "deposit"))}
				_, err := e.svc.Deposit(e.Ctx, cl.contract, cl.party, cl.amount, cl.key)
				refusal(err)
				if err == nil {
					calls = append(calls, cl)
				}
			case 6:
				e.Clock.Advance(time.Duration(rapid.Int64Range(0, int64(50*time.Hour)).Draw(rt, "advance")))
				_, err := e.svc.RunDue(e.Ctx)
				mustR(rt, err)
			case 7:
				c, ok := someContract()
				if !ok {
					continue
				}
				var err error
				switch rapid.IntRange(0, 2).Draw(rt, "admin") {
				case 0:
					_, err = e.svc.Pause(e.Ctx, c.ID)
				case 1:
					_, err = e.svc.Resume(e.Ctx, c.ID)
				case 2:
					_, err = e.svc.Terminate(e.Ctx, c.ID, "property")
				}
				refusal(err)
			case 8, 9:
				// Replays change nothing: a call made before, or the
				// timers again without the clock moving.
				states := map[tongbao.ID]int64{}
				for _, id := range contracts {
					states[id] = e.contract(id).Version
				}
				if len(calls) > 0 && rapid.Bool().Draw(rt, "replay call") {
					cl := calls[rapid.IntRange(0, len(calls)-1).Draw(rt, "call")]
					var err error
					if cl.amount > 0 {
						_, err = e.svc.Deposit(e.Ctx, cl.contract, cl.party, cl.amount, cl.key)
					} else {
						_, err = e.svc.Request(e.Ctx, cl.contract, cl.name, cl.party, cl.wallet, cl.key, cl.data)
					}
					if err != nil && !errors.Is(err, contract.ErrPaused) && !errors.Is(err, contract.ErrEnded) {
						rt.Fatalf("replay of %s: %v", cl.key, err)
					}
				} else {
					// Whatever is due fires first (a resumed contract's
					// timers); then nothing more may.
					_, err := e.svc.RunDue(e.Ctx)
					mustR(rt, err)
					before = e.balances(all...)
					for _, id := range contracts {
						states[id] = e.contract(id).Version
					}
					_, err = e.svc.RunDue(e.Ctx)
					mustR(rt, err)
				}
				if got := e.balances(all...); !equalAmounts(got, before) {
					rt.Fatalf("a replay moved money: %v -> %v", before, got)
				}
				for _, id := range contracts {
					if v := e.contract(id).Version; v != states[id] {
						rt.Fatalf("a replay changed contract %s: version %d -> %d", id, states[id], v)
					}
				}
			}
			if got := total(); got != total0 {
				rt.Fatalf("the run's wallets and contracts hold %s; they held %s", got, total0)
			}
			checkInvariants(rt, e, all, seen, i%10 == 9 || i == n-1)
		}
	}
	// rapid runs up to 100 cases a check (fewer near the test's
	// deadline): check again until the steps reach their minimum.
	for range 5 {
		rapid.Check(t, prop)
		if steps.Load() >= propertyStepsMin || testing.Short() || t.Failed() {
			break
		}
	}
	if got := steps.Load(); got < propertyStepsMin && !testing.Short() && !t.Failed() {
		t.Fatalf("%d steps in all; want at least %d", got, propertyStepsMin)
	}
	t.Logf("%d steps", steps.Load())
}

func equalAmounts(a, b []tongbao.Amount) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkInvariants checks the supply, the floors, and that every contract
// transfer debiting a wallet since the last check belongs to a contract
// that a party on that wallet accepted.
func checkInvariants(rt *rapid.T, e *env, wallets []tongbao.ID, seen map[tongbao.ID]int64, supply bool) {
	if supply {
		r, err := e.Payments.SupplyReport(e.Ctx)
		mustR(rt, err)
		if !r.OK {
			rt.Fatalf("supply check failed: %+v", r)
		}
	}
	for _, w := range wallets {
		b, err := e.Payments.WalletBalance(e.Ctx, w)
		mustR(rt, err)
		if b.Available() < 0 || b.Net() < 0 {
			rt.Fatalf("wallet %s below its floor: %+v", w, b)
		}
		ts, _, err := e.Payments.WalletTransfers(e.Ctx, w, 0, 100)
		mustR(rt, err)
		newest := seen[w]
		for _, t := range ts {
			if t.Timestamp <= seen[w] {
				break
			}
			newest = max(newest, t.Timestamp)
			if t.Code != twotier.TransferContract || t.DebitAccountID != w {
				continue
			}
			id, err := tongbao.ParseID(strings.TrimPrefix(t.Metadata, "contract "))
			mustR(rt, err)
			c := e.contract(id)
			d, err := e.svc.Document(c)
			mustR(rt, err)
			consented := false
			for _, p := range d.Parties {
				if _, ok := c.Runtime.Consents[p.Name]; ok && p.Wallet == w.String() {
					consented = true
				}
			}
			if !consented {
				rt.Fatalf("contract %s took %s from wallet %s, whose holder did not accept it (consents %v)", id, t.Amount, w, slices.Collect(maps.Keys(c.Runtime.Consents)))
			}
		}
		seen[w] = newest
	}
}

func mustR(rt *rapid.T, err error) {
	rt.Helper()
	if err != nil {
		rt.Fatalf("%v", err)
	}
}
