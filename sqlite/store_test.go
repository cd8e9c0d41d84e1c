package sqlite_test

import (
	"context"
	"encoding/hex"
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
var schemaVersions = []int{1, 2}

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

// TestMigrateKeepsAccounts opens a database made before accounts had a
// freeze: the migration adds it, unset, and keeps the rest.
func TestMigrateKeepsAccounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	id := tongbao.IDFromUint64(7)
	sqlite.CreateAtVersion(t, path, 1, `INSERT INTO accounts VALUES (
		x'`+hex.EncodeToString(id[:])+`', 'CNY', 3, 1, 100, 1, 2, 3, 4, 5, 6, 7, 8, 20260101, 9, 2026, 10, 42)`)
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	got, err := s.Account(t.Context(), id)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	want := ledger.AccountRecord{
		Account: ledger.Account{ID: id, Currency: tongbao.CNY, Code: 3, Flags: 1, CreditLine: 100,
			Limits: ledger.Limits{BalanceMax: 1, DebitMax: 2, DailyDebitMax: 3, YearlyDebitMax: 4}, Timestamp: 42},
		Balance:  ledger.Balance{DebitsPending: 5, DebitsPosted: 6, CreditsPending: 7, CreditsPosted: 8},
		Counters: ledger.Counters{Day: 20260101, DayDebits: 9, Year: 2026, YearDebits: 10},
	}
	if got != want {
		t.Errorf("after migrating Account =\n%+v; want\n%+v", got, want)
	}
}
