package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// IsURL reports whether s is a PostgreSQL connection URL, as a --db flag
// or TONGBAO_DB gives it.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// CreateSchema creates schema in the database of dsn, if it does not exist,
// and returns dsn with its search_path set to that schema alone, so that
// the stores opened on it keep their tables there: a benchmark or a test
// gets a database of its own inside a shared one.
func CreateSchema(ctx context.Context, dsn, schema string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("postgres: create schema: %w", err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize())
	if isCode(err, "23505", "42P06") {
		err = nil // created at the same moment by another process
	}
	if err != nil {
		return "", fmt.Errorf("postgres: create schema: %w", err)
	}
	return WithSearchPath(dsn, schema)
}

// DropSchema drops schema and everything in it.
func DropSchema(ctx context.Context, dsn, schema string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("postgres: drop schema: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		return fmt.Errorf("postgres: drop schema: %w", err)
	}
	return nil
}

// WithSearchPath returns the connection string dsn (a URL or keyword=value
// pairs) with its search_path set to schema.
func WithSearchPath(dsn, schema string) (string, error) {
	if IsURL(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", errors.New("postgres: connection URL does not parse") // the error would show the password
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dsn + " search_path=" + schema, nil
}
