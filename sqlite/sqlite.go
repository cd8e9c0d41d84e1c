// Package sqlite stores a ledger in one SQLite file in WAL mode: the
// embedded default, which needs nothing but a data directory.
//
// A Store holds two connection pools on the file: a single write connection,
// used only by Commit, and a pool of read-only connections for the queries.
// In WAL mode readers see the last committed state and never wait for the
// writer, so queries run while a batch is being committed.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/tongbao/tongbao/ledger"
)

var _ ledger.Store = (*Store)(nil)

// Tuning of the connections, chosen with BenchmarkCommit.
const (
	// BusyTimeoutMs is how long a connection waits for a lock held by
	// another connection (a checkpoint, another process) before failing.
	BusyTimeoutMs = 10_000
	// WriteCacheKiB is the page cache of the write connection, which keeps
	// the pages commits change in memory across batches. Commits append
	// (transfers, the id index) and rewrite balance rows lazily, so the hot
	// pages are few; pages beyond it are read back from the operating
	// system's cache, which does not count against the process.
	WriteCacheKiB = 64 << 10
	// ReadCacheKiB is the page cache of each read connection.
	ReadCacheKiB = 16 << 10
	// PageSizeBytes is the page size of a new database. Each page a commit
	// changes is written whole to the WAL, so smaller pages would write
	// less; but 1 and 2 KiB pages cost more CPU than they saved in
	// BenchmarkCommit.
	PageSizeBytes = 4096
	// WALCheckpointPages is how large the WAL grows, in pages, before a
	// commit copies it back into the database. A batch of 8190 transfers
	// writes thousands of pages to the WAL: SQLite's default of 1,000 would
	// checkpoint after every batch, which cost a quarter of the throughput;
	// a larger WAL lets a page rewritten by several batches (the accounts,
	// the ends of the indexes) be copied back once.
	WALCheckpointPages = 16_384
	// WALSizeMaxBytes is what the WAL file is truncated to after a
	// checkpoint, so that one large batch does not keep its disk space.
	WALSizeMaxBytes = 64 << 20
)

// readConnsMax is the size of the read pool. Queries are short, but the
// loads hold a connection while their callback runs, and a callback may
// itself query.
var readConnsMax = max(4, runtime.NumCPU())

// writePragmas are run on the write connection when it opens.
//
// synchronous=FULL is what makes a commit durable: in WAL mode SQLite then
// fsyncs the WAL before COMMIT returns, so an acknowledged batch survives a
// crash of the machine or a power loss. synchronous=NORMAL would skip that
// fsync and only sync at checkpoints: still consistent, and safe against a
// crash of the process, but the last batches acknowledged before a power
// loss could vanish. The ledger answers callers after Commit returns, so
// anything less than FULL would break "acknowledged means durable".
var writePragmas = []string{
	"busy_timeout = " + strconv.Itoa(BusyTimeoutMs),
	"page_size = " + strconv.Itoa(PageSizeBytes),
	"journal_mode = WAL",
	"synchronous = FULL",
	"cache_size = -" + strconv.Itoa(WriteCacheKiB),
	"temp_store = MEMORY",
	"wal_autocheckpoint = " + strconv.Itoa(WALCheckpointPages),
	"journal_size_limit = " + strconv.Itoa(WALSizeMaxBytes),
	"foreign_keys = OFF",
}

// readPragmas are run on every read connection when it opens. query_only
// keeps the read pool from ever writing, so the write connection stays the
// one writer.
var readPragmas = []string{
	"busy_timeout = " + strconv.Itoa(BusyTimeoutMs),
	"query_only = ON",
	"cache_size = -" + strconv.Itoa(ReadCacheKiB),
	"temp_store = MEMORY",
}

// Store is a ledger.Store in one SQLite file. Commit is serialised; the query
// methods may run concurrently with it and with each other.
type Store struct {
	write *sql.DB
	read  *sql.DB

	commitMu sync.Mutex // serialises Commit and guards what follows
	inserts  *inserts

	queries queries

	closeOnce sync.Once
	closeErr  error
}

// Open opens the ledger database at path, creating the file if it does not
// exist, and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	s := &Store{}
	s.write = sql.OpenDB(&connector{dsn: dsn(path, true), pragmas: writePragmas})
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)
	if err := Migrate(ctx, s.write, migrations); err != nil {
		s.write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.read = sql.OpenDB(&connector{dsn: dsn(path, false), pragmas: readPragmas})
	s.read.SetMaxOpenConns(readConnsMax)
	s.read.SetMaxIdleConns(readConnsMax)
	s.read.SetConnMaxLifetime(0)
	s.read.SetConnMaxIdleTime(0)
	var err error
	if err = s.queries.prepare(ctx, s.read); err == nil {
		s.inserts, err = prepareInserts(ctx, s.write)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database. It waits for queries in progress; closing twice
// is harmless.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.commitMu.Lock()
		defer s.commitMu.Unlock()
		var errs []error
		s.queries.close()
		if s.inserts != nil {
			s.inserts.close()
			s.inserts = nil
		}
		if s.read != nil {
			errs = append(errs, s.read.Close())
		}
		errs = append(errs, s.write.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return s.closeErr
}

// dsn returns the data source name for the file at p. The path is written as
// a URI so that the transaction mode can be passed with it; the characters
// that a URI gives meaning to are escaped.
func dsn(p string, write bool) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
	if write {
		// The writer takes the write lock when its transaction begins, so a
		// lock conflict (with another process) shows at BEGIN, where
		// busy_timeout can wait it out, rather than halfway through a batch.
		return "file:" + escaped + "?_txlock=immediate"
	}
	return "file:" + escaped
}

// connector opens connections with the driver and runs the pool's pragmas on
// each, so that a connection database/sql replaces behind our back is set up
// like the first.
type connector struct {
	dsn     string
	pragmas []string
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := sqliteDriver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	execer, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, errors.New("driver cannot execute statements")
	}
	for _, p := range c.pragmas {
		if _, err := execer.ExecContext(ctx, "PRAGMA "+p, nil); err != nil {
			conn.Close()
			return nil, fmt.Errorf("pragma %s: %w", p, err)
		}
	}
	return conn, nil
}

func (c *connector) Driver() driver.Driver { return sqliteDriver }

//go:embed migrations/*.sql
var embedded embed.FS

// migrations are the ledger's migrations, at the root of the FS as
// Migrate wants them (fs.Sub fails only on an invalid path).
var migrations, _ = fs.Sub(embedded, "migrations")

// Migrate applies, in order and each in its own transaction, the migrations
// in fsys (NNNN_name.sql at its root) newer than the database's
// schema_version. The ledger's store and the domain stores share it.
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	type migration struct {
		version int
		name    string
	}
	var todo []migration
	for _, name := range names {
		base := path.Base(name)
		prefix, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return fmt.Errorf("migrate: %s: name does not start with a version number", base)
		}
		if v > current {
			todo = append(todo, migration{v, name})
		}
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].version < todo[j].version })
	for _, m := range todo {
		text, err := fs.ReadFile(fsys, m.name)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if err := migrateOne(ctx, db, m.version, string(text)); err != nil {
			return fmt.Errorf("migrate %s: %w", path.Base(m.name), err)
		}
	}
	return nil
}

func migrateOne(ctx context.Context, db *sql.DB, version int, text string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Another process may have applied it since we looked.
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return err
	}
	if current >= version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, text); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, version); err != nil {
		return err
	}
	return tx.Commit()
}
