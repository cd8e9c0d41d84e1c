package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
)

// domainPragmas set up the connection of a domain store's file: the same
// durability as the ledger's (WAL, synchronous=FULL: a record the domain
// was told is stored survives a crash of the machine).
var domainPragmas = []string{
	"busy_timeout = " + strconv.Itoa(BusyTimeoutMs),
	// The write connection's page cache, as the ledger's: a busy domain
	// store (the contracts' invocations, the offline tokens a sync
	// stores) touches index pages all over its file.
	"cache_size = -" + strconv.Itoa(WriteCacheKiB),
	"journal_mode = WAL",
	"synchronous = FULL",
	// As the ledger's: a batch of thousands of rows (a sync's tokens)
	// writes thousands of pages, and SQLite's default of 1,000 would
	// checkpoint after every such commit.
	"wal_autocheckpoint = " + strconv.Itoa(WALCheckpointPages),
	"journal_size_limit = " + strconv.Itoa(WALSizeMaxBytes),
	"foreign_keys = OFF",
}

// OpenDomain opens (creating it if needed) the SQLite file of a domain
// store at path, with one connection, and applies the migrations in fsys.
// A domain's traffic is light next to the ledger's, and one connection
// makes every write wait its turn here rather than in SQLite's busy
// handler. Its own file keeps it off the ledger writer's write lock.
func OpenDomain(ctx context.Context, path string, fsys fs.FS) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("open: empty path")
	}
	db := sql.OpenDB(&connector{dsn: dsn(path, true), pragmas: domainPragmas})
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		db.Close()
		return nil, fmt.Errorf("open %s: journal mode %q, %v", path, mode, err)
	}
	if err := Migrate(ctx, db, fsys); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// OpenDomainReader opens a pool of read-only connections on the SQLite
// file of a domain store that OpenDomain opened (and migrated). In WAL
// mode readers never wait for the writer: a lookup does not queue behind
// a commit and its fsync on the one write connection.
func OpenDomainReader(ctx context.Context, path string) (*sql.DB, error) {
	db := sql.OpenDB(&connector{dsn: dsn(path, false), pragmas: []string{"busy_timeout = " + strconv.Itoa(BusyTimeoutMs), "query_only = 1"}})
	db.SetMaxOpenConns(readConnsMax)
	db.SetMaxIdleConns(readConnsMax)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	return db, nil
}
