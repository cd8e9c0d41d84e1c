// Package sqldb is what the domain stores need of a database, written once
// for SQLite and PostgreSQL: each domain has one store, in database/sql
// (pgx's stdlib driver for PostgreSQL), whose queries are written with ?
// placeholders in the SQL both databases share. Where the two really
// differ, a DB says so, and nowhere else:
//
//   - placeholders: ? on SQLite, $1 … on PostgreSQL (rewritten here, once
//     per query text);
//   - unique violations: IsUniqueViolation knows both drivers' errors;
//   - locks: ForUpdate is " FOR UPDATE" on PostgreSQL and empty on
//     SQLite, and LockTable locks a table on PostgreSQL only: on SQLite a
//     transaction begins IMMEDIATE, holding the file's write lock, and
//     one connection serialises every write;
//   - types: JSON casts a parameter to jsonb on PostgreSQL;
//   - types and schema bookkeeping: each store embeds its migrations per
//     dialect, migrations/sqlite/*.sql and migrations/postgres/*.sql,
//     applied with the ledger stores' Migrate (schema_version per file on
//     SQLite, per component on PostgreSQL).
//
// The ledger's own stores (packages sqlite and postgres) stay apart: they
// differ for speed (COPY, prepared batches, the writer lease).
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/tongbao/tongbao/postgres"
	"github.com/tongbao/tongbao/sqlite"
)

// Dialect is the kind of database a DB is on.
type Dialect string

// The dialects. Their names are the folders of a store's migrations.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DialectOf returns the dialect of a store's target: PostgreSQL for a
// postgres:// or postgresql:// connection string, SQLite (a file path)
// for anything else.
func DialectOf(target string) Dialect {
	if strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// DB is a domain store's database.
type DB struct {
	db *sql.DB
	// read serves the queries outside transactions: on SQLite a pool of
	// read-only connections (the one write connection would make every
	// lookup wait for the commit in progress), on PostgreSQL db itself.
	read    *sql.DB
	dialect Dialect
	// rebound caches the PostgreSQL text of each query (string to
	// string); unused on SQLite.
	rebound sync.Map
	// prepared caches a statement per query on SQLite (string to
	// *sql.Stmt), whose driver would otherwise compile each query at
	// each call; pgx keeps its own cache per connection. The queries are
	// constants of the stores, so it stays small. readPrepared is the
	// same for the read pool.
	prepared, readPrepared sync.Map
}

// Open opens the database of target (see DialectOf) and applies the
// migrations of the dialect in fsys (migrations/<dialect>/NNNN_name.sql).
// A SQLite file is created if needed; on PostgreSQL the migrations are
// recorded under component in schema_version, so several stores share a
// schema.
func Open(ctx context.Context, target, component string, fsys fs.FS) (*DB, error) {
	d := DialectOf(target)
	migrations, err := fs.Sub(fsys, "migrations/"+string(d))
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	var db *sql.DB
	switch d {
	case SQLite:
		db, err = sqlite.OpenDomain(ctx, target, migrations)
	case Postgres:
		db, err = openPostgres(ctx, target, component, migrations)
	}
	if err != nil {
		return nil, err
	}
	read := db
	if d == SQLite {
		if read, err = sqlite.OpenDomainReader(ctx, target); err != nil {
			db.Close()
			return nil, err
		}
	}
	return &DB{db: db, read: read, dialect: d}, nil
}

// postgresConnsMax is the size of a PostgreSQL store's pool: pgxpool's
// default, which the stores used before they moved to database/sql.
var postgresConnsMax = max(4, runtime.NumCPU())

func openPostgres(ctx context.Context, dsn, component string, migrations fs.FS) (*sql.DB, error) {
	if dsn == "" {
		return nil, errors.New("open: empty connection string")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	err = postgres.Migrate(ctx, conn, component, migrations)
	conn.Close(context.Background())
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(postgresConnsMax)
	db.SetMaxIdleConns(postgresConnsMax)
	return db, nil
}

// Dialect returns the database's dialect.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes the database.
func (db *DB) Close() error {
	for _, m := range []*sync.Map{&db.prepared, &db.readPrepared} {
		m.Range(func(_, st any) bool {
			st.(*sql.Stmt).Close()
			return true
		})
	}
	if db.read != db.db {
		db.read.Close()
	}
	return db.db.Close()
}

// stmt returns the prepared statement of a query on SQLite, nil on
// PostgreSQL.
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return db.prepare(ctx, db.db, &db.prepared, query)
}

// readStmt is stmt on the read pool.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return db.prepare(ctx, db.read, &db.readPrepared, query)
}

func (db *DB) prepare(ctx context.Context, on *sql.DB, cache *sync.Map, query string) (*sql.Stmt, error) {
	if db.dialect != SQLite {
		return nil, nil
	}
	if st, ok := cache.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := on.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if old, loaded := cache.LoadOrStore(query, st); loaded {
		st.Close()
		return old.(*sql.Stmt), nil
	}
	return st, nil
}

