package storetest

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

// Database is a database the conformance suite of a domain store runs
// on (see twotiertest, merchanttest, scenariotest, keystest): SQLite
// always, PostgreSQL when PostgresEnv names one.
type Database struct {
	Name string
	// Target returns a new, empty database of the test's own, as a domain
	// store's Open takes it: a SQLite file named file in the test's
	// directory, or a connection string on a schema of the test's own
	// (dropped when the test ends). Each call returns another.
	Target func(t *testing.T, file string) string
}

// Databases returns the databases the domain stores' suites run on.
func Databases() []Database {
	dbs := []Database{{Name: "SQLite", Target: func(t *testing.T, file string) string {
		return filepath.Join(t.TempDir(), file)
	}}}
	if Postgres() != "" {
		dbs = append(dbs, Database{Name: "PostgreSQL", Target: func(t *testing.T, _ string) string {
			t.Helper()
			dsn, err := TempSchema(t)
			if err != nil {
				t.Fatal(err)
			}
			return dsn
		}})
	}
	return dbs
}

// Env is what a test of a domain store's suite gets: a store of type S
// on a database of the test's own.
type Env[S io.Closer] struct {
	Ctx    context.Context
	Store  S
	t      *testing.T
	open   func(ctx context.Context, target string) (S, error)
	target string
}

// Reopen opens another store on the test's database, as another process
// would; it is closed when the test ends.
func (e *Env[S]) Reopen() S {
	e.t.Helper()
	s, err := e.open(e.Ctx, e.target)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

// TwoStores returns the store of caller i: the test's for even callers,
// for odd ones a second store on the same database, as another process
// would open.
func (e *Env[S]) TwoStores() func(i int) S {
	second := e.Reopen()
	return func(i int) S {
		if i%2 == 1 {
			return second
		}
		return e.Store
	}
}

// DomainTest is one test of a domain store's suite.
type DomainTest[S io.Closer] struct {
	Name string
	Fn   func(*testing.T, *Env[S])
}

// RunDomain runs a domain store's suite on every database of Databases,
// each test as a subtest on a database of its own, with a store open
// opens on it (file names the SQLite file).
func RunDomain[S io.Closer](t *testing.T, file string, open func(ctx context.Context, target string) (S, error), tests []DomainTest[S]) {
	for _, db := range Databases() {
		t.Run(db.Name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.Name, func(t *testing.T) {
					e := &Env[S]{Ctx: context.Background(), t: t, open: open, target: db.Target(t, file)}
					e.Store = e.Reopen()
					tt.Fn(t, e)
				})
			}
		})
	}
}

// Must fails the test on an error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WantErr fails the test unless err is want (errors.Is).
func WantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v; want %v", what, err, want)
	}
}

// WantEqual fails the test unless got and want are deeply equal.
func WantEqual[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// At is a moment with nanoseconds (time.Unix's, as the stores return
// times), n seconds and a little apart from the others.
func At(n int) time.Time { return time.Unix(0, 1_760_000_000_123_456_789+int64(n)*1_000_000_007) }

// Concurrently runs fn(0) … fn(n-1) at once and returns their errors,
// once all have returned.
func Concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errs
}

// Succeeded fails the test if an error of errs is neither nil nor lost
// (errors.Is), and returns the indexes of the nil ones.
func Succeeded(t testing.TB, errs []error, lost error) []int {
	t.Helper()
	var won []int
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, i)
		case !errors.Is(err, lost):
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	return won
}
