package storetest

import (
	"path/filepath"
	"testing"
)

// Database is a database the conformance suite of a domain store runs
// on (see twotiertest, merchanttest, scenariotest, keystest): SQLite
// always, PostgreSQL when PostgresEnv names one.
type Database struct {
	Name string
	// Target returns a new, empty database of the test's own, as a domain
	// store's Open takes it: a SQLite file named file in the test's
	// directory, or a connection string on a schema of the test's own
	// (dropped when the test ends). Each call returns another.
	Target func(t *testing.T, file string) string
}

// Databases returns the databases the domain stores' suites run on.
func Databases() []Database {
	dbs := []Database{{Name: "SQLite", Target: func(t *testing.T, file string) string {
		return filepath.Join(t.TempDir(), file)
	}}}
	if Postgres() != "" {
		dbs = append(dbs, Database{Name: "PostgreSQL", Target: func(t *testing.T, _ string) string {
			t.Helper()
			dsn, err := TempSchema(t)
			if err != nil {
				t.Fatal(err)
			}
			return dsn
		}})
	}
	return dbs
}
