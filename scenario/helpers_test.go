package scenario_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/domaintest"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/scenario"
	"github.com/tongbao/tongbao/scenario/scenariosql"
	"github.com/tongbao/tongbao/twotier"
)

// yuan is one CNY in fen.
const yuan tongbao.Amount = 100

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// start is the tests' first moment: a Tuesday morning in Shanghai.
var start = time.Date(2026, 3, 10, 9, 0, 0, 0, shanghai)

// env is a central bank and two operators, A and B, on a real ledger,
// with merchant wallets at A (a metro in Shanghai, a canteen in Shanghai,
// a canteen in Beijing), one at B, and a funded holder at A. The stores
// (ledger, twotier, scenario) are SQLite files in a directory of the
// test's own, or, when TONGBAO_TEST_POSTGRES names a database, a schema of
// the test's own in it.
type env struct {
	d        *domaintest.Env
	tb       testing.TB
	ctx      context.Context
	clock    *tongbao.ManualClock
	ledger   *ledger.Ledger
	svc      *twotier.Service
	scenario *scenario.Service
	store    scenarioStore
	a, b     tongbao.ID

	metro, canteen, beijing, elsewhere twotier.Wallet // merchants
	holder                             twotier.Wallet // personal, at A

	// dir is the test's directory; dsn is the PostgreSQL schema's
	// connection string, empty on SQLite.
	dir, dsn string
}

// scenarioStore is the scenario domain's store of either kind.
type scenarioStore interface {
	scenario.Store
	Close() error
}

// holderFunds is what the holder starts with.
const holderFunds = 5_000 * yuan

func newEnv(tb testing.TB) *env {
	tb.Helper()
	d := domaintest.Open(tb, start)
	e := &env{d: d, tb: tb, ctx: d.Ctx, dir: d.Dir, dsn: d.DSN, clock: d.Clock, ledger: d.Ledger, svc: d.Payments, a: d.A, b: d.B}
	e.store = e.openStore()
	tb.Cleanup(func() { e.store.Close() })
	var err error
	e.scenario, err = scenario.New(scenario.Config{Payments: e.svc, Store: e.store, Clock: e.clock})
	must(tb, err)
	e.metro = e.merchant(e.a, "4111", "Shanghai")
	e.canteen = e.merchant(e.a, "5814", "Shanghai")
	e.beijing = e.merchant(e.a, "5814", "Beijing")
	e.elsewhere = e.merchant(e.b, "4111", "Shanghai")
	e.holder = e.personal(e.a)
	e.supplyOK("setup")
	return e
}

// openStore opens a scenario store on the test's database: another one
// than e.store, as another process would.
func (e *env) openStore() scenarioStore {
	e.tb.Helper()
	target := e.dsn
	if target == "" {
		target = filepath.Join(e.dir, "scenario.db")
	}
	s, err := scenariosql.Open(e.ctx, target)
	must(e.tb, err)
	return s
}

func (e *env) merchant(op tongbao.ID, mcc, region string) twotier.Wallet {
	e.tb.Helper()
	w, err := e.svc.OpenWallet(e.ctx, twotier.WalletSpec{Operator: op, Category: twotier.Category2, HolderName: "商户", Merchant: true, MerchantCategory: mcc, Region: region})
	must(e.tb, err)
	return w
}

// phones numbers the phone aliases the helpers make up.
var phones atomic.Int64

// personal opens a category 2 wallet at op with holderFunds in it.
func (e *env) personal(op tongbao.ID) twotier.Wallet {
	e.tb.Helper()
	w, err := e.svc.OpenWallet(e.ctx, twotier.WalletSpec{Operator: op, Category: twotier.Category2, HolderName: "张三丰", Phone: fmt.Sprintf("+86%011d", phones.Add(1))})
	must(e.tb, err)
	_, err = e.svc.TopUp(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.ID, Amount: holderFunds})
	must(e.tb, err)
	return w
}

// transit is the tests' usual template: 500 on balance, 50 a payment,
// 120 a day, metro merchants (4111) only, no sweep before the expiry in
// 30 days.
func (e *env) transit() scenario.TemplateSpec {
	return scenario.TemplateSpec{
		Operator: e.a, Name: "Shanghai Metro", BalanceMax: 500 * yuan, PaymentMax: 50 * yuan, DailyMax: 120 * yuan,
		Categories: []string{"4111"}, ExpiresAt: start.Add(30 * 24 * time.Hour),
	}
}

func (e *env) template(spec scenario.TemplateSpec) scenario.Template {
	e.tb.Helper()
	t, err := e.scenario.CreateTemplate(e.ctx, spec)
	must(e.tb, err)
	return t
}

// push pushes a sub-wallet of the holder to a template and funds it.
func (e *env) push(t scenario.Template, funds tongbao.Amount) scenario.SubWallet {
	e.tb.Helper()
	w, err := e.scenario.Push(e.ctx, scenario.PushSpec{Parent: e.holder.ID, Template: t.ID})
	must(e.tb, err)
	if funds > 0 {
		_, err = e.scenario.Fund(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: w.Wallet, Amount: funds})
		must(e.tb, err)
	}
	return w
}

func (e *env) pay(w scenario.SubWallet, to twotier.Wallet, amount tongbao.Amount) error {
	_, err := e.scenario.Pay(e.ctx, scenario.Payment{ID: tongbao.NewID(), SubWallet: w.Wallet, Merchant: to.ID, Amount: amount})
	return err
}

func (e *env) charge(w scenario.SubWallet, by twotier.Wallet, amount tongbao.Amount) error {
	_, err := e.scenario.Charge(e.ctx, scenario.Payment{ID: tongbao.NewID(), SubWallet: w.Wallet, Merchant: by.ID, Amount: amount})
	return err
}

func (e *env) sweep(w scenario.SubWallet, amount tongbao.Amount) error {
	_, err := e.scenario.Sweep(e.ctx, scenario.Move{ID: tongbao.NewID(), SubWallet: w.Wallet, Amount: amount})
	return err
}

func (e *env) balance(id tongbao.ID) tongbao.Amount {
	e.tb.Helper()
	b, err := e.svc.Balance(e.ctx, id)
	must(e.tb, err)
	return b
}

// balances returns the balances of the merchants, the holder and the
// sub-wallets given.
func (e *env) balances(subs ...scenario.SubWallet) map[tongbao.ID]tongbao.Amount {
	e.tb.Helper()
	m := make(map[tongbao.ID]tongbao.Amount)
	for _, w := range []twotier.Wallet{e.metro, e.canteen, e.beijing, e.elsewhere, e.holder} {
		m[w.ID] = e.balance(w.ID)
	}
	for _, w := range subs {
		m[w.Wallet] = e.balance(w.Wallet)
	}
	return m
}

// supplyOK fails the test unless the supply check holds.
func (e *env) supplyOK(step string) {
	e.tb.Helper()
	e.d.SupplyOK(e.tb, step)
}

// unchanged fails the test unless the balances are still before.
func (e *env) unchanged(step string, before map[tongbao.ID]tongbao.Amount) {
	e.tb.Helper()
	for id := range before {
		if b := e.balance(id); b != before[id] {
			e.tb.Fatalf("after %s: balance of %v is %v; want %v", step, id, b, before[id])
		}
	}
}

// The shared helpers of the domain tests.
var (
	must     = domaintest.Must
	wantCode = domaintest.WantCode
)
