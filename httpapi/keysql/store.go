// Package keysql keeps the API keys (httpapi.KeyStore) in the node's
// database, SQLite or PostgreSQL, one implementation for both (see
// internal/sqldb): on SQLite in keys.db beside the ledger's file, on
// PostgreSQL in the database the nodes share (component "keys" in
// schema_version), so that a key made at the writer works at every node.
//
// A key is kept by the SHA-256 of its secret, never the secret. Each put
// is one indexed insert (or update) at a version above all before it: on
// PostgreSQL a table lock orders the puts' versions as their commits, on
// SQLite the transaction's write lock on the file does. Puts made at the
// same time share one transaction, so one fsync makes many keys durable:
// a put returns once its transaction is committed.
package keysql

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/internal/sqldb"
)

var _ httpapi.KeyStore = (*Store)(nil)

// PutBatchMax is the most puts one transaction commits.
const PutBatchMax = 512

// Store is an httpapi.KeyStore in a SQLite file or a PostgreSQL database.
type Store struct {
	db *sqldb.DB
	// puts writes the puts made together in one transaction.
	puts *sqldb.Committer[*put]
	once sync.Once
}

// put is one Put for the committer; version is its result.
type put struct {
	key       httpapi.StoredKey
	principal string
	version   int64
}

//go:embed migrations
var migrations embed.FS

// Open opens the store on target: a postgres:// connection string, or
// the path of a SQLite file (created if needed). It brings the table up
// to date.
func Open(ctx context.Context, target string) (*Store, error) {
	db, err := sqldb.Open(ctx, target, "keys", migrations)
	if err != nil {
		return nil, fmt.Errorf("keysql: %w", err)
	}
	s := &Store{db: db}
	// One writer: each batch reads the latest version under the table's
	// lock, so two would only wait for each other.
	s.puts = sqldb.NewCommitter(db, PutBatchMax, 1, s.write)
	return s, nil
}

// Close stops the committer and closes the database; closing twice is
// harmless.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.puts.Close()
		err = s.db.Close()
	})
	return err
}

// Version implements httpapi.KeyStore.
func (s *Store) Version(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM api_keys`).Scan(&v); err != nil {
		return 0, fmt.Errorf("keysql: version: %w", err)
	}
	return v, nil
}

// Since implements httpapi.KeyStore.
func (s *Store) Since(ctx context.Context, version int64, limit int) ([]httpapi.StoredKey, error) {
	if limit <= 0 || limit > httpapi.KeysPageMax {
		limit = httpapi.KeysPageMax
	}
	rows, err := s.db.Query(ctx, `SELECT hash, principal, version FROM api_keys WHERE version > ? ORDER BY version LIMIT ?`, version, limit)
	if err != nil {
		return nil, fmt.Errorf("keysql: load: %w", err)
	}
	out, err := sqldb.All(rows, func(sc sqldb.Scanner) (httpapi.StoredKey, error) {
		var k httpapi.StoredKey
		var principal []byte
		if err := sc.Scan(&k.Hash, &principal, &k.Version); err != nil {
			return k, err
		}
		if err := json.Unmarshal(principal, &k.Principal); err != nil {
			return k, fmt.Errorf("key %.16s: %w", k.Hash, err)
		}
		return k, nil
	})
	if err != nil {
		return nil, fmt.Errorf("keysql: load: %w", err)
	}
	return out, nil
}

// Put implements httpapi.KeyStore. It returns once the key is committed,
// or with ctx's error; a put abandoned that way may still be committed.
func (s *Store) Put(ctx context.Context, k httpapi.StoredKey) (int64, error) {
	principal, err := json.Marshal(k.Principal)
	if err != nil {
		return 0, fmt.Errorf("keysql: put: %w", err)
	}
	p := &put{key: k, principal: string(principal)}
	if err := s.puts.Do(ctx, p); err != nil {
		return 0, fmt.Errorf("keysql: put: %w", err)
	}
	return p.version, nil
}

// write stores a batch of puts in the committer's transaction, each at
// the next version. The table lock (PostgreSQL) or the file's write lock
// (SQLite) is held from before the latest version is read until the
// commit, so versions grow in the order of the commits and a reader that
// has seen version v never misses a change numbered below it.
func (s *Store) write(ctx context.Context, tx *sqldb.Tx, batch []*put, _ []error) error {
	if err := tx.LockTable(ctx, "api_keys"); err != nil {
		return err
	}
	var version int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM api_keys`).Scan(&version); err != nil {
		return err
	}
	ins, err := tx.Prepare(ctx, `INSERT INTO api_keys (hash, principal, version) VALUES (?, `+s.db.JSON("?")+`, ?)
		ON CONFLICT (hash) DO UPDATE SET principal = excluded.principal, version = excluded.version`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, p := range batch {
		version++
		if _, err := ins.ExecContext(ctx, p.key.Hash, p.principal, version); err != nil {
			return err
		}
		p.version = version
	}
	return nil
}
