package sqldb_test

import (
	"testing"

	"github.com/tongbao/tongbao/internal/sqldb"
)

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{`VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
		// SQLite's numbered placeholders, for an argument used twice.
		{`WHERE a = ?1 AND b >= ?2 OR c = ?1 AND d < ?12`, `WHERE a = $1 AND b >= $2 OR c = $1 AND d < $12`},
		{`?`, `$1`},
	}
	for _, tt := range tests {
		if got := sqldb.Rebind(tt.in); got != tt.want {
			t.Errorf("Rebind(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestDialectOf(t *testing.T) {
	for target, want := range map[string]sqldb.Dialect{
		"postgres://u@h/db":                 sqldb.Postgres,
		"postgresql://u@h/db?sslmode=false": sqldb.Postgres,
		"/data/twotier.db":                  sqldb.SQLite,
		"twotier.db":                        sqldb.SQLite,
		"postgres.db":                       sqldb.SQLite,
	} {
		if got := sqldb.DialectOf(target); got != want {
			t.Errorf("DialectOf(%q) = %s; want %s", target, got, want)
		}
	}
}
