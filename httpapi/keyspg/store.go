// Package keyspg keeps the API keys (httpapi.KeyStore) in the PostgreSQL
// database that the nodes share, so that a key made at the writer works
// at every node, whatever machine it runs on.
package keyspg

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/postgres"
)

var _ httpapi.KeyStore = (*Store)(nil)

// Store is an httpapi.KeyStore in a PostgreSQL database.
type Store struct {
	db *pgxpool.Pool
}

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database named by dsn and brings the keys' table
// up to date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := postgres.OpenDomain(ctx, dsn, "keys", migrations)
	if err != nil {
		return nil, fmt.Errorf("keyspg: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.db.Close()
	return nil
}

// Stamp implements httpapi.KeyStore: the latest version.
func (s *Store) Stamp(ctx context.Context) (string, error) {
	var v int64
	if err := s.db.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM api_keys`).Scan(&v); err != nil {
		return "", fmt.Errorf("keyspg: stamp: %w", err)
	}
	return strconv.FormatInt(v, 10), nil
}

// Load implements httpapi.KeyStore.
func (s *Store) Load(ctx context.Context) ([]httpapi.StoredKey, error) {
	rows, err := s.db.Query(ctx, `SELECT hash, principal FROM api_keys ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("keyspg: load: %w", err)
	}
	defer rows.Close()
	var out []httpapi.StoredKey
	for rows.Next() {
		var k httpapi.StoredKey
		var principal []byte
		if err := rows.Scan(&k.Hash, &principal); err != nil {
			return nil, fmt.Errorf("keyspg: load: %w", err)
		}
		if err := json.Unmarshal(principal, &k.Principal); err != nil {
			return nil, fmt.Errorf("keyspg: load key %.16s: %w", k.Hash, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("keyspg: load: %w", err)
	}
	return out, nil
}

// Put implements httpapi.KeyStore. The table lock orders the changes, so
// every change gets a version above all before it.
func (s *Store) Put(ctx context.Context, k httpapi.StoredKey) error {
	principal, err := json.Marshal(k.Principal)
	if err != nil {
		return fmt.Errorf("keyspg: put: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (hash, principal, version)
			VALUES ($1, $2, (SELECT coalesce(max(version), 0) + 1 FROM api_keys))
			ON CONFLICT (hash) DO UPDATE SET principal = excluded.principal, version = excluded.version`,
			k.Hash, principal)
		return err
	})
	if err != nil {
		return fmt.Errorf("keyspg: put: %w", err)
	}
	return nil
}
