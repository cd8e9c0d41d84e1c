package postgres

import (
	"context"
	"testing"
)

// WriteSetting returns a setting of the write connection.
func WriteSetting(t *testing.T, s *Store, name string) string {
	t.Helper()
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	var v string
	if err := s.write.QueryRow(context.Background(), `SELECT current_setting($1)`, name).Scan(&v); err != nil {
		t.Fatalf("setting %s: %v", name, err)
	}
	return v
}

// SchemaVersions returns the ledger's migrations applied, in order.
func SchemaVersions(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT version FROM schema_version WHERE component = $1 ORDER BY version`, ledgerComponent)
	if err != nil {
		t.Fatalf("schema versions: %v", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("schema versions: %v", err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("schema versions: %v", err)
	}
	return vs
}
