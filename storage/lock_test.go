package storage

import (
	"errors"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// TestStoreInUse: a second opener of a store, here in the same process as
// a command beside a running node would be, is refused with ErrInUse (of
// kind unavailable), and opens once the first has closed.
func TestStoreInUse(t *testing.T) {
	k, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db, err := Open(dir, Options{Decrypter: k})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{Decrypter: k})
	if !errors.Is(err, ErrInUse) || !errors.Is(err, court.ErrUnavailable) {
		t.Fatalf("second open: %v, want ErrInUse", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(dir, Options{Decrypter: k})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	again.Close()
}
