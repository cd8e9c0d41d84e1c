package httpapi

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// moduleRoot is the module's folder, seen from this package's.
const moduleRoot = ".."

// sentinelKind is what the module's source says of one error: the kind it
// is defined with ("" if none), or the error it is another name of.
type sentinelKind struct {
	pos   string
	kind  string
	alias string // "importpath.Name" of the error it names, if it is an alias
	why   string // why no kind could be read, if none
}

// errorKinds reads every non-test Go file of the module and returns its
// exported package-level Err* variables by "importpath.Name", and every
// kind written as a literal anywhere (in tongbao.Sentinel calls and in
// tongbao.Error literals), with where it is written.
//
// It reads the source rather than the values because Go cannot list a
// package's variables at run time, and a value list kept by hand is
// exactly what a new error would be missing from.
func errorKinds(t *testing.T) (map[string]sentinelKind, map[string][]string) {
	t.Helper()
	modulePath := readModulePath(t)
	fset := token.NewFileSet()
	vars := map[string]sentinelKind{}
	literal := map[string][]string{}
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != moduleRoot && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(moduleRoot, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkgPath := modulePath
		if rel != "." {
			pkgPath += "/" + filepath.ToSlash(rel)
		}
		r := kindReader{fset: fset, modulePath: modulePath, pkgPath: pkgPath, imports: importNames(f)}
		ast.Inspect(f, func(n ast.Node) bool {
			if u, ok := n.(*ast.UnaryExpr); ok && u.Op == token.AND {
				return true // its operand is inspected on its own
			}
			if e, ok := n.(ast.Expr); ok {
				if kind, ok := r.literalKind(e); ok {
					literal[kind] = append(literal[kind], fset.Position(e.Pos()).String())
				}
			}
			return true
		})
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !exportedError.MatchString(name.Name) {
						continue
					}
					var value ast.Expr
					if len(vs.Values) == len(vs.Names) {
						value = vs.Values[i]
					}
					k := r.sentinel(value)
					k.pos = fset.Position(name.Pos()).String()
					vars[pkgPath+"."+name.Name] = k
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) == 0 {
		t.Fatal("no exported error found in the module: the reader is broken")
	}
	return vars, literal
}

// exportedError matches the name of an exported error variable.
var exportedError = regexp.MustCompile(`^Err[A-Z0-9]`)

func readModulePath(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join(moduleRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if path, ok := strings.CutPrefix(sc.Text(), "module "); ok {
			return strings.TrimSpace(path)
		}
	}
	t.Fatal("go.mod names no module")
	return ""
}

// importNames maps the names a file uses for its imports to their paths.
func importNames(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, is := range f.Imports {
		path, _ := strconv.Unquote(is.Path.Value)
		name := path[strings.LastIndex(path, "/")+1:]
		if is.Name != nil {
			name = is.Name.Name
		}
		m[name] = path
	}
	return m
}

// kindReader reads kinds in one file.
type kindReader struct {
	fset       *token.FileSet
	modulePath string // the root package, where Sentinel and Error live
	pkgPath    string
	imports    map[string]string
}

// rootName reports whether e names the root package's identifier name.
func (r kindReader) rootName(e ast.Expr, name string) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return r.pkgPath == r.modulePath && e.Name == name
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		return ok && e.Sel.Name == name && r.imports[x.Name] == r.modulePath
	}
	return false
}

// kindArg returns the kind expression of a tongbao.Sentinel call or a
// tongbao.Error literal (or &tongbao.Error{...}), and whether e is one.
func (r kindReader) kindArg(e ast.Expr) (ast.Expr, bool) {
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		e = u.X
	}
	switch e := e.(type) {
	case *ast.CallExpr:
		if r.rootName(e.Fun, "Sentinel") && len(e.Args) >= 2 {
			return e.Args[1], true
		}
	case *ast.CompositeLit:
		if r.rootName(e.Type, "Error") {
			for _, el := range e.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if key, ok := kv.Key.(*ast.Ident); ok && key.Name == "Kind" {
						return kv.Value, true
					}
				}
			}
			return nil, true
		}
	}
	return nil, false
}

// literalKind returns the kind e is defined with, if e is a Sentinel call
// or an Error literal whose kind is a string literal.
func (r kindReader) literalKind(e ast.Expr) (string, bool) {
	arg, ok := r.kindArg(e)
	if !ok || arg == nil {
		return "", false
	}
	lit, ok := arg.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// sentinel reads what an exported error variable is initialised with.
func (r kindReader) sentinel(value ast.Expr) sentinelKind {
	switch v := value.(type) {
	case nil:
		return sentinelKind{why: "it has no initial value"}
	case *ast.Ident:
		return sentinelKind{alias: r.pkgPath + "." + v.Name}
	case *ast.SelectorExpr:
		if x, ok := v.X.(*ast.Ident); ok && r.imports[x.Name] != "" {
			return sentinelKind{alias: r.imports[x.Name] + "." + v.Sel.Name}
		}
	}
	arg, ok := r.kindArg(value)
	switch {
	case !ok:
		return sentinelKind{why: "it is not made by tongbao.Sentinel or a tongbao.Error literal"}
	case arg == nil:
		return sentinelKind{why: "its tongbao.Error literal sets no Kind"}
	}
	kind, ok := r.literalKind(value)
	if !ok {
		return sentinelKind{why: "its kind is not a string literal"}
	}
	if kind == "" {
		return sentinelKind{why: "its kind is empty"}
	}
	return sentinelKind{kind: kind}
}

// resolve follows aliases to the kind of the error they name.
func resolve(vars map[string]sentinelKind, name string) (sentinelKind, error) {
	seen := map[string]bool{}
	k := vars[name]
	for k.alias != "" {
		if seen[k.alias] {
			return k, fmt.Errorf("aliases loop at %s", k.alias)
		}
		seen[k.alias] = true
		next, ok := vars[k.alias]
		if !ok {
			return k, fmt.Errorf("names %s, which is not an exported error of the module", k.alias)
		}
		k = sentinelKind{pos: k.pos, kind: next.kind, alias: next.alias, why: next.why}
	}
	if k.kind == "" {
		return k, errors.New(k.why)
	}
	return k, nil
}

// TestErrorsHaveKinds fails when an exported error of the module has no
// kind: the API would answer it by its code alone, with a generic problem
// type no client can branch on, and nobody would have decided that.
func TestErrorsHaveKinds(t *testing.T) {
	vars, _ := errorKinds(t)
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if _, err := resolve(vars, name); err != nil {
			t.Errorf("%s: %s has no kind: %v (define it with tongbao.Sentinel(code, kind, message))", vars[name].pos, name, err)
		}
	}
}

