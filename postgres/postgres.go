// Package postgres stores a ledger in PostgreSQL: the production store,
// with the same semantics as package sqlite and the same conformance suite
// (internal/storetest).
//
// A Store holds one connection of its own for Commit, the only writer, and a
// pool for the queries. PostgreSQL's MVCC gives every query a snapshot of
// committed batches, so queries run while a batch commits and never see
// part of one.
//
// The schema is kept portable to PostgreSQL-compatible distributed SQL
// (CockroachDB, YugabyteDB): keys are client ids or engine timestamps,
// never sequences, and nothing on the hot path takes an advisory lock. See
// docs/postgres.md.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongbao/tongbao/ledger"
)

var _ ledger.Store = (*Store)(nil)

// Defaults of the connections.
const (
	// ReadConnsMin is the least size of the query pool. The loads hold a
	// connection while their callback runs, and a callback may itself
	// query; a DSN may ask for more with pool_max_conns.
	ReadConnsMin = 4
	// ledgerComponent names the ledger's migrations in schema_version.
	ledgerComponent = "ledger"
)

// Store is a ledger.Store in a PostgreSQL database (or in the first schema
// of the connection's search_path). Commit is serialised; the query methods
// may run concurrently with it and with each other.
type Store struct {
	pool *pgxpool.Pool

	commitMu sync.Mutex // serialises Commit and guards what follows
	write    *pgx.Conn  // nil once closed
	scratch  scratch
	fence    *Fence // when set, every Commit checks the writer's lease

	closeOnce sync.Once
	closeErr  error
}

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string, as pgx parses it), brings its schema up to date and
// returns the store.
//
// Durability: a batch is acknowledged when COMMIT returns, so the write
// connection runs with synchronous_commit on (PostgreSQL's default), under
// which COMMIT returns only once the batch's WAL is flushed to disk (and,
// with synchronous standbys configured, to them). Open raises a server or
// role default of off to on for that connection, and refuses a server
// that runs with fsync off, on which no commit is durable.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("postgres: open: empty connection string")
	}
	wcfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	pcfg.MaxConns = max(pcfg.MaxConns, ReadConnsMin)

	s := &Store{}
	s.write, err = pgx.ConnectConfig(ctx, wcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := s.openWrite(ctx); err != nil {
		s.write.Close(context.Background())
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		s.write.Close(context.Background())
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return s, nil
}

// openWrite checks the durability settings of the write connection and
// applies the migrations.
func (s *Store) openWrite(ctx context.Context) error {
	var fsync, syncCommit string
	if err := s.write.QueryRow(ctx, `SELECT current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&fsync, &syncCommit); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	if fsync != "on" {
		return errors.New("the server runs with fsync off: no commit would be durable")
	}
	if syncCommit == "off" {
		if _, err := s.write.Exec(ctx, `SET synchronous_commit = on`); err != nil {
			return fmt.Errorf("settings: %w", err)
		}
	}
	return Migrate(ctx, s.write, ledgerComponent, ledgerMigrations)
}

// Close closes the connections. It waits for a commit in progress; closing
// twice is harmless.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.commitMu.Lock()
		defer s.commitMu.Unlock()
		if s.pool != nil {
			s.pool.Close()
		}
		if err := s.write.Close(context.Background()); err != nil {
			s.closeErr = fmt.Errorf("postgres: close: %w", err)
		}
		s.write = nil
	})
	return s.closeErr
}

//go:embed migrations/*.sql
var embedded embed.FS

// ledgerMigrations are the ledger's migrations, at the root of the FS as
// Migrate wants them (fs.Sub fails only on an invalid path).
var ledgerMigrations, _ = fs.Sub(embedded, "migrations")

// Migrate applies, in order and each in its own transaction, the
// migrations of component (files named NNNN_name.sql at the root of
// fsys) newer than those recorded in the table schema_version, which it
// creates if needed. Each store keeps its own component, so the ledger's
// and a domain's tables can share a database and a schema.
//
// Two processes may migrate at once: each migration takes an exclusive
// lock on schema_version and checks again. Migrations are off the hot path.
func Migrate(ctx context.Context, conn *pgx.Conn, component string, fsys fs.FS) error {
	if err := createVersionTable(ctx, conn); err != nil {
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
	var all []migration
	for _, name := range names {
		prefix, _, _ := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return fmt.Errorf("migrate: %s: name does not start with a version number", path.Base(name))
		}
		all = append(all, migration{v, name})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].version < all[j].version })
	for _, m := range all {
		text, err := fs.ReadFile(fsys, m.name)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if err := migrateOne(ctx, conn, component, m.version, string(text)); err != nil {
			return fmt.Errorf("migrate %s: %w", path.Base(m.name), err)
		}
	}
	return nil
}

// createVersionTable creates schema_version if it does not exist. Two
// processes creating it at once make one of them fail on the catalog's
// unique index; it then finds the table there.
func createVersionTable(ctx context.Context, conn *pgx.Conn) error {
	const create = `CREATE TABLE IF NOT EXISTS schema_version (
		component text    NOT NULL,
		version   integer NOT NULL,
		PRIMARY KEY (component, version))`
	// Two processes creating it at once: IF NOT EXISTS does not make the
	// catalogue insert atomic, so the loser sees a unique violation, a
	// duplicate table or a duplicate row type (42710); the table is then
	// there, and a second try finds it.
	_, err := conn.Exec(ctx, create)
	if isCode(err, "23505", "42P07", "42710") {
		_, err = conn.Exec(ctx, create)
	}
	return err
}

func migrateOne(ctx context.Context, conn *pgx.Conn, component string, version int, text string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `LOCK TABLE schema_version IN EXCLUSIVE MODE`); err != nil {
		return err
	}
	var current int
	err = tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version WHERE component = $1`, component).Scan(&current)
	if err != nil {
		return err
	}
	if current >= version {
		return nil
	}
	// The simple protocol runs a script of several statements.
	if _, err := tx.Exec(ctx, text, pgx.QueryExecModeSimpleProtocol); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_version (component, version) VALUES ($1, $2)`, component, version); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// isCode reports whether err is a PostgreSQL error with one of the codes.
func isCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}
