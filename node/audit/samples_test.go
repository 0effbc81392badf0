package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/storage"
)

var update = flag.Bool("update", false, "rewrite the frozen export sample (a deliberate format change only)")

// TestFrozenExport: the audit export (JSON lines of the chained entries,
// what `courtmesh audit export` writes and `audit verify` reads) is a
// format of its own. The store's frozen chain (storage's sample) exported
// by today's code must give the frozen export bytes, and the frozen
// export must verify with today's checker.
func TestFrozenExport(t *testing.T) {
	chain, err := os.Open(filepath.Join("..", "..", "storage", "testdata", "samples", "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	log := &memLog{}
	sc := bufio.NewScanner(chain)
	for sc.Scan() {
		var e storage.AuditEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Seq == 0 || e.Event == "" {
			continue // the sample's last line is the stored head, not an entry
		}
		log.entries = append(log.entries, e)
	}
	if len(log.entries) < 3 {
		t.Fatalf("the storage sample holds %d entries", len(log.entries))
	}
	var got bytes.Buffer
	res, err := WriteExport(&got, log, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Entries != uint64(len(log.entries)) || res.First != 1 || res.Last != uint64(len(log.entries)) {
		t.Fatalf("export summary %+v", res)
	}
	path := filepath.Join("testdata", "export.jsonl")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("the audit export changed; if deliberate, run with -update and say so\ngot:\n%s\nwant:\n%s", got.Bytes(), want)
	}
	var c Checker
	if err := ReadExport(bytes.NewReader(want), &c); err != nil {
		t.Fatalf("the frozen export does not verify: %v", err)
	}
	if err := c.Done(); err != nil {
		t.Fatalf("the frozen export does not verify: %v", err)
	}
	if n, first, last, _, head := c.Result(); n != uint64(len(log.entries)) || first != 1 || last != n || head != log.entries[len(log.entries)-1].Hash {
		t.Errorf("the frozen export reads as %d entries %d..%d head %s", n, first, last, head)
	}
	// A changed byte breaks the chain.
	bad := bytes.Replace(want, []byte(`"outcome":"ok"`), []byte(`"outcome":"OK"`), 1)
	var c2 Checker
	if err := ReadExport(bytes.NewReader(bad), &c2); err == nil {
		if err := c2.Done(); err == nil {
			t.Error("an altered export verifies")
		}
	}
}