// TestKindsHaveProblemTypes fails when an error is defined with a kind
// that httpapi's table lacks: the API would answer it by its code, not by
// the problem type its definition promises.
func TestKindsHaveProblemTypes(t *testing.T) {
	_, literal := errorKinds(t)
	if len(literal) == 0 {
		t.Fatal("no kind found in the module: the reader is broken")
	}
	for _, kind := range slices.Sorted(maps.Keys(literal)) {
		if _, ok := problemTypes[kind]; !ok {
			t.Errorf("kind %q (%s) has no problem type in httpapi/problems.go", kind, strings.Join(literal[kind], ", "))
		}
	}
}

// TestProblemTypesDocumented fails when a problem type the API answers is
// missing from the table in docs/api.md, is documented with another
// status, or when that table lists a type the API never answers: it is
// the one list clients read.
func TestProblemTypesDocumented(t *testing.T) {
	documented := documentedProblems(t, filepath.Join(moduleRoot, "docs", "api.md"))
	for _, name := range slices.Sorted(maps.Keys(problemTypes)) {
		pt := problemTypes[name]
		status, ok := documented[name]
		switch {
		case !ok:
			t.Errorf("problem type %s (%d) is missing from the Errors table of docs/api.md", name, pt.Status)
		case status != pt.Status:
			t.Errorf("docs/api.md documents %s with status %d; the API answers %d", name, status, pt.Status)
		}
	}
	for name := range documented {
		if _, ok := problemTypes[name]; !ok {
			t.Errorf("docs/api.md documents problem type %s, which httpapi/problems.go does not define", name)
		}
	}
}

// documentedProblems reads the table of the "## Errors" section of
// docs/api.md: the backquoted type names of each row's first cell, each
// with the row's status.
func documentedProblems(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Errors\n")
	if !ok {
		t.Fatalf("%s has no Errors section", path)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	names := regexp.MustCompile("`([a-z0-9-]+)`")
	out := map[string]int{}
	for line := range strings.SplitSeq(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(line, "|") {
			continue
		}
		status, err := strconv.Atoi(strings.TrimSpace(cells[2]))
		if err != nil {
			continue // the header and its rule
		}
		for _, m := range names.FindAllStringSubmatch(cells[1], -1) {
			if _, dup := out[m[1]]; dup {
				t.Errorf("%s documents %s twice", path, m[1])
			}
			out[m[1]] = status
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no problem type found in the Errors table", path)
	}
	return out
}

// TestProblemOf checks how an error finds its problem type: by the kind
// nearest the top of its chain, else by its code; EFORBIDDEN is an
// authorisation failure (403), never a rule's refusal.
func TestProblemOf(t *testing.T) {
	insufficient := tongbao.Sentinel(tongbao.EUNPROCESSABLE, "insufficient-funds", "insufficient funds")
	outer := &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Kind: "net-debit-cap-exceeded", Message: "cap", Err: insufficient}
	for _, c := range []struct {
		what string
		err  error
		want ProblemType
	}{
		{"a kind", insufficient, ProblemInsufficientFunds},
		{"a kind under a message", &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Message: "payment: insufficient funds", Err: insufficient}, ProblemInsufficientFunds},
		{"a kind under fmt.Errorf", fmt.Errorf("refund: %w", insufficient), ProblemInsufficientFunds},
		{"the outer of two kinds", outer, ProblemNetDebitCap},
		{"a kind in a join", errors.Join(errors.New("other"), insufficient), ProblemInsufficientFunds},
		{"forbidden without a kind", tongbao.Errorf(tongbao.EFORBIDDEN, "no"), ProblemForbidden},
		{"unprocessable without a kind", tongbao.Errorf(tongbao.EUNPROCESSABLE, "no"), ProblemUnprocessable},
		{"a kind no table has", tongbao.Sentinel(tongbao.ECONFLICT, "no-such-kind", "x"), ProblemConflict},
		{"a malformed body", &malformed{errors.New("unexpected EOF")}, ProblemMalformedJSON},
		{"a kind in a malformed body", &malformed{fmt.Errorf("json: %w", wire.ErrAmountSyntax)}, ProblemInvalidAmount},
		{"not a tongbao error", errors.New("disk on fire"), ProblemInternal},
	} {
		if got, _ := problemOf(c.err); got != c.want {
			t.Errorf("%s: got %s; want %s", c.what, got.Name, c.want.Name)
		}
	}
	if _, internal := problemOf(errors.New("disk on fire")); !internal {
		t.Error("an error that is not a tongbao error is not internal")
	}
}
