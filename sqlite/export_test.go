package sqlite

import (
	"testing"
)

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
