package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// FuzzPackIndex opens a chunk store whose pack index and pack are fuzzed:
// open either refuses or loads, and whatever it serves is what the pack
// holds at the place an entry names, matching its ID or refused as such
// by a reader that checks.
func FuzzPackIndex(f *testing.F) {
	f.Add(readSampleF(f, "packs/00000000.idx"), readSampleF(f, "packs/00000000.pack"))
	f.Add([]byte{}, []byte{})
	f.Add(make([]byte, packEntry), []byte("x"))
	// One store directory for the whole run (the inputs run one after
	// another in a process): creating its 256 fan-out directories and
	// syncing them per input would make the fuzzer crawl.
	dir := f.TempDir()
	c, err := OpenFileChunks(dir)
	if err != nil {
		f.Fatal(err)
	}
	c.Close()
	f.Fuzz(func(t *testing.T, idx, pk []byte) {
		if len(idx) > 64*packEntry || len(pk) > 1<<16 {
			return
		}
		if err := os.RemoveAll(filepath.Join(dir, packDir)); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, packDir), 0o700); err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{"00000000.idx": idx, "00000000.pack": pk} {
			if err := os.WriteFile(filepath.Join(dir, packDir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		c, err := OpenFileChunks(dir)
		if err != nil {
			return
		}
		defer c.Close()
		for _, id := range c.packedIDs() {
			b, err := c.Append(nil, id)
			if err != nil {
				continue
			}
			if !bytes.Contains(pk, b) {
				t.Fatalf("chunk %s served bytes the pack does not hold", id)
			}
			if ok, herr := c.Has(id); !ok || herr != nil {
				t.Fatalf("chunk %s served but Has says %v, %v", id, ok, herr)
			}
		}
		var missing crypto.ChunkID
		if _, err := c.Append(nil, missing); err == nil && !bytes.Contains(idx, missing[:]) {
			t.Fatal("served a chunk no entry names")
		} else if err != nil && !errors.Is(err, court.ErrNotFound) && !errors.Is(err, court.ErrCorrupt) {
			t.Logf("absent chunk: %v", err)
		}
	})
}

func readSampleF(f *testing.F, name string) []byte {
	b, err := os.ReadFile(samplePath(name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}
