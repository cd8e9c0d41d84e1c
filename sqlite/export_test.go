package sqlite

import (
	"database/sql"
	"testing"
)

// CreateAtVersion creates a database at path with the migrations up to
// version only, as an older release would have left it, and runs stmts.
func CreateAtVersion(t *testing.T, path string, version int, stmts ...string) {
	t.Helper()
	db := sql.OpenDB(&connector{dsn: dsn(path, true), pragmas: writePragmas})
	defer db.Close()
	if err := migrate(t.Context(), db, version); err != nil {
		t.Fatalf("migrate to %d: %v", version, err)
	}
	for _, stmt := range stmts {
		if _, err := db.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// WritePragma returns the value of a pragma on the write connection.
func WritePragma(t *testing.T, s *Store, name string) string {
	t.Helper()
	var v string
	if err := s.write.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// ReadPragma returns the value of a pragma on a read connection.
func ReadPragma(t *testing.T, s *Store, name string) string {
	t.Helper()
	var v string
	if err := s.read.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// SchemaVersions returns the rows of schema_version.
func SchemaVersions(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), "SELECT version FROM schema_version ORDER BY version")
	if err != nil {
		t.Fatalf("schema_version: %v", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("schema_version: %v", err)
		}
		vs = append(vs, v)
	}
	return vs
}