// ForUpdate is the clause that locks the rows a SELECT reads until the
// transaction ends: on SQLite none is needed (nor valid), since a
// transaction holds the write lock of the whole file from its BEGIN.
func (db *DB) ForUpdate() string {
	if db.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// JSON is the expression that stores the JSON text expr in a column of
// the JSON type of the database: jsonb on PostgreSQL, text on SQLite.
func (db *DB) JSON(expr string) string {
	if db.dialect == Postgres {
		return "CAST(" + expr + " AS jsonb)"
	}
	return expr
}

// Exec runs a statement.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := db.stmt(ctx, query)
	if err != nil || st == nil {
		return db.db.ExecContext(ctx, db.rebind(query), args...)
	}
	return st.ExecContext(ctx, args...)
}

// Query runs a read-only query (a write with RETURNING goes in a
// transaction); the caller closes the rows.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := db.readStmt(ctx, query)
	if err != nil || st == nil {
		return db.read.QueryContext(ctx, db.rebind(query), args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRow runs a read-only query that returns at most one row.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := db.readStmt(ctx, query)
	if err != nil || st == nil {
		return db.read.QueryRowContext(ctx, db.rebind(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Begin starts a transaction.
func (db *DB) Begin(ctx context.Context) (*Tx, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &Tx{tx: tx, db: db}, nil
}

// Tx is a transaction of a DB.
type Tx struct {
	tx *sql.Tx
	db *DB
}

// Prepare prepares queries ahead (on SQLite; on PostgreSQL it does
// nothing), so that a transaction runs them without compiling them: a
// transaction cannot prepare a statement of the DB itself, since on
// SQLite it holds the only connection.
func (db *DB) Prepare(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		if _, err := db.stmt(ctx, q); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	return nil
}

// stmt returns the DB's prepared statement of query for the
// transaction, or nil if it has none (PostgreSQL, or a query not
// prepared ahead).
func (tx *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if tx.db.dialect != SQLite {
		return nil
	}
	st, ok := tx.db.prepared.Load(query)
	if !ok {
		return nil
	}
	return tx.tx.StmtContext(ctx, st.(*sql.Stmt))
}

// Exec runs a statement in the transaction.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.tx.ExecContext(ctx, tx.db.rebind(query), args...)
}

// Query runs a query in the transaction; the caller closes the rows.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := tx.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.tx.QueryContext(ctx, tx.db.rebind(query), args...)
}

// QueryRow runs a query that returns at most one row in the transaction.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, tx.db.rebind(query), args...)
}

// Prepare prepares a statement for the transaction's life.
func (tx *Tx) Prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	return tx.tx.PrepareContext(ctx, tx.db.rebind(query))
}

// LockTable locks a table against every other writer until the
// transaction ends: on PostgreSQL in SHARE ROW EXCLUSIVE mode (readers go
// on); on SQLite it does nothing, since the transaction holds the write
// lock of the whole file from its BEGIN.
func (tx *Tx) LockTable(ctx context.Context, table string) error {
	if tx.db.dialect != Postgres {
		return nil
	}
	_, err := tx.tx.ExecContext(ctx, `LOCK TABLE `+table+` IN SHARE ROW EXCLUSIVE MODE`)
	return err
}

// Commit commits the transaction.
func (tx *Tx) Commit() error { return tx.tx.Commit() }

// Rollback ends the transaction without committing; after Commit it does
// nothing.
func (tx *Tx) Rollback() error { return tx.tx.Rollback() }

// rebind returns the query in the database's placeholders.
func (db *DB) rebind(query string) string {
	if db.dialect != Postgres {
		return query
	}
	if q, ok := db.rebound.Load(query); ok {
		return q.(string)
	}
	q := Rebind(query)
	db.rebound.Store(query, q)
	return q
}

// Rebind rewrites the ? placeholders of a query as PostgreSQL's: ?NNN
// (SQLite's numbered form, for an argument used twice) as $NNN and each
// bare ? as the next $n. The queries of the stores hold no ? in a literal
// or an identifier, so nothing is parsed beyond that.
func Rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c != '?' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('$')
		j := i + 1
		for j < len(query) && query[j] >= '0' && query[j] <= '9' {
			j++
		}
		if j > i+1 {
			b.WriteString(query[i+1 : j])
			i = j - 1
			continue
		}
		n++
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// IsUniqueViolation reports whether err is the violation of a primary key
// or a unique constraint, on either database. A store whose table has
// several such keys tells them apart by reading the row (see the stores'
// Create methods), which keeps constraint names out of the Go code.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrConstraint &&
			(se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey || se.ExtendedCode == sqlite3.ErrConstraintUnique)
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// IsNoRows reports whether err says a query found no row.
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// Scanner is one row: *sql.Row or *sql.Rows.
type Scanner interface{ Scan(...any) error }

// All reads every row of rows with scan and closes rows.
func All[T any](rows *sql.Rows, scan func(Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Select runs a read-only query and scans every row with scan: Query
// and All in one, for a store's list methods.
func Select[T any](ctx context.Context, db *DB, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return All(rows, scan)
}

// NullString is NULL for the empty string: a column whose absence is
// NULL, so that a unique index ignores it.
func NullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
