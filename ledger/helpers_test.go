package ledger_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/storetest"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/postgres"
	"github.com/tongbao/tongbao/sqlite"
)

// start2026 is a Thursday morning in Shanghai.
var start2026 = time.Date(2026, 3, 5, 9, 0, 0, 0, shanghai())

func shanghai() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}

// failer is what the harness needs of a *testing.T or a *rapid.T.
type failer interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
}

type harness struct {
	t     failer
	dir   string
	clock *tongbao.ManualClock
	store ledger.Store
	l     *ledger.Ledger
	cfg   ledger.Config
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := newHarnessIn(t, t.TempDir())
	t.Cleanup(func() { h.close() })
	return h
}

// newHarnessIn opens a ledger in dir; the caller closes it.
func newHarnessIn(t failer, dir string) *harness {
	h := &harness{t: t, dir: dir, clock: tongbao.NewManualClock(start2026)}
	h.cfg = ledger.Config{Clock: h.clock, ExpiryInterval: time.Hour}
	h.open()
	return h
}

func (h *harness) open() {
	h.t.Helper()
	st, err := openStore(h.t, h.dir)
	if err != nil {
		h.t.Fatalf("open store: %v", err)
	}
	cfg := h.cfg
	cfg.Store = st
	l, err := ledger.Open(context.Background(), cfg)
	if err != nil {
		h.t.Fatalf("open ledger: %v", err)
	}
	h.store, h.l = st, l
}

// openStore opens the store the tests run on, kept in dir: a SQLite file
// in it, or, when TONGBAO_TEST_POSTGRES names a database, a schema of the
// folder's own in that database, the same from any process (the crash
// test's child finds its parent's). The first time a process opens a
// folder's schema it is dropped when t ends, if t can say when.
func openStore(t failer, dir string) (ledger.Store, error) {
	if storetest.Postgres() == "" {
		return sqlite.Open(context.Background(), filepath.Join(dir, "ledger.db"))
	}
	schema := storetest.SchemaFor(dir)
	dsn, err := storetest.CreateSchema(context.Background(), schema)
	if err != nil {
		return nil, err
	}
	if _, seen := schemasOpened.LoadOrStore(schema, true); !seen {
		if c, ok := t.(interface{ Cleanup(func()) }); ok {
			c.Cleanup(func() {
				if err := storetest.DropSchema(context.Background(), schema); err != nil {
					t.Errorf("%v", err)
				}
			})
		}
	}
	if os.Getenv(crashChildEnv) != "" {
		dsn = withApplicationName(dsn, crashChildApp)
	}
	return postgres.Open(context.Background(), dsn)
}

