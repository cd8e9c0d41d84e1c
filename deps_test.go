package tongbao_test

import (
	"go/parser"
	"go/token"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// modulePath is the import path of this module.
const modulePath = "github.com/tongbao/tongbao"

// drivers are the database packages: no package above the adapters may
// depend on one.
var drivers = []string{"database/sql", "github.com/mattn/go-sqlite3", "modernc.org/sqlite", "github.com/jackc/pgx", "github.com/lib/pq"}

// storageAdapter matches the module's storage packages by name: the
// ledger's engines (sqlite, postgres) and the stores of a domain or of the
// keys (twotiersqlite, merchantpg, keyspg, or one store per domain named
// like twotiersql).
var storageAdapter = regexp.MustCompile(`^` + regexp.QuoteMeta(modulePath) + `/(.+/)?[a-z]*(sqlite|pg|sql|postgres)$`)

// deps returns every package pkg depends on, pkg included, but not its
// subpackages.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// within reports whether dep is one of the packages or under one of them.
func within(dep string, packages []string) bool {
	for _, p := range packages {
		if dep == p || strings.HasPrefix(dep, p+"/") {
			return true
		}
	}
	return false
}

// TestDependencies keeps the vocabulary and the engine free of storage and
// network code: they may not import a database, a driver or HTTP, so the
// money rules are written once, above every adapter.
func TestDependencies(t *testing.T) {
	forbidden := append([]string{"net/http"}, drivers...)
	for _, pkg := range []string{".", "./ledger", "./twotier", "./merchant", "./scenario", "./contract"} {
		for _, dep := range deps(t, pkg) {
			if within(dep, forbidden) {
				t.Errorf("%s imports %s", pkg, dep)
			}
		}
	}
}

// TestHTTPDependencies keeps the HTTP layer on the domain services: it
// may not reach a database, a driver or a storage adapter (cmd wires the
// stores in; httpapi's own subpackages, such as keyspg, are adapters that
// it does not import). And the public client speaks the API's JSON
// (httpapi/wire), never the server: a client built against the server's
// package would drag the whole engine into every program that calls it.
func TestHTTPDependencies(t *testing.T) {
	for _, pkg := range []string{"./httpapi", "./client"} {
		for _, dep := range deps(t, pkg) {
			if within(dep, drivers) || storageAdapter.MatchString(dep) {
				t.Errorf("%s imports the storage package %s", pkg, dep)
			}
		}
	}
	for _, dep := range deps(t, "./client") {
		if dep == modulePath+"/httpapi" {
			t.Errorf("./client imports %s; it may import only %s/httpapi/wire of it", dep, modulePath)
		}
	}
}

// TestProblemsImportNoDomain keeps httpapi/problems.go, where errors
// become problem types, free of the domains: errors carry their problem's
// name (their kind) where they are defined, so a new domain never has to
// be listed there.
func TestProblemsImportNoDomain(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "httpapi/problems.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range f.Imports {
		path, err := strconv.Unquote(is.Path.Value)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(path, modulePath+"/") && path != modulePath+"/httpapi/wire" {
			t.Errorf("httpapi/problems.go imports %s; of this module it may import only the root and httpapi/wire", path)
		}
	}
}
