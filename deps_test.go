package tongbao_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the vocabulary and the engine free of storage and
// network code: they may not import a database, a driver or HTTP, so the
// money rules are written once, above every adapter.
func TestDependencies(t *testing.T) {
	forbidden := []string{"database/sql", "net/http", "github.com/mattn/go-sqlite3", "modernc.org/sqlite", "github.com/jackc/pgx"}
	for _, pkg := range []string{".", "./ledger", "./twotier", "./merchant", "./scenario"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
}
