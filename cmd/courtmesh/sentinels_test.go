package main

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/crypto/ca"
	"courtmesh.dev/courtmesh/crypto/pkcs11key"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/party"
	"courtmesh.dev/courtmesh/node/records"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// sentinels is every exported Err* variable of the module's packages, by
// package directory and name. TestEverySentinelHasAKind finds them in the
// source and fails on one missing here, so a new sentinel is checked too.
var sentinels = map[string]error{
	"court.ErrInvalid":                court.ErrInvalid,
	"court.ErrNotFound":               court.ErrNotFound,
	"court.ErrPermission":             court.ErrPermission,
	"court.ErrConflict":               court.ErrConflict,
	"court.ErrStale":                  court.ErrStale,
	"court.ErrUnavailable":            court.ErrUnavailable,
	"court.ErrRevoked":                court.ErrRevoked,
	"court.ErrCorrupt":                court.ErrCorrupt,
	"court.ErrHandoverBlocked":        court.ErrHandoverBlocked,
	"crypto.ErrIdentityUnsigned":      crypto.ErrIdentityUnsigned,
	"crypto.ErrNoPossessionProof":     crypto.ErrNoPossessionProof,
	"crypto.ErrTokenKey":              crypto.ErrTokenKey,
	"crypto.ErrDecrypt":               crypto.ErrDecrypt,
	"crypto.ErrMixedSuite":            crypto.ErrMixedSuite,
	"crypto.ErrBadSignature":          crypto.ErrBadSignature,
	"crypto.ErrUnsupportedSuite":      crypto.ErrUnsupportedSuite,
	"crypto.ErrMalformed":             crypto.ErrMalformed,
	"crypto.ErrUnknownSigner":         crypto.ErrUnknownSigner,
	"crypto.ErrRevoked":               crypto.ErrRevoked,
	"crypto.ErrExpired":               crypto.ErrExpired,
	"crypto.ErrNotYetValid":           crypto.ErrNotYetValid,
	"crypto.ErrNotAuthorised":         crypto.ErrNotAuthorised,
	"crypto.ErrStale":                 crypto.ErrStale,
	"crypto.ErrWrongBase":             crypto.ErrWrongBase,
	"crypto.ErrKeyPermissions":        crypto.ErrKeyPermissions,
	"crypto/ca.ErrNotReady":           ca.ErrNotReady,
	"crypto/pkcs11key.ErrNoToken":     pkcs11key.ErrNoToken,
	"crypto/pkcs11key.ErrPIN":         pkcs11key.ErrPIN,
	"crypto/pkcs11key.ErrNoPIN":       pkcs11key.ErrNoPIN,
	"crypto/pkcs11key.ErrUnavailable": pkcs11key.ErrUnavailable,
	"protocol.ErrDuplicate":           protocol.ErrDuplicate,
	"protocol.ErrHeld":                protocol.ErrHeld,
	"storage.ErrBatchFull":            storage.ErrBatchFull,
	"storage.ErrInUse":                storage.ErrInUse,
	"storage.ErrEquivocation":         storage.ErrEquivocation,
	"storage.ErrDiskFull":             storage.ErrDiskFull,
	"storage.ErrReadOnly":             storage.ErrReadOnly,
	"node/api.ErrNodeNotRunning":      api.ErrNodeNotRunning,
	"node/config.ErrConfig":           config.ErrConfig,
	"node/datadir.ErrNotInitialised":  datadir.ErrNotInitialised,
	"node/party.ErrSignIn":            party.ErrSignIn,
	"node/records.ErrUnpinned":        records.ErrUnpinned,
}

// TestEverySentinelHasAKind: court/errors.go's rule, every sentinel a
// package declares wraps one of court's kinds, so that the API answers it
// with its kind's status (not 500, unless the kind is corrupt) and the CLI
// exits with its kind's status (not 1).
func TestEverySentinelHasAKind(t *testing.T) {
	found := exportedSentinels(t, filepath.Join("..", ".."))
	if len(found) < 10 {
		t.Fatalf("found only %d sentinels: %v", len(found), found)
	}
	for _, name := range found {
		if _, ok := sentinels[name]; !ok {
			t.Errorf("%s is not in this test's table: add it to sentinels", name)
		}
	}
	for name, err := range sentinels {
		if !contains(found, name) {
			t.Errorf("%s is in this test's table but not in the source", name)
			continue
		}
		k := court.KindOf(err)
		if k == nil {
			t.Errorf("%s (%q) wraps none of court's error kinds (court/errors.go)", name, err)
			continue
		}
		if s := exitStatus(err); s == exitFailure || s != kindExit[k] {
			t.Errorf("%s: the CLI exits %d, want %d for kind %v", name, s, kindExit[k], k)
		}
		if e := api.FromError(err); e.Status == http.StatusInternalServerError && k != court.ErrCorrupt {
			t.Errorf("%s: the API answers %d %s for kind %v", name, e.Status, e.Code, k)
		}
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

// exportedSentinels lists the package-level exported variables named
// Err* in the non-test Go files under root (the module; nested modules,
// testdata and main packages left out), as "dir.Name".
func exportedSentinels(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); path != root && err == nil {
				return filepath.SkipDir // another module
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
		if f.Name.Name == "main" {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				for _, n := range spec.(*ast.ValueSpec).Names {
					if strings.HasPrefix(n.Name, "Err") && n.IsExported() {
						out = append(out, filepath.ToSlash(rel)+"."+n.Name)
					}
				}
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.SkipDir) {
		t.Fatal(err)
	}
	return out
}
