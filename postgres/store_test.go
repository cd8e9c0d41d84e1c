package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/storetest"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/postgres"
)

// needPostgres skips the test when no database is named. Only TestStore
// says how to run them, so that `go test ./...` shows the advice once.
func needPostgres(t *testing.T) {
	t.Helper()
	if storetest.Postgres() == "" {
		t.Skip("see TestStore")
	}
}

// tempDSN returns a connection string on a schema of the test's own.
func tempDSN(t *testing.T) string {
	t.Helper()
	dsn, err := storetest.TempSchema(t)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

func openTemp(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	dsn := tempDSN(t)
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

// TestStore runs the conformance suite, each test in a schema of its own.
func TestStore(t *testing.T) {
	if storetest.Postgres() == "" {
		t.Skip(storetest.PostgresHowTo)
	}
	var mu sync.Mutex
	dsns := map[*testing.T]string{} // a test that opens twice gets its schema back
	storetest.Run(t, func(t *testing.T) ledger.Store {
		mu.Lock()
		dsn, ok := dsns[t]
		mu.Unlock()
		if !ok {
			dsn = tempDSN(t)
			mu.Lock()
			dsns[t] = dsn
			mu.Unlock()
		}
		s, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestDurabilitySettings guards what makes a commit durable: the write
// connection commits with synchronous_commit on even where the role's
// default is off, and a server without fsync is refused.
func TestDurabilitySettings(t *testing.T) {
	needPostgres(t)
	// A connection that asks for synchronous_commit off, as a careless
	// role or database default would.
	dsn := tempDSN(t)
	if strings.Contains(dsn, "://") {
		dsn += "&synchronous_commit=off"
	} else {
		dsn += " synchronous_commit=off"
	}
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if got := postgres.WriteSetting(t, s, "synchronous_commit"); got != "on" {
		t.Errorf("write connection synchronous_commit = %q; want on", got)
	}
	if got := postgres.WriteSetting(t, s, "fsync"); got != "on" {
		t.Errorf("fsync = %q; want on", got)
	}
}

func TestOpenTwiceMigratesOnce(t *testing.T) {
	needPostgres(t)
	dsn := tempDSN(t)
	want := []int{1, 2}
	for i := 0; i < 3; i++ {
		s, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if got := postgres.SchemaVersions(t, s); !slices.Equal(got, want) {
			t.Errorf("Open #%d: schema versions %v; want %v", i+1, got, want)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// TestOpenConcurrently starts several stores on one empty schema at once,
// as two processes of a failover pair do: the migrations run once.
func TestOpenConcurrently(t *testing.T) {
	needPostgres(t)
	dsn := tempDSN(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Open: %v", err)
	}
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := postgres.SchemaVersions(t, s); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("schema versions %v; want [1 2]", got)
	}
}

func TestCommitAfterClose(t *testing.T) {
	needPostgres(t)
	s, _ := openTemp(t)
	s.Close()
	if err := s.Commit(t.Context(), &ledger.Batch{}); err == nil {
		t.Errorf("Commit after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenEmptyDSN(t *testing.T) {
	if _, err := postgres.Open(t.Context(), ""); err == nil {
		t.Errorf("Open(\"\") succeeded")
	}
}

// TestLinksPointBack guards the walk of a history: a link that does not
// point to an earlier transfer, which could make a walk go round, fails the
// batch.
func TestLinksPointBack(t *testing.T) {
	needPostgres(t)
	s, _ := openTemp(t)
	a, b := tongbao.IDFromUint64(1), tongbao.IDFromUint64(2)
	err := s.Commit(t.Context(), &ledger.Batch{Accounts: []ledger.AccountRecord{
		{Account: ledger.Account{ID: a, Currency: tongbao.CNY, Timestamp: 1}},
		{Account: ledger.Account{ID: b, Currency: tongbao.CNY, Timestamp: 2}},
	}})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	for _, c := range []struct {
		name                          string
		debitPrevious, creditPrevious int64
	}{
		{"debit link to itself", 10, 0},
		{"credit link to itself", 0, 10},
		{"debit link forward", 11, 0},
		{"credit link forward", 0, 11},
		{"negative link", -1, 0},
	} {
		tr := ledger.PostedTransfer{Transfer: ledger.Transfer{
			ID: tongbao.IDFromUint64(100), DebitAccountID: a, CreditAccountID: b, Amount: 1, Timestamp: 10,
			DebitPrevious: c.debitPrevious, CreditPrevious: c.creditPrevious,
		}}
		if err := s.Commit(t.Context(), &ledger.Batch{Transfers: []ledger.PostedTransfer{tr}}); err == nil {
			t.Errorf("%s: Commit succeeded; want an error", c.name)
		}
	}
	if _, err := s.Transfer(t.Context(), tongbao.IDFromUint64(100)); !errors.Is(err, ledger.ErrTransferNotFound) {
		t.Errorf("Transfer after the failed commits: error = %v; want ErrTransferNotFound", err)
	}
}
