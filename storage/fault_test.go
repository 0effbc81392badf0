package storage

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/crypto"
)

// faultRuns is nodetest.FaultRuns for this package (which node/nodetest
// may not be imported into): COURTMESH_FAULT_RUNS, or def.
func faultRuns(t *testing.T, def int) int {
	t.Helper()
	v := os.Getenv("COURTMESH_FAULT_RUNS")
	if v == "" {
		return def
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
		t.Fatalf("COURTMESH_FAULT_RUNS=%q: want a whole number of runs, at least 1", v)
	}
	return n
}

// TestFaultCorruptPackTail: a fetch's chunks are committed to a pack in
// groups, then the store "crashes" (it is reopened without being closed)
// with the pack's tail damaged, in turn: a torn index entry, pack bytes
// staged and never committed, a last index entry that fails its CRC, and
// a pack cut short inside its last committed chunk (a filesystem that
// lost blocks it had acknowledged). The store must open; every chunk it
// still names must read back exactly; the chunks it lost keep their
// verified bits, so that the next fetch run (done here by hand) writes
// them again; nothing is lost for good. At risk: the committed chunks;
// lost: chunks that read back wrong or could not be written again.
func TestFaultCorruptPackTail(t *testing.T) {
	runs := faultRuns(t, 4)
	var atRisk, lost int
	var recovered time.Duration
	for run := range runs {
		kind := run % 4
		dir := t.TempDir()
		k, err := crypto.GenerateEncKey()
		if err != nil {
			t.Fatal(err)
		}
		db, err := Open(dir, Options{Decrypter: k})
		if err != nil {
			t.Fatal(err)
		}
		transfer := fmt.Sprintf("t-pack-%d", run)
		var ids []crypto.ChunkID
		var sealed [][]byte
		for i := range 24 {
			b := bytes.Repeat([]byte(fmt.Sprintf("run %d chunk %d ", run, i)), 2000+i)
			ids = append(ids, crypto.ChunkIDOf(b))
			sealed = append(sealed, b)
		}
		if err := db.SaveFetchManifest(transfer, []byte("manifest"), ids); err != nil {
			t.Fatal(err)
		}
		for g := 0; g < len(ids); g += 8 {
			var cs []FetchedChunk
			for i := g; i < g+8; i++ {
				st, err := db.StageChunk(sealed[i]) // to the pack, as a fetch does
				if err != nil {
					t.Fatal(err)
				}
				cs = append(cs, FetchedChunk{Index: uint32(i), ID: ids[i], Staged: st})
			}
			if err := db.PutFetchedChunks(transfer, cs); err != nil {
				t.Fatal(err)
			}
		}
		atRisk += len(ids)
		fc, ok := db.chunks.(*FileChunks)
		if !ok {
			t.Fatal("not a file chunk store")
		}
		pack, idx := fc.packPath(0, "pack"), fc.packPath(0, "idx")
		// The crash: Badger closes (its own log is not under test), the
		// chunk store's files are left as they are, then damaged.
		db.bdb.Close()
		switch kind {
		case 0: // a torn index entry
			appendTo(t, idx, bytes.Repeat([]byte{0x5a}, packEntry-11))
		case 1: // pack bytes staged, never committed
			appendTo(t, pack, bytes.Repeat([]byte("staged, never committed "), 500))
		case 2: // the last index entry fails its CRC
			flipByte(t, idx, fileSize(t, idx)-1)
		case 3: // the pack cut inside its last chunk
			if err := os.Truncate(pack, fileSize(t, pack)-int64(len(sealed[len(sealed)-1]))/2); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		db2, err := Open(dir, Options{Decrypter: k})
		if err != nil {
			t.Fatalf("run %d (damage %d): the store does not open: %v", run, kind, err)
		}
		bits, err := db2.FetchedChunks(transfer)
		if err != nil {
			t.Fatal(err)
		}
		var again []FetchedChunk
		for i, id := range ids {
			has, err := db2.HasChunk(id)
			if err != nil {
				t.Fatal(err)
			}
			if !has {
				if !bits[uint32(i)] {
					t.Errorf("run %d: chunk %d is gone and so is its bit", run, i)
				}
				st, err := db2.StageChunk(sealed[i])
				if err != nil {
					t.Fatal(err)
				}
				again = append(again, FetchedChunk{Index: uint32(i), ID: id, Staged: st})
				continue
			}
			got, err := db2.SealedChunk(id)
			if err != nil || !bytes.Equal(got, sealed[i]) {
				lost++
				t.Errorf("run %d (damage %d): chunk %d reads back wrong: %d bytes, %v", run, kind, i, len(got), err)
			}
		}
		// The next fetch run writes what the damage took.
		if err := db2.PutFetchedChunks(transfer, again); err != nil {
			lost += len(again)
			t.Errorf("run %d: writing the lost chunks again: %v", run, err)
		}
		for i, id := range ids {
			if got, err := db2.SealedChunk(id); err != nil || !bytes.Equal(got, sealed[i]) {
				lost++
				t.Errorf("run %d (damage %d): chunk %d after the refetch: %v", run, kind, i, err)
			}
		}
		recovered = max(recovered, time.Since(start))
		t.Logf("run %d (damage %d): %d chunks written again", run, kind, len(again))
		db2.Close()
		fc.closePacks()
	}
	fmt.Printf("fault corrupt_pack_tail: runs %d, at risk %d, lost %d, recovered in %v\n", runs, atRisk, lost, recovered.Round(time.Millisecond))
	if lost > 0 {
		t.Errorf("%d of %d chunks lost", lost, atRisk)
	}
}

func appendTo(t *testing.T, name string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, name string, off int64) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}
