// Package courtmesh_test holds repository-wide checks.
package courtmesh_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "courtmesh.dev/courtmesh"

// layers lists, for each top-level package, the top-level packages of
// ours it may import. Dependencies point inward: cmd -> node ->
// {protocol, storage} -> crypto -> court; court imports nothing of ours,
// and neither does internal, which every layer but court may use.
var layers = map[string][]string{
	"court":    {},
	"crypto":   {"court", "internal"},
	"protocol": {"crypto", "court", "internal"},
	"storage":  {"crypto", "court", "internal"},
	"node":     {"protocol", "storage", "crypto", "court", "internal"},
	"cmd":      {"node", "protocol", "storage", "crypto", "court", "internal"},
	// test/ holds nested modules of tests that drive the whole system
	// from outside (test/browser: the dashboard in headless Chromium).
	"test": {"node", "protocol", "storage", "crypto", "court", "internal"},
	// internal/ holds mechanisms several layers share that are no part
	// of the domain (internal/atomicfile: crash-safe file writes); it
	// imports nothing of ours.
	"internal": {},
}

func top(path string) string {
	first, _, _ := strings.Cut(filepath.ToSlash(path), "/")
	return first
}

// TestDependenciesPointInward parses the imports of every Go file (tests
// included) so that the test cache is invalidated by any change to them.
func TestDependenciesPointInward(t *testing.T) {
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || filepath.Dir(path) == "." {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		from := top(path)
		allowed, ok := layers[from]
		if !ok {
			t.Errorf("%s is in an unknown top-level directory %q; add it to the layers", path, from)
			return nil
		}
		for _, is := range f.Imports {
			imp, _ := strconv.Unquote(is.Path.Value)
			rest, ours := strings.CutPrefix(imp, module+"/")
			if !ours {
				continue
			}
			to := top(rest)
			if to == from || contains(allowed, to) {
				continue
			}
			t.Errorf("%s imports %s: %s may not depend on %s", path, imp, from, to)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("only %d Go files found", files)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestRoomsDoNotImportTheDaemon: package node only composes its rooms
// (node/trust, node/records, ...); no room imports node itself, directly
// or through another package. It asks `go list -deps`, so imports through
// any path count.
func TestRoomsDoNotImportTheDaemon(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps=false", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./node/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	daemon := module + "/node"
	rooms := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, " ")
		if pkg == daemon || !strings.HasPrefix(pkg, daemon+"/") || strings.HasPrefix(pkg, daemon+"/nodetest/") {
			continue // the daemon, not a room; or test support that runs it
		}
		rooms++
		for _, d := range strings.Fields(deps) {
			if d == daemon {
				t.Errorf("%s depends on %s: rooms take what they need in their Deps, never the daemon", pkg, daemon)
			}
		}
	}
	if rooms < 10 {
		t.Fatalf("only %d packages under node/ found", rooms)
	}
}

// Limits of issue 14: no file too long to read whole, no function too
// long to hold in mind unless its doc comment says why, and a daemon
// package that only composes its rooms.
const (
	maxFileLines = 700
	maxFuncLines = 150
	maxNodeLines = 1500 // node/*.go without tests, sub-packages excluded
	// longReason is the phrase a function over maxFuncLines carries in
	// its doc comment, followed by why (one table, one story, ...).
	longReason = "long on purpose"
)

// generated reports whether src is generated code, by the convention of
// https://go.dev/s/generatedcode: a line "// Code generated ... DO NOT
// EDIT." before the package clause.
func generated(f *ast.File) bool {
	for _, g := range f.Comments {
		if g.Pos() > f.Package {
			break
		}
		for _, c := range g.List {
			if strings.HasPrefix(c.Text, "// Code generated ") && strings.HasSuffix(c.Text, " DO NOT EDIT.") {
				return true
			}
		}
	}
	return false
}

// TestCodeLimits parses every non-generated Go file of the repository
// (tests and the nested test/ modules included) and checks the limits
// of issue 14: files of at most 700 lines, functions of at most 150
// lines unless their doc comment says they are "long on purpose" and
// why, and package node itself under 1,500 lines of non-test code.
func TestCodeLimits(t *testing.T) {
	fset := token.NewFileSet()
	files, nodeLines := 0, 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".pb.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return err
		}
		if generated(f) {
			return nil
		}
		files++
		lines := bytes.Count(src, []byte("\n"))
		if len(src) > 0 && src[len(src)-1] != '\n' {
			lines++
		}
		if lines > maxFileLines {
			t.Errorf("%s: %d lines, over %d: split it by moving whole functions into a sibling file", path, lines, maxFileLines)
		}
		if filepath.ToSlash(filepath.Dir(path)) == "node" && !strings.HasSuffix(path, "_test.go") {
			nodeLines += lines
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
			n := end.Line - start.Line + 1
			if n <= maxFuncLines || strings.Contains(fn.Doc.Text(), longReason) {
				continue
			}
			t.Errorf("%s:%d: func %s is %d lines, over %d: split it, or say in its doc comment why it is %s", path, start.Line, fn.Name.Name, n, maxFuncLines, longReason)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("only %d Go files found", files)
	}
	if nodeLines == 0 {
		t.Fatal("no non-test Go file found in node/")
	}
	if nodeLines >= maxNodeLines {
		t.Errorf("package node has %d lines of non-test code, not under %d: it composes the rooms, the work belongs in them", nodeLines, maxNodeLines)
	}
}
