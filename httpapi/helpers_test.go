package httpapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/contract/contractsql"
	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/httpapi/keysql"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/merchant"
	"github.com/tongbao/tongbao/merchant/merchantsql"
	"github.com/tongbao/tongbao/offline"
	"github.com/tongbao/tongbao/offline/offlinesql"
	"github.com/tongbao/tongbao/scenario"
	"github.com/tongbao/tongbao/scenario/scenariosql"
	"github.com/tongbao/tongbao/sqlite"
	"github.com/tongbao/tongbao/twotier"
	"github.com/tongbao/tongbao/twotier/twotiersql"
)

// yuan is one CNY in fen.
const yuan tongbao.Amount = 100

// env is a real server on 127.0.0.1:0 over SQLite in the test's own
// directory, and a client with the central bank's key.
type env struct {
	tb   testing.TB
	ctx  context.Context
	base string
	srv  *httpapi.Server
	svc  *twotier.Service
	// contracts is the server's contract service, for a test to fire its
	// timers.
	contracts *contract.Service
	// offline is the server's offline service, for a test to run the
	// node's periodic work (ReturnDue, RetryPending).
	offline *offline.Service
	cb      *client.Client
	// cfg is what srv was made with, for a test to make another server
	// over the same services (as a restart does).
	cfg httpapi.Config
	// secret is the central bank's key.
	secret string
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	return newEnvClock(tb, nil)
}

// newEnvClock is newEnv with the ledger and the two-tier service on clock
// (the system clock when nil), so a test can move the server's time.
func newEnvClock(tb testing.TB, clock tongbao.Clock) *env {
	tb.Helper()
	return newEnvConfig(tb, clock, nil)
}

// newEnvConfig is newEnvClock with cfgs changing the server's
// configuration before the server is made.
func newEnvConfig(tb testing.TB, clock tongbao.Clock, cfgs func(*httpapi.Config)) *env {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	lstore, err := sqlite.Open(ctx, filepath.Join(dir, "ledger.db"))
	must(tb, err)
	l, err := ledger.Open(ctx, ledger.Config{Store: lstore, Clock: clock})
	must(tb, err)
	store, err := twotiersql.Open(ctx, filepath.Join(dir, "twotier.db"))
	must(tb, err)
	svc, err := twotier.Open(ctx, twotier.Config{Ledger: l, Store: store, Clock: clock})
	must(tb, err)
	mstore, err := merchantsql.Open(ctx, filepath.Join(dir, "merchant.db"))
	must(tb, err)
	m, err := merchant.New(merchant.Config{Payments: svc, Store: mstore, Clock: clock})
	must(tb, err)
	sstore, err := scenariosql.Open(ctx, filepath.Join(dir, "scenario.db"))
	must(tb, err)
	sc, err := scenario.New(scenario.Config{Payments: svc, Store: sstore, Clock: clock})
	must(tb, err)
	cstore, err := contractsql.Open(ctx, filepath.Join(dir, "contract.db"))
	must(tb, err)
	cs, err := contract.New(contract.Config{Payments: svc, Store: cstore, Clock: clock})
	must(tb, err)
	ostore, err := offlinesql.Open(ctx, filepath.Join(dir, "offline.db"))
	must(tb, err)
	off, err := offline.New(ctx, offline.Config{Payments: svc, Store: ostore, Clock: clock})
	must(tb, err)
	kstore, err := keysql.Open(ctx, filepath.Join(dir, "keys.db"))
	must(tb, err)
	tb.Cleanup(func() { kstore.Close() })
	keys, err := httpapi.NewKeys(ctx, kstore)
	must(tb, err)
	secret, err := httpapi.Bootstrap(ctx, svc, keys, "People's Bank")
	must(tb, err)
	cfg := httpapi.Config{Service: svc, Ledger: l, Merchant: m, Scenario: sc, Contracts: cs, Offline: off, Keys: keys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock}
	if cfgs != nil {
		cfgs(&cfg)
	}
	srv, err := httpapi.New(cfg)
	must(tb, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(tb, err)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	tb.Cleanup(func() {
		hs.Close()
		l.Close()
		lstore.Close()
		store.Close()
		mstore.Close()
		sstore.Close()
		cstore.Close()
		ostore.Close()
	})
	base := "http://" + ln.Addr().String()
	return &env{tb: tb, ctx: ctx, base: base, srv: srv, svc: svc, contracts: cs, offline: off, cb: client.New(base, secret, nil), cfg: cfg, secret: secret}
}

// restart serves the same services from a new server, as after a restart
// of the process (the keys and the books are kept, the memory of answers
// is not), and returns its base URL.
func (e *env) restart() string {
	e.tb.Helper()
	cfg := e.cfg
	cfg.Registry = nil
	srv, err := httpapi.New(cfg)
	must(e.tb, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(e.tb, err)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	e.tb.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// supplyOK checks the supply from the API and fails the test if it does
// not hold.
func (e *env) supplyOK(step string) wire.Supply {
	e.tb.Helper()
	s, err := e.cb.Supply(e.ctx)
	if err != nil {
		e.tb.Fatalf("after %s: supply: %v", step, err)
	}
	if !s.OK {
		e.tb.Fatalf("after %s: supply does not hold: %+v", step, s)
	}
	return s
}

// operator authorises an operator with reserves and issued currency, and
// returns its id and an admin client.
func (e *env) operator(name string, netDebitCap, issue tongbao.Amount) (tongbao.ID, *client.Client) {
	e.tb.Helper()
	op, err := e.cb.CreateOperator(e.ctx, client.NewKey(), wire.CreateOperator{Name: name, NetDebitCap: wire.Amount(netDebitCap)})
	must(e.tb, err)
	if issue > 0 {
		_, err = e.cb.DepositReserves(e.ctx, client.NewKey(), op.ID, issue)
		must(e.tb, err)
		_, err = e.cb.Issue(e.ctx, client.NewKey(), op.ID, issue)
		must(e.tb, err)
	}
	k, err := e.cb.CreateKey(e.ctx, wire.CreateKey{Role: wire.RoleOperatorAdmin, Operator: &op.ID})
	must(e.tb, err)
	return op.ID, e.cb.WithKey(k.Secret)
}

// wallet opens a wallet with admin and returns it with a holder client.
func (e *env) wallet(admin *client.Client, op tongbao.ID, spec wire.OpenWallet) (wire.Wallet, *client.Client) {
	e.tb.Helper()
	w, err := admin.OpenWallet(e.ctx, client.NewKey(), op, spec)
	must(e.tb, err)
	k, err := admin.CreateKey(e.ctx, wire.CreateKey{Role: wire.RoleHolder, Wallet: &w.ID})
	must(e.tb, err)
	return w, admin.WithKey(k.Secret)
}

// balance reads a wallet's balance through admin.
func (e *env) balance(admin *client.Client, id tongbao.ID) tongbao.Amount {
	e.tb.Helper()
	w, err := admin.Wallet(e.ctx, id)
	must(e.tb, err)
	return tongbao.Amount(*w.Balance)
}

// wantProblem fails unless err is a problem of the named type.
func wantProblem(tb testing.TB, what string, err error, name string) {
	tb.Helper()
	var p *wire.Problem
	if !errors.As(err, &p) {
		tb.Fatalf("%s: got %v; want problem %s", what, err, name)
	}
	if got := client.ProblemName(err); got != name {
		tb.Fatalf("%s: got problem %s (%s); want %s", what, got, p.Detail, name)
	}
}
