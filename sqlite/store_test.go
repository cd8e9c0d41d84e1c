package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

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

func TestOpenTwiceMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	for i := 0; i < 3; i++ {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if got := sqlite.SchemaVersions(t, s); len(got) != 1 || got[0] != 1 {
			t.Errorf("Open #%d: schema versions %v; want [1]", i+1, got)
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
	if got := sqlite.SchemaVersions(t, s); len(got) != 1 {
		t.Errorf("schema versions %v; want one", got)
	}
}
