package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"

	"github.com/tongbao/tongbao/postgres"
)

// PostgresEnv is the environment variable that runs the tests on
// PostgreSQL: a connection string to a database the tests may create and
// drop schemas in. Unset, every test that touches storage runs on SQLite.
const PostgresEnv = "TONGBAO_TEST_POSTGRES"

// PostgresHowTo says how to run the PostgreSQL suite; it is the message of
// the one test that is skipped without it.
const PostgresHowTo = PostgresEnv + ` is not set, so the PostgreSQL store's tests are skipped and every other storage test ran on SQLite.
To run the whole suite on PostgreSQL as well:
	eval "$(.ci/postgres.sh start)"   # a throwaway cluster on 127.0.0.1:55432; exports ` + PostgresEnv + `
	go test ./...
	.ci/postgres.sh stop
or point ` + PostgresEnv + ` at any database you may create schemas in, e.g.
	` + PostgresEnv + `='postgres://postgres@127.0.0.1:5432/tongbao?sslmode=disable' go test ./...`

// Postgres returns the connection string of PostgresEnv, or "" when the
// tests run on SQLite.
func Postgres() string { return os.Getenv(PostgresEnv) }

// schemaPrefix begins the name of every schema the tests create.
const schemaPrefix = "tongbao_test_"

// SchemaFor returns the name of the schema the tests keep the data of key
// in (a test's data folder, say): the same key, the same schema, in any
// process, so a child process finds its parent's data.
func SchemaFor(key string) string {
	sum := sha256.Sum256([]byte(key))
	return schemaPrefix + hex.EncodeToString(sum[:10])
}

// NewSchemaName returns the name of a schema no other test uses.
func NewSchemaName() string {
	var b [10]byte
	rand.Read(b[:])
	return schemaPrefix + hex.EncodeToString(b[:])
}

// CreateSchema creates the schema, if it does not exist, in the database of
// PostgresEnv, and returns a connection string whose search_path is that
// schema alone: whatever a store creates or reads goes there.
func CreateSchema(ctx context.Context, schema string) (string, error) {
	base := Postgres()
	if base == "" {
		return "", errors.New(PostgresEnv + " is not set")
	}
	return postgres.CreateSchema(ctx, base, schema)
}

// DropSchema drops the schema and everything in it.
func DropSchema(ctx context.Context, schema string) error {
	return postgres.DropSchema(ctx, Postgres(), schema)
}

// WithSearchPath returns the connection string dsn with its search_path
// set to schema.
func WithSearchPath(dsn, schema string) (string, error) {
	return postgres.WithSearchPath(dsn, schema)
}

// cleaner is what can run a function when a test ends: a *testing.T, a
// *testing.B or a *rapid.T.
type cleaner interface {
	Cleanup(func())
	Errorf(format string, args ...any)
}

// TempSchema creates a schema of the test's own and returns a connection
// string on it; the schema is dropped when the test ends.
func TempSchema(t cleaner) (string, error) {
	schema := NewSchemaName()
	dsn, err := CreateSchema(context.Background(), schema)
	if err != nil {
		return "", err
	}
	t.Cleanup(func() {
		if err := DropSchema(context.Background(), schema); err != nil {
			t.Errorf("%v", err)
		}
	})
	return dsn, nil
}
