package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenDomain connects a domain store to the database named by dsn: it
// applies the component's migrations in fsys (recorded in schema_version
// under component, so several stores share one schema) and returns a pool.
func OpenDomain(ctx context.Context, dsn, component string, fsys fs.FS) (*pgxpool.Pool, error) {
	if dsn == "" {
		return nil, errors.New("open: empty connection string")
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	err = Migrate(ctx, conn, component, fsys)
	conn.Close(context.Background())
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return pool, nil
}

// IsUniqueViolation reports whether err is a violation of the named unique
// constraint.
func IsUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == constraint
}
