package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"

	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/postgres"
	"github.com/tongbao/tongbao/sqlite"
)

// benchDBUsage is the help of the benchmarks' --db flag.
const benchDBUsage = `storage engine: sqlite (a file in a temporary folder), or a PostgreSQL URL
such as postgres://user@127.0.0.1:5432/tongbao (a temporary schema in that database)`

// checkBenchDB validates a --db flag.
func checkBenchDB(db string) error {
	if db == "sqlite" || postgres.IsURL(db) {
		return nil
	}
	return fmt.Errorf("--db %q: want sqlite or a postgres:// URL", db)
}

// benchEngine names the engine of a --db flag without its credentials, for
// the report.
func benchEngine(db string) string {
	if postgres.IsURL(db) {
		return "postgres"
	}
	return db
}

// openBenchStore opens an empty ledger store for a benchmark: a SQLite file
// in dir, or a new schema in the PostgreSQL database of db, which drop
// removes.
func openBenchStore(ctx context.Context, db, dir string) (store ledger.Store, where string, drop func() error, err error) {
	if !postgres.IsURL(db) {
		path := filepath.Join(dir, "ledger.db")
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, "", nil, err
		}
		return s, dir, func() error { return nil }, nil
	}
	var b [8]byte
	rand.Read(b[:])
	schema := "tongbao_bench_" + hex.EncodeToString(b[:])
	dsn, err := postgres.CreateSchema(ctx, db, schema)
	if err != nil {
		return nil, "", nil, err
	}
	drop = func() error { return postgres.DropSchema(context.Background(), db, schema) }
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		drop()
		return nil, "", nil, err
	}
	return s, "PostgreSQL schema " + schema, drop, nil
}
