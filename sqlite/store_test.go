package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/storetest"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/sqlite"
)

func TestStore(t *testing.T) {
	var mu sync.Mutex
	paths := map[*testing.T]string{} // a test that opens twice gets its file back
	storetest.Run(t, func(t *testing.T) ledger.Store {
		mu.Lock()
		path, ok := paths[t]
		if !ok {
			path = filepath.Join(t.TempDir(), "ledger.db")
			paths[t] = path
		}
		mu.Unlock()
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func openTemp(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestDurabilitySettings guards the settings that make a commit durable and
// let reads run beside it.
func TestDurabilitySettings(t *testing.T) {
	s := openTemp(t)
	for _, c := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", "10000"},
	} {
		if got := sqlite.WritePragma(t, s, c.pragma); got != c.want {
			t.Errorf("PRAGMA %s = %q; want %q", c.pragma, got, c.want)
		}
	}
	if got := sqlite.ReadPragma(t, s, "query_only"); got != "1" {
		t.Errorf("read pool PRAGMA query_only = %q; want 1", got)
	}
}

// schemaVersions are the versions of the migrations in migrations/.
var schemaVersions = []int{1}

func TestOpenTwiceMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	for i := 0; i < 3; i++ {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if got := sqlite.SchemaVersions(t, s); !slices.Equal(got, schemaVersions) {
			t.Errorf("Open #%d: schema versions %v; want %v", i+1, got, schemaVersions)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

func TestCommitAfterClose(t *testing.T) {
	s := openTemp(t)
	s.Close()
	if err := s.Commit(t.Context(), &ledger.Batch{}); err == nil {
		t.Errorf("Commit after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenEmptyPath(t *testing.T) {
	if _, err := sqlite.Open(t.Context(), ""); err == nil {
		t.Errorf("Open(\"\") succeeded")
	}
}

// TestOpenAwkwardPath guards the escaping of the file name: the path is
// passed to SQLite as a URI, in which '?', '#' and '%' mean something.
func TestOpenAwkwardPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a b%20c?d#e")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger 1.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if err := s.Commit(t.Context(), &ledger.Batch{}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %s: %v", path, err)
	}
	if got := sqlite.SchemaVersions(t, s); !slices.Equal(got, schemaVersions) {
		t.Errorf("schema versions %v; want %v", got, schemaVersions)
	}
}

// TestLinksPointBack guards the walk of a history: a link that does not
// point to an earlier transfer, which could make a walk go round, fails the
// batch.
func TestLinksPointBack(t *testing.T) {
	s := openTemp(t)
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

// TestHistoryBroken checks that a walk whose link leads to no transfer of
// the account fails rather than pass off the part before as the whole.
func TestHistoryBroken(t *testing.T) {
	s := openTemp(t)
	a, b, c := tongbao.IDFromUint64(1), tongbao.IDFromUint64(2), tongbao.IDFromUint64(3)
	var accounts []ledger.AccountRecord
	for i, id := range []tongbao.ID{a, b, c} {
		accounts = append(accounts, ledger.AccountRecord{Account: ledger.Account{ID: id, Currency: tongbao.CNY, Timestamp: int64(i + 1)}})
	}
	transfer := func(n uint64, debit, credit tongbao.ID, ts, debitPrevious, creditPrevious int64) ledger.PostedTransfer {
		return ledger.PostedTransfer{Transfer: ledger.Transfer{
			ID: tongbao.IDFromUint64(100 + n), DebitAccountID: debit, CreditAccountID: credit, Amount: 1,
			Timestamp: ts, DebitPrevious: debitPrevious, CreditPrevious: creditPrevious,
		}}
	}
	err := s.Commit(t.Context(), &ledger.Batch{Accounts: accounts, Transfers: []ledger.PostedTransfer{
		transfer(1, b, c, 10, 0, 0),
		transfer(2, a, b, 20, 5, 10),  // a's link leads to no transfer
		transfer(3, a, b, 30, 20, 20), // then on to 20
		transfer(4, c, a, 40, 10, 10), // a's link leads to a transfer of b and c
	}})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	for _, from := range []int64{30, 40} {
		if got, err := s.AccountHistory(t.Context(), a, from, 10); err == nil {
			t.Errorf("AccountHistory(from %d) = %d transfers, no error; want an error", from, len(got))
		}
	}
	// Up to the limit, the walk has not reached the break.
	if got, err := s.AccountHistory(t.Context(), a, 30, 2); err != nil || len(got) != 2 {
		t.Errorf("AccountHistory(from 30, limit 2) = %d transfers, %v; want 2, nil", len(got), err)
	}
	if got, err := s.AccountHistory(t.Context(), b, 30, 10); err != nil || len(got) != 3 {
		t.Errorf("AccountHistory(b) = %d transfers, %v; want 3, nil", len(got), err)
	}
}
