package twotier_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/storetest"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/postgres"
	"github.com/tongbao/tongbao/sqlite"
	"github.com/tongbao/tongbao/twotier"
	"github.com/tongbao/tongbao/twotier/twotiersql"
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

// env is a central bank and two operators, A and B, on a real ledger and
// the domain's store: SQLite files in a directory of the test's own, or,
// when TONGBAO_TEST_POSTGRES names a database, a schema of the test's own
// in it.
type env struct {
	tb     testing.TB
	ctx    context.Context
	dir    string
	clock  *tongbao.ManualClock
	ledger *ledger.Ledger
	lstore ledger.Store
	store  domainStore
	// dsn is the PostgreSQL schema's connection string; empty on SQLite.
	dsn string
	// batchMax is the ledger's BatchMax; zero for its default.
	batchMax int
	svc      *twotier.Service
	cb       tongbao.ID
	a, b     tongbao.ID
}

// domainStore is the domain's store of either kind.
type domainStore interface {
	twotier.Store
	Close() error
}

// netDebitCap is the operators' net debit cap in the tests.
const netDebitCap = 50_000 * yuan

func newEnv(tb testing.TB, start time.Time) *env {
	tb.Helper()
	e := &env{tb: tb, ctx: context.Background(), dir: tb.TempDir(), clock: tongbao.NewManualClock(start),
		cb: tongbao.IDFromUint64(1), a: tongbao.IDFromUint64(2), b: tongbao.IDFromUint64(3)}
	if storetest.Postgres() != "" {
		var err error
		e.dsn, err = storetest.TempSchema(tb)
		must(tb, err)
	}
	e.open()
	tb.Cleanup(e.close)
	must(tb, e.svc.CreateCentralBank(e.ctx, e.cb, "People's Bank"))
	must(tb, e.svc.AddOperator(e.ctx, e.a, "Operator A", netDebitCap))
	must(tb, e.svc.AddOperator(e.ctx, e.b, "Operator B", netDebitCap))
	return e
}

func (e *env) open() {
	e.tb.Helper()
	var err error
	if e.dsn != "" {
		e.lstore, err = postgres.Open(e.ctx, e.dsn)
	} else {
		e.lstore, err = sqlite.Open(e.ctx, filepath.Join(e.dir, "ledger.db"))
	}
	must(e.tb, err)
	e.ledger, err = ledger.Open(e.ctx, ledger.Config{Store: e.lstore, Clock: e.clock, BatchMax: e.batchMax})
	must(e.tb, err)
	target := e.dsn
	if target == "" {
		target = filepath.Join(e.dir, "twotier.db")
	}
	e.store, err = twotiersql.Open(e.ctx, target)
	must(e.tb, err)
	e.svc, err = twotier.Open(e.ctx, twotier.Config{Ledger: e.ledger, Store: e.store, Clock: e.clock})
	must(e.tb, err)
}

func (e *env) close() {
	if e.ledger == nil {
		return
	}
	e.ledger.Close()
	e.lstore.Close()
	e.store.Close()
	e.ledger = nil
}

// restart closes everything and opens it again from the files.
func (e *env) restart() {
	e.tb.Helper()
	e.close()
	e.open()
}

// phones numbers the phone aliases the helpers make up.
var phones atomic.Int64

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// fund deposits reserves at both operators and issues part of them.
func (e *env) fund(reserves, issue tongbao.Amount) {
	e.tb.Helper()
	for _, op := range []tongbao.ID{e.a, e.b} {
		_, err := e.svc.DepositReserves(e.ctx, twotier.Operation{ID: tongbao.NewID(), Operator: op, Amount: reserves})
		must(e.tb, err)
		_, err = e.svc.Issue(e.ctx, twotier.Operation{ID: tongbao.NewID(), Operator: op, Amount: issue})
		must(e.tb, err)
	}
}

func (e *env) wallet(op tongbao.ID, c twotier.Category, phone string) twotier.Wallet {
	e.tb.Helper()
	if phone == "" && c == twotier.Category4 {
		phone = fmt.Sprintf("+86%011d", phones.Add(1))
	}
	spec := twotier.WalletSpec{Operator: op, Category: c, HolderName: "张三丰", Phone: phone}
	if c == twotier.Category1 {
		spec.HolderLimits = &ledger.Limits{BalanceMax: 10_000_000 * yuan, DebitMax: 1_000_000 * yuan}
	}
	w, err := e.svc.OpenWallet(e.ctx, spec)
	must(e.tb, err)
	return w
}

func (e *env) topUp(w twotier.Wallet, amount tongbao.Amount) {
	e.tb.Helper()
	_, err := e.svc.TopUp(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.ID, Amount: amount})
	must(e.tb, err)
}

func (e *env) pay(from, to twotier.Wallet, amount tongbao.Amount) (twotier.PaymentResult, error) {
	return e.svc.Pay(e.ctx, twotier.Payment{ID: tongbao.NewID(), From: from.ID, To: to.ID, Amount: amount})
}

func (e *env) balance(id tongbao.ID) tongbao.Amount {
	e.tb.Helper()
	b, err := e.svc.Balance(e.ctx, id)
	must(e.tb, err)
	return b
}

// supplyOK fails the test unless the supply check holds; it returns the
// report.
func (e *env) supplyOK(step string) twotier.SupplyReport {
	e.tb.Helper()
	r, err := e.svc.SupplyReport(e.ctx)
	must(e.tb, err)
	if !r.OK {
		e.tb.Fatalf("after %s: supply check failed: %+v", step, r)
	}
	var sum tongbao.Amount
	for _, o := range r.Operators {
		sum += o.Liabilities
	}
	if sum != r.Issued {
		e.tb.Fatalf("after %s: liabilities %v; issued %v", step, sum, r.Issued)
	}
	return r
}

// snapshot returns the balances of every account the tests look at.
func (e *env) snapshot(ids ...tongbao.ID) map[tongbao.ID]tongbao.Amount {
	e.tb.Helper()
	m := make(map[tongbao.ID]tongbao.Amount)
	for _, op := range []tongbao.ID{e.a, e.b} {
		as, err := e.svc.AccountsOf(op)
		must(e.tb, err)
		for _, id := range []tongbao.ID{as.Issued, as.CentralClearing, as.RTGS, as.Backing, as.Reserve, as.Vault, twotier.ClearingAccount(op, e.svc.CurrentWindow())} {
			m[id] = e.balance(id)
		}
	}
	for _, id := range ids {
		m[id] = e.balance(id)
	}
	return m
}

func wantCode(tb testing.TB, what string, err error, code string, sentinel error) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%s: got no error; want %s", what, code)
	}
	if got := tongbao.ErrorCode(err); got != code {
		tb.Fatalf("%s: got code %q (%v); want %q", what, got, err, code)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		tb.Fatalf("%s: got %v; want %v", what, err, sentinel)
	}
}