// withApplicationName names the sessions of a connection string, so that
// pg_stat_activity tells them apart.
func withApplicationName(dsn, name string) string {
	if postgres.IsURL(dsn) {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set("application_name", name)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " application_name=" + name
}

// schemasOpened are the schemas openStore has opened in this process.
var schemasOpened sync.Map

func (h *harness) close() {
	if h.l == nil {
		return
	}
	if err := h.l.Close(); err != nil {
		h.t.Errorf("close ledger: %v", err)
	}
	if err := h.store.Close(); err != nil {
		h.t.Errorf("close store: %v", err)
	}
	h.l, h.store = nil, nil
}

// reopen rebuilds the ledger from its store, as after a restart.
func (h *harness) reopen() {
	h.t.Helper()
	h.close()
	h.open()
}

// crash closes the ledger as a crash would, leaving balance rows behind
// the transfers, and reopens it: the engine must replay.
func (h *harness) crash() {
	h.t.Helper()
	if err := h.l.CloseAsCrash(); err != nil {
		h.t.Errorf("close ledger: %v", err)
	}
	if err := h.store.Close(); err != nil {
		h.t.Errorf("close store: %v", err)
	}
	h.l, h.store = nil, nil
	h.open()
}

func (h *harness) accounts(accounts ...ledger.Account) {
	h.t.Helper()
	errs, err := h.l.CreateAccounts(context.Background(), accounts)
	if err != nil {
		h.t.Fatalf("create accounts: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			h.t.Fatalf("create account %d: %v", i, err)
		}
	}
}

func (h *harness) submit(ts ...ledger.Transfer) []ledger.Result {
	h.t.Helper()
	rs, err := h.l.Submit(context.Background(), ts)
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	return rs
}

// must submits one transfer that has to succeed.
func (h *harness) must(t ledger.Transfer) ledger.Result {
	h.t.Helper()
	r := h.submit(t)[0]
	if r.Err != nil {
		h.t.Fatalf("transfer %v: %v", t.ID, r.Err)
	}
	return r
}

// fails submits one transfer that has to fail with want.
func (h *harness) fails(t ledger.Transfer, want error) {
	h.t.Helper()
	before := h.balances()
	r := h.submit(t)[0]
	if !errors.Is(r.Err, want) {
		h.t.Fatalf("transfer %v: got %v; want %v", t.ID, r.Err, want)
	}
	if after := h.balances(); !equalBalances(before, after) {
		h.t.Fatalf("failed transfer changed balances:\nbefore %v\nafter  %v", before, after)
	}
}

func (h *harness) balance(id tongbao.ID) ledger.Balance {
	h.t.Helper()
	a, err := h.l.Account(context.Background(), id)
	if err != nil {
		h.t.Fatalf("account %v: %v", id, err)
	}
	return a.Balance
}

// balances returns every account as the ledger answers queries: as of its
// last commit (the store's balance rows may lag; the engine replays).
func (h *harness) balances() map[tongbao.ID]ledger.AccountRecord {
	h.t.Helper()
	var ids []tongbao.ID
	err := h.store.LoadAccounts(context.Background(), func(a ledger.AccountRecord) error {
		ids = append(ids, a.ID)
		return nil
	})
	if err != nil {
		h.t.Fatalf("load accounts: %v", err)
	}
	accounts, err := h.l.Accounts(context.Background(), ids)
	if err != nil {
		h.t.Fatalf("accounts: %v", err)
	}
	m := map[tongbao.ID]ledger.AccountRecord{}
	for _, a := range accounts {
		m[a.ID] = a
	}
	return m
}

func equalBalances(a, b map[tongbao.ID]ledger.AccountRecord) bool {
	if len(a) != len(b) {
		return false
	}
	for id, x := range a {
		if y, ok := b[id]; !ok || x.Balance != y.Balance {
			return false
		}
	}
	return true
}

// checkInvariants asserts what every state of a ledger must satisfy: per
// currency, posted and pending debits equal credits; no account is below its
// floor or past its balance cap.
func checkInvariants(t failer, accounts map[tongbao.ID]ledger.AccountRecord) {
	t.Helper()
	type sums struct{ dp, dq, cp, cq tongbao.Amount }
	per := map[tongbao.Currency]*sums{}
	for _, a := range accounts {
		s := per[a.Currency]
		if s == nil {
			s = &sums{}
			per[a.Currency] = s
		}
		s.dp += a.DebitsPosted
		s.dq += a.DebitsPending
		s.cp += a.CreditsPosted
		s.cq += a.CreditsPending
		if a.DebitsPending < 0 || a.CreditsPending < 0 || a.DebitsPosted < 0 || a.CreditsPosted < 0 {
			t.Fatalf("account %v has a negative total: %+v", a.ID, a.Balance)
		}
		if a.Flags&ledger.FlagDebitsMustNotExceedCredits != 0 && a.DebitsPosted+a.DebitsPending-a.CreditsPosted > a.CreditLine {
			t.Fatalf("account %v is below its floor: %+v, credit line %v", a.ID, a.Balance, a.CreditLine)
		}
		if a.Flags&ledger.FlagCreditsMustNotExceedDebits != 0 && a.CreditsPosted+a.CreditsPending-a.DebitsPosted > a.CreditLine {
			t.Fatalf("account %v is past its floor: %+v", a.ID, a.Balance)
		}
		if max := a.Limits.BalanceMax; max > 0 && a.Flags&ledger.FlagCreditsMustNotExceedDebits == 0 && a.CreditsPosted+a.CreditsPending-a.DebitsPosted > max {
			t.Fatalf("account %v is past its balance cap %v: %+v", a.ID, max, a.Balance)
		}
	}
	for c, s := range per {
		if s.dp != s.cp || s.dq != s.cq {
			t.Fatalf("currency %s does not balance: posted debits %v credits %v, pending debits %v credits %v", c, s.dp, s.cp, s.dq, s.cq)
		}
	}
}

func acct(n uint64, flags ledger.AccountFlags) ledger.Account {
	return ledger.Account{ID: tongbao.IDFromUint64(n), Currency: tongbao.CNY, Code: 1, Flags: flags}
}

func xfer(id, debit, credit uint64, amount tongbao.Amount) ledger.Transfer {
	return ledger.Transfer{
		ID:              tongbao.IDFromUint64(id),
		DebitAccountID:  tongbao.IDFromUint64(debit),
		CreditAccountID: tongbao.IDFromUint64(credit),
		Amount:          amount,
		Code:            1,
	}
}
