package importer_test

import (
	"path/filepath"
	"slices"
	"testing"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/storage"
)

// newDataDir makes a data directory holding a fresh enc.key.
func newDataDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	k, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := crypto.SaveEncKey(filepath.Join(dir, crypto.EncKeyFile), k); err != nil {
		t.Fatal(err)
	}
	return dir
}

func openStore(t testing.TB, dir string) *storage.DB {
	t.Helper()
	k, err := crypto.LoadEncKey(filepath.Join(dir, crypto.EncKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(dir, storage.Options{Decrypter: k})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func keys(t testing.TB, db *storage.DB) []string {
	t.Helper()
	k, err := db.Keys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sameKeys(a, b []string) bool { return slices.Equal(a, b) }
