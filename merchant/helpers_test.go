package merchant_test

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
	"github.com/tongbao/tongbao/merchant"
	"github.com/tongbao/tongbao/merchant/merchantsql"
	"github.com/tongbao/tongbao/twotier"
)

// yuan is one CNY in fen.
const yuan tongbao.Amount = 100

// start is the tests' first moment: a Tuesday morning in Shanghai.
var start = time.Date(2026, 3, 10, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))

// env is a central bank and two operators, A and B, on a real ledger, with
// a merchant wallet at A and a holder wallet at each operator, each holder
// funded. The stores (ledger, twotier and merchant) are SQLite files in a
// directory of the test's own, or, when TONGBAO_TEST_POSTGRES names a
// database, a schema of the test's own in it.
type env struct {
	d        *domaintest.Env
	tb       testing.TB
	ctx      context.Context
	clock    *tongbao.ManualClock
	ledger   *ledger.Ledger
	svc      *twotier.Service
	merchant *merchant.Service
	store    merchantStore
	a, b     tongbao.ID
	shop     twotier.Wallet // merchant wallet at A
	payerA   twotier.Wallet // holder at A (same operator as the shop)
	payerB   twotier.Wallet // holder at B (pays across operators)

	// dir is the test's directory; dsn is the PostgreSQL schema's
	// connection string, empty on SQLite.
	dir, dsn string
}

// merchantStore is the merchant domain's store of either kind.
type merchantStore interface {
	merchant.Store
	Close() error
}

// holderFunds is what each holder wallet starts with.
const holderFunds = 5_000 * yuan

func newEnv(tb testing.TB) *env {
	tb.Helper()
	d := domaintest.Open(tb, start)
	e := &env{d: d, tb: tb, ctx: d.Ctx, dir: d.Dir, dsn: d.DSN, clock: d.Clock, ledger: d.Ledger, svc: d.Payments, a: d.A, b: d.B}
	e.store = e.openStore()
	tb.Cleanup(func() { e.store.Close() })
	var err error
	e.merchant, err = merchant.New(merchant.Config{Payments: e.svc, Store: e.store, Clock: e.clock})
	must(tb, err)
	e.shop, err = e.svc.OpenWallet(e.ctx, twotier.WalletSpec{Operator: e.a, Category: twotier.Category2, HolderName: "兰州拉面", Merchant: true, MerchantCategory: "5812", Region: "Shanghai"})
	must(tb, err)
	e.payerA = e.holder(e.a)
	e.payerB = e.holder(e.b)
	e.supplyOK("setup")
	return e
}

// openStore opens a merchant store on the test's database: another one
// than e.store, as another process would.
func (e *env) openStore() merchantStore {
	e.tb.Helper()
	target := e.dsn
	if target == "" {
		target = filepath.Join(e.dir, "merchant.db")
	}
	s, err := merchantsql.Open(e.ctx, target)
	must(e.tb, err)
	return s
}

// phones numbers the phone aliases the helpers make up.
var phones atomic.Int64

func (e *env) holder(op tongbao.ID) twotier.Wallet {
	e.tb.Helper()
	w, err := e.svc.OpenWallet(e.ctx, twotier.WalletSpec{Operator: op, Category: twotier.Category2, HolderName: "张三丰", Phone: fmt.Sprintf("+86%011d", phones.Add(1))})
	must(e.tb, err)
	_, err = e.svc.TopUp(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.ID, Amount: holderFunds})
	must(e.tb, err)
	return w
}

// request creates an open request at the shop for amount, expiring in a
// quarter of an hour.
func (e *env) request(order string, amount tongbao.Amount) merchant.Request {
	e.tb.Helper()
	r, err := e.merchant.CreateRequest(e.ctx, merchant.RequestSpec{
		Merchant: e.shop.ID, OrderID: order, Amount: amount, ExpiresAt: e.clock.Now().Add(15 * time.Minute),
		MerchantName: "Noodle Shop", MerchantCity: "Shanghai",
	})
	must(e.tb, err)
	return r
}

// paid creates a request and pays it from payer.
func (e *env) paid(order string, amount tongbao.Amount, payer twotier.Wallet) merchant.Request {
	e.tb.Helper()
	r := e.request(order, amount)
	r, err := e.merchant.PayRequest(e.ctx, r.ID, payer.ID)
	must(e.tb, err)
	return r
}

func (e *env) balance(id tongbao.ID) tongbao.Amount {
	e.tb.Helper()
	b, err := e.svc.Balance(e.ctx, id)
	must(e.tb, err)
	return b
}

// balances returns the balances of the shop and both payers.
func (e *env) balances() map[tongbao.ID]tongbao.Amount {
	e.tb.Helper()
	m := make(map[tongbao.ID]tongbao.Amount)
	for _, w := range []twotier.Wallet{e.shop, e.payerA, e.payerB} {
		m[w.ID] = e.balance(w.ID)
	}
	return m
}

// total is what the shop and both payers hold together: payments and
// refunds only move money among them.
func (e *env) total() tongbao.Amount {
	e.tb.Helper()
	var sum tongbao.Amount
	for _, b := range e.balances() {
		sum += b
	}
	return sum
}

// supplyOK fails the test unless the supply check holds.
func (e *env) supplyOK(step string) {
	e.tb.Helper()
	e.d.SupplyOK(e.tb, step)
}

// unchanged fails the test unless the balances are still before.
func (e *env) unchanged(step string, before map[tongbao.ID]tongbao.Amount) {
	e.tb.Helper()
	for id, b := range e.balances() {
		if b != before[id] {
			e.tb.Fatalf("after %s: balance of %v is %v; want %v", step, id, b, before[id])
		}
	}
}

// The shared helpers of the domain tests.
var (
	must     = domaintest.Must
	wantCode = domaintest.WantCode
)
