// Package domaintest opens the ledger and the two-tier domain for the
// tests of the domain packages built on them (merchant, scenario): on
// SQLite files in the test's own directory, or, when
// TONGBAO_TEST_POSTGRES names a database, in a schema of the test's own
// in it; on a manual clock, with a central bank and two operators, A and
// B, each with reserves and issued currency.
package domaintest

import (
	"context"
	"errors"
	"path/filepath"
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

// The amounts every Env starts with, in fen: each operator's reserves,
// the currency issued to it and its net debit cap.
const (
	Reserves    tongbao.Amount = 1_000_000_00
	Issued      tongbao.Amount = 500_000_00
	NetDebitCap tongbao.Amount = 50_000_00
)

// Env is the ledger and the two-tier service of one test.
type Env struct {
	Ctx      context.Context
	Clock    *tongbao.ManualClock
	Ledger   *ledger.Ledger
	Payments *twotier.Service
	// A and B are the operators.
	A, B tongbao.ID
	// Dir is the test's directory (where a domain's SQLite store goes);
	// DSN the PostgreSQL schema's connection string, empty on SQLite.
	Dir, DSN string
}

// Open opens an Env whose clock starts at start; everything is closed
// when the test ends.
func Open(tb testing.TB, start time.Time) *Env {
	tb.Helper()
	ctx := context.Background()
	e := &Env{Ctx: ctx, Dir: tb.TempDir(), Clock: tongbao.NewManualClock(start), A: tongbao.IDFromUint64(2), B: tongbao.IDFromUint64(3)}
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	if storetest.Postgres() != "" {
		var err error
		e.DSN, err = storetest.TempSchema(tb)
		must(err)
	}
	var (
		lstore ledger.Store
		err    error
	)
	if e.DSN != "" {
		lstore, err = postgres.Open(ctx, e.DSN)
	} else {
		lstore, err = sqlite.Open(ctx, filepath.Join(e.Dir, "ledger.db"))
	}
	must(err)
	tb.Cleanup(func() { lstore.Close() })
	e.Ledger, err = ledger.Open(ctx, ledger.Config{Store: lstore, Clock: e.Clock})
	must(err)
	tstore, err := twotiersql.Open(ctx, e.Target("twotier.db"))
	must(err)
	tb.Cleanup(func() { tstore.Close() })
	tb.Cleanup(func() { e.Ledger.Close() }) // cleanups run last first: the ledger before its store
	e.Payments, err = twotier.Open(ctx, twotier.Config{Ledger: e.Ledger, Store: tstore, Clock: e.Clock})
	must(err)
	must(e.Payments.CreateCentralBank(ctx, tongbao.IDFromUint64(1), "People's Bank"))
	for _, op := range []tongbao.ID{e.A, e.B} {
		must(e.Payments.AddOperator(ctx, op, "Operator "+op.String()[:4], NetDebitCap))
		_, err := e.Payments.DepositReserves(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: op, Amount: Reserves})
		must(err)
		_, err = e.Payments.Issue(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: op, Amount: Issued})
		must(err)
	}
	return e
}

// Target is where a domain store of the Env goes: the PostgreSQL schema
// on PostgreSQL, else the SQLite file of that name in the test's
// directory.
func (e *Env) Target(file string) string {
	if e.DSN != "" {
		return e.DSN
	}
	return filepath.Join(e.Dir, file)
}

// SupplyOK fails the test unless the supply check holds.
func (e *Env) SupplyOK(tb testing.TB, step string) {
	tb.Helper()
	r, err := e.Payments.SupplyReport(e.Ctx)
	Must(tb, err)
	if !r.OK {
		tb.Fatalf("after %s: supply check failed: %+v", step, r)
	}
}

// Must fails the test on an error.
func Must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// WantCode fails the test unless err has the code, and is sentinel when
// one is given.
func WantCode(tb testing.TB, what string, err error, code string, sentinel error) {
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
