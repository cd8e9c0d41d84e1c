package contract_test

import (
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/contract/contractsql"
	"github.com/tongbao/tongbao/internal/domaintest"
	"github.com/tongbao/tongbao/twotier"
)

// start is where every test's manual clock begins: a Monday morning in
// Shanghai.
var start = time.Date(2027, 3, 1, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))

type env struct {
	*domaintest.Env
	t     testing.TB
	store *contractsql.Store
	svc   *contract.Service
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	de := domaintest.Open(tb, start)
	e := &env{Env: de, t: tb}
	e.reopen()
	return e
}

// reopen opens the contract store and service again, as a restart would.
func (e *env) reopen() {
	e.t.Helper()
	if e.store != nil {
		e.store.Close()
	}
	st, err := contractsql.Open(e.Ctx, e.Target("contract.db"))
	domaintest.Must(e.t, err)
	e.t.Cleanup(func() { st.Close() })
	e.store = st
	e.svc, err = contract.New(contract.Config{Payments: e.Payments, Store: st, Clock: e.Clock})
	domaintest.Must(e.t, err)
}

// wallet opens a wallet at operator A with money in it.
func (e *env) wallet(funds tongbao.Amount) tongbao.ID {
	e.t.Helper()
	w, err := e.Payments.OpenWallet(e.Ctx, twotier.WalletSpec{Operator: e.A, Category: twotier.Category2, HolderName: "张三"})
	domaintest.Must(e.t, err)
	if funds > 0 {
		_, err = e.Payments.TopUp(e.Ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.ID, Amount: funds})
		domaintest.Must(e.t, err)
	}
	return w.ID
}

// merchant opens a merchant wallet at operator A.
func (e *env) merchant(mcc, region string) tongbao.ID {
	e.t.Helper()
	w, err := e.Payments.OpenWallet(e.Ctx, twotier.WalletSpec{Operator: e.A, Category: twotier.Category2, HolderName: "商户", Merchant: true, MerchantCategory: mcc, Region: region})
	domaintest.Must(e.t, err)
	return w.ID
}

func (e *env) balance(id tongbao.ID) tongbao.Amount {
	e.t.Helper()
	b, err := e.Payments.WalletBalance(e.Ctx, id)
	domaintest.Must(e.t, err)
	return b.Available()
}

func (e *env) balances(ids ...tongbao.ID) []tongbao.Amount {
	out := make([]tongbao.Amount, len(ids))
	for i, id := range ids {
		out[i] = e.balance(id)
	}
	return out
}

// deploy deploys a template at operator A.
func (e *env) deploy(template string, values map[string]any) contract.Contract {
	e.t.Helper()
	c, _, err := e.svc.Deploy(e.Ctx, contract.DeploySpec{Operator: e.A, Template: template, Params: values, By: "test"})
	domaintest.Must(e.t, err)
	return c
}

// acceptAll has every debited party accept.
func (e *env) acceptAll(c contract.Contract, parties ...string) contract.Contract {
	e.t.Helper()
	var err error
	for _, p := range parties {
		c, err = e.svc.Accept(e.Ctx, c.ID, p, c.Hash, "test")
		domaintest.Must(e.t, err)
	}
	return c
}

func (e *env) advance(d time.Duration) int {
	e.t.Helper()
	e.Clock.Advance(d)
	n, err := e.svc.RunDue(e.Ctx)
	domaintest.Must(e.t, err)
	return n
}

func (e *env) contract(id tongbao.ID) contract.Contract {
	e.t.Helper()
	c, err := e.svc.Contract(e.Ctx, id)
	domaintest.Must(e.t, err)
	return c
}

func yuan(s string) tongbao.Amount {
	a, err := tongbao.ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return a
}
