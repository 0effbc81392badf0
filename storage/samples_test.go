package storage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// Frozen samples of the formats storage writes (testdata/samples/README.md):
// the case record and version as stored, the audit entries and head, the
// backup container, a pack and its index. Each test reads the frozen
// sample with this build's code and checks its meaning; where the writer
// is deterministic (audit, packs, the JSON encoding of the case) it also
// checks that this build writes the same bytes. Rewrite them only for an
// intentional, versioned change:
//
//	go test ./storage -run TestSample -update
var updateSamples = flag.Bool("update", false, "rewrite the frozen samples in storage/testdata/samples; only for an intentional, versioned format change (see testdata/samples/README.md)")

const storageSampleDir = "testdata/samples"

// The fixed inputs of the samples.
var (
	sampleNow      = time.Date(2026, time.March, 16, 10, 0, 0, 0, time.UTC)
	sampleCaseNo   = court.MustParseCaseNumber("（2025）京0105执123号")
	sampleDoc      = []byte("北京市朝阳区人民法院 民事判决书 (sample document)\n")
	sampleCaseJSON = []byte(`{"number":"（2025）京0105执123号","sample":true}`)
	sampleIDNumber = "990101199003070015"
	sampleAccount  = "6222020200112233445"
	// samplePackChunks are committed to one pack; the second is then
	// deleted (a tombstone in the index).
	samplePackChunks = []string{"sealed chunk one", "sealed chunk two", "sealed chunk three"}
)

// sampleNewCase is the case the samples store.
func sampleNewCase() NewCase {
	n := sampleCaseNo
	eff := court.Date{Year: 2025, Month: 7, Day: 1}
	return NewCase{
		Version: CaseVersion{Number: n, Court: n.Court, Status: court.StatusActive,
			Filed: court.Date{Year: 2025, Month: 6, Day: 1}, Applied: court.Date{Year: 2025, Month: 5, Day: 20},
			ClaimFen: 150_000_000,
			Title:    court.Title{Kind: "judgment", CaseNumber: court.MustParseCaseNumber("（2024）京0105民初456号"), Issuer: "北京市朝阳区人民法院", Effective: court.Date{Year: 2025, Month: 3, Day: 1}},
			Parties: []court.Party{
				{ID: "p1", Role: court.RoleApplicant, Kind: court.PartyNatural, Name: "张某甲", IDType: court.IDResident, IDMasked: "990***********0015", Phone: "138****0000"},
				{ID: "p2", Role: court.RoleRespondent, Kind: court.PartyLegal, Name: "某某科技有限公司"},
			},
			Assets: []court.Asset{{ID: "a1", Class: court.AssetDeposit, Description: "银行存款", Owner: "p2", Source: "national_search", AccountMasked: "6222********3445", ValueFen: 2_000_000}},
			Measures: []court.Measure{{ID: "m1", Kind: court.MeasureFreeze, Asset: "a1", Effective: eff, Expiry: court.LegalExpiry(court.AssetDeposit, eff),
				Rank: 1, Status: court.MeasureActive, Court: n.Court, Document: "d1"}},
			Documents: []Document{{ID: "d1", Kind: "title", Title: "民事判决书", File: "docs/d1.txt", Size: int64(len(sampleDoc)), Hash: crypto.DocumentIDOf(sampleDoc)}},
		},
		Sources: []DocumentSource{{Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(sampleDoc)), nil },
			Size: int64(len(sampleDoc)), Hash: crypto.DocumentIDOf(sampleDoc)}},
		CaseJSON:      sampleCaseJSON,
		PartyIDs:      map[string]string{"p1": sampleIDNumber},
		AssetAccounts: map[string]string{"a1": sampleAccount},
	}
}

// sampleAudit is the audit log the samples write, in order.
func sampleAudit() []AuditEntry {
	return []AuditEntry{
		{Time: sampleNow.Add(time.Minute), Event: "case.imported", Outcome: "ok", Case: sampleCaseNo.String(), Detail: "version 1"},
		{Time: sampleNow.Add(2 * time.Minute), Event: "record.rejected", Outcome: "rejected", Peer: "12D3KooWSamplePeer", Court: "京0108",
			Transfer: "5a3f0c1e2d4b6a7988776655443322ff", Detail: "bad signature"},
		{Time: sampleNow.Add(3 * time.Minute).In(time.FixedZone("CST", 8*3600)), Event: "override", Outcome: "ok", Court: "京0105",
			Transfer: "5a3f0c1e2d4b6a7988776655443322ff", Case: sampleCaseNo.String(), Detail: "查封期限将至 (m1)"},
	}
}

func samplePath(name string) string { return filepath.Join(storageSampleDir, name) }

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(samplePath(name))
	if err != nil {
		t.Fatalf("%v (regenerate only as %s/README.md says)", err, storageSampleDir)
	}
	return b
}

// sampleEncKey loads the court encryption key of the samples (a test key,
// committed on purpose: it opens nothing but these samples).
func sampleEncKey(t *testing.T) *crypto.EncKey {
	t.Helper()
	p := filepath.Join(t.TempDir(), "enc.key")
	if err := os.WriteFile(p, readSample(t, "enc.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := crypto.LoadEncKey(p)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rawValue(t *testing.T, db *DB, key []byte) []byte {
	t.Helper()
	var out []byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		it, err := txn.Get(key)
		if err != nil {
			return err
		}
		out, err = it.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return out
}

// auditJSONL is the stored values of the audit entries, one a line, then
// the stored head.
func auditJSONL(t *testing.T, db *DB) []byte {
	t.Helper()
	seq, _, err := db.AuditHead()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for i := uint64(1); i <= seq; i++ {
		buf.Write(rawValue(t, db, auditKey(i)))
		buf.WriteByte('\n')
	}
	buf.Write(rawValue(t, db, []byte(keyAuditHead)))
	buf.WriteByte('\n')
	return buf.Bytes()
}

func auditKey(seq uint64) []byte {
	return append([]byte(prefixAudit), byte(seq>>56), byte(seq>>48), byte(seq>>40), byte(seq>>32), byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
}

func writeAudit(t *testing.T, db *DB) {
	t.Helper()
	for _, e := range sampleAudit() {
		if _, err := db.Audit(e); err != nil {
			t.Fatal(err)
		}
	}
}

// writePackSample commits samplePackChunks to a new chunk store in dir and
// deletes the second.
func writePackSample(t *testing.T, dir string) {
	t.Helper()
	c, err := OpenFileChunks(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := stageCommit(t, c, samplePackChunks...)
	if err := c.Delete(ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// generateStorageSamples writes every sample. The case record, its
// version and the backup carry randomness (the data key, its wrapping,
// the sealed chunks, Badger's versions): each run writes another instance.
func generateStorageSamples(t *testing.T) {
	if err := os.MkdirAll(storageSampleDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(samplePath("enc.key")); errors.Is(err, os.ErrNotExist) {
		k, err := crypto.GenerateEncKey()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "enc.key")
		if err := crypto.SaveEncKey(p, k); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(samplePath("enc.key"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	db, err := Open(dir, Options{Decrypter: sampleEncKey(t), ChunkSize: crypto.MinChunkSize, Now: func() time.Time { return sampleNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.PutCase(context.Background(), sampleNewCase()); err != nil {
		t.Fatal(err)
	}
	writeAudit(t, db)
	var backup bytes.Buffer
	if _, err := db.Backup(context.Background(), &backup); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"case-record.json":  rawValue(t, db, caseKey(sampleCaseNo)),
		"case-version.json": rawValue(t, db, versionKey(sampleCaseNo, 1)),
		"audit.jsonl":       auditJSONL(t, db),
		"backup.cmbackup":   backup.Bytes(),
	}
	pdir := t.TempDir()
	writePackSample(t, pdir)
	for _, name := range []string{"00000000.pack", "00000000.idx"} {
		b, err := os.ReadFile(filepath.Join(pdir, packDir, name))
		if err != nil {
			t.Fatalf("pack sample: %v", err)
		}
		files["packs/"+name] = b
	}
	if err := os.MkdirAll(samplePath("packs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(samplePath(name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("rewrote %d samples in %s", len(files), storageSampleDir)
}

func TestSamples(t *testing.T) {
	if *updateSamples {
		generateStorageSamples(t)
	}
	t.Run("case", testSampleCase)
	t.Run("audit", testSampleAudit)
	t.Run("backup", func(t *testing.T) { testSampleBackup(t, "", backupVersion) })
	t.Run("backup-v1", func(t *testing.T) { testSampleBackup(t, "v1/", backupVersion1) })
	t.Run("packs", testSamplePacks)
}

// testSampleCase decodes the stored case record and version and checks
// every field; re-encoding them gives the same bytes.
func testSampleCase(t *testing.T) {
	rawHead, rawVer := readSample(t, "case-record.json"), readSample(t, "case-version.json")
	var head CaseRecord
	var v CaseVersion
	if err := errors.Join(jsonUnmarshal(rawHead, &head), jsonUnmarshal(rawVer, &v)); err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2][]byte{"case-record.json": {rawHead, mustJSON(t, head)}, "case-version.json": {rawVer, mustJSON(t, v)}} {
		if !bytes.Equal(pair[0], pair[1]) {
			t.Errorf("%s: this build re-encodes the stored record differently (a field, a tag or an encoding changed):\nfrozen %s\nnow    %s", name, pair[0], pair[1])
		}
	}
	in := sampleNewCase()
	content := ContentHash(sampleCaseJSON, []crypto.DocumentID{crypto.DocumentIDOf(sampleDoc)})
	now := sampleNow.Format(time.RFC3339)

	// The random parts: the wrapped data key, sealed fields, chunk IDs.
	if len(head.WrappedKey) == 0 || len(v.Parties[0].IDSealed) == 0 || len(v.Assets[0].AccountSealed) == 0 ||
		len(v.Documents) != 1 || len(v.Documents[0].Chunks) != 1 || len(v.Source.Chunks) != 1 {
		t.Fatalf("sealed parts missing: head %+v, version %+v", head, v)
	}
	for _, d := range []Document{v.Documents[0], v.Source} {
		if root := crypto.MerkleRoot(d.Chunks); d.Root != hex.EncodeToString(root[:]) {
			t.Errorf("document %s: root %s does not match its chunks", d.ID, d.Root)
		}
	}
	wantHead := CaseRecord{V: RecordVersion, Number: sampleCaseNo, Court: "京0105", Status: court.StatusActive, Version: 1,
		ContentHash: content, WrappedKey: head.WrappedKey, Created: now, Updated: now, Respondents: []string{"某某科技有限公司"}}
	if !reflect.DeepEqual(head, wantHead) {
		t.Errorf("case record means\n%+v\nwant\n%+v", head, wantHead)
	}
	want := in.Version
	want.V, want.Version, want.ContentHash, want.Imported = RecordVersion, 1, content, now
	want.Parties = slices.Clone(want.Parties)
	want.Parties[0].IDSealed = v.Parties[0].IDSealed
	want.Assets = slices.Clone(want.Assets)
	want.Assets[0].AccountSealed = v.Assets[0].AccountSealed
	d := want.Documents[0]
	d.ChunkSize, d.Chunks, d.Root, d.Suite = crypto.MinChunkSize, v.Documents[0].Chunks, v.Documents[0].Root, crypto.SuiteV1
	want.Documents = []Document{d}
	want.Source = v.Source
	if !reflect.DeepEqual(v, want) {
		t.Errorf("case version means\n%s\nwant\n%s", mustJSON(t, v), mustJSON(t, want))
	}
	if s := v.Source; s.ID == "" || s.Size != int64(len(sampleCaseJSON)) || s.Hash != crypto.DocumentIDOf(sampleCaseJSON) || s.ChunkSize != crypto.MinChunkSize || !s.Internal {
		t.Errorf("case version source: %+v", s)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testSampleAudit reads the frozen audit entries, verifies the chain and
// their meaning, and checks that this build writes the same bytes.
func testSampleAudit(t *testing.T) {
	raw := readSample(t, "audit.jsonl")
	lines := bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
	want := sampleAudit()
	if len(lines) != len(want)+1 {
		t.Fatalf("audit.jsonl has %d lines, want %d entries and the head", len(lines), len(want))
	}
	var got []AuditEntry
	for _, l := range lines[:len(want)] {
		var e AuditEntry
		if err := jsonUnmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if at, err := VerifyAudit(got, ""); err != nil {
		t.Fatalf("frozen audit chain breaks at %d: %v", at, err)
	}
	prev := ""
	for i, e := range got {
		w := want[i]
		w.Seq, w.Time, w.Prev, w.Hash = uint64(i+1), w.Time.UTC(), prev, e.Hash
		if !reflect.DeepEqual(e, w) || len(e.Hash) != 64 {
			t.Errorf("audit entry %d means %+v, want %+v", i+1, e, w)
		}
		prev = e.Hash
	}
	var head auditHead
	if err := jsonUnmarshal(lines[len(want)], &head); err != nil || head.Seq != uint64(len(want)) || head.Hash != prev {
		t.Errorf("audit head %+v (%v), want %d %s", head, err, len(want), prev)
	}

	// The writer is deterministic: the same events give the same bytes.
	db, err := Open(t.TempDir(), Options{Now: func() time.Time { return sampleNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	writeAudit(t, db)
	if now := auditJSONL(t, db); !bytes.Equal(now, raw) {
		t.Errorf("this build writes the audit log differently (the entry encoding or the chain hash changed):\nfrozen %s\nnow    %s", raw, now)
	}
}

// testSampleBackup opens the frozen backup container in dir (of the given
// format version; version 2 is opened with the court's key first),
// restores it into a new store with the court's key, and reads the case,
// its document and the audit log back. Each backup sample has the records
// it holds frozen beside it.
func testSampleBackup(t *testing.T, dir string, version uint32) {
	raw := readSample(t, dir+"backup.cmbackup")
	if string(raw[:8]) != backupMagic || binary.BigEndian.Uint32(raw[8:12]) != version {
		t.Fatalf("backup header % x, want version %d", raw[:12], version)
	}
	clear := raw
	if version == backupVersion {
		or, err := newOpenReader(bufio.NewReader(bytes.NewReader(raw)), sampleEncKey(t))
		if err != nil {
			t.Fatalf("frozen backup: %v", err)
		}
		if clear, err = io.ReadAll(or); err != nil {
			t.Fatalf("frozen backup: %v", err)
		}
		if bytes.Contains(raw, []byte("某某科技有限公司")) || bytes.Contains(raw, []byte(sampleCaseNo.String())) {
			t.Error("the sealed backup holds the case's respondent or number in clear")
		}
	}
	if string(clear[:8]) != backupMagic || binary.BigEndian.Uint32(clear[8:12]) != backupVersion1 {
		t.Fatalf("backup container header % x", clear[:12])
	}
	var chunks []crypto.ChunkID
	st, err := decodeBackup(bufio.NewReader(bytes.NewReader(clear[12:])),
		func(id crypto.ChunkID, _ []byte) error { chunks = append(chunks, id); return nil },
		func([]byte) error { return nil })
	if err != nil {
		t.Fatalf("frozen backup: %v", err)
	}
	var v CaseVersion
	if err := jsonUnmarshal(readSample(t, dir+"case-version.json"), &v); err != nil {
		t.Fatal(err)
	}
	wantChunks := append(slices.Clone(v.Documents[0].Chunks), v.Source.Chunks...)
	slices.SortFunc(chunks, func(a, b crypto.ChunkID) int { return bytes.Compare(a[:], b[:]) })
	slices.SortFunc(wantChunks, func(a, b crypto.ChunkID) int { return bytes.Compare(a[:], b[:]) })
	if st.chunks != 2 || !slices.Equal(chunks, wantChunks) || st.metaBytes == 0 {
		t.Errorf("backup holds %d chunks %v and %d record bytes, want the case's chunks %v", st.chunks, chunks, st.metaBytes, wantChunks)
	}

	ctx := context.Background()
	db, err := Open(t.TempDir(), Options{Decrypter: sampleEncKey(t), ChunkSize: crypto.MinChunkSize, Now: func() time.Time { return sampleNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Restore(ctx, bytes.NewReader(raw)); err != nil {
		t.Fatalf("restore the frozen backup: %v", err)
	}
	// The records restored are the stored records frozen beside it.
	if got := rawValue(t, db, caseKey(sampleCaseNo)); !bytes.Equal(got, readSample(t, dir+"case-record.json")) {
		t.Errorf("restored case record differs from case-record.json:\n%s", got)
	}
	if got := rawValue(t, db, versionKey(sampleCaseNo, 1)); !bytes.Equal(got, readSample(t, dir+"case-version.json")) {
		t.Errorf("restored case version differs from case-version.json:\n%s", got)
	}
	if got := auditJSONL(t, db); !bytes.Equal(got, readSample(t, dir+"audit.jsonl")) {
		t.Errorf("restored audit log differs from audit.jsonl:\n%s", got)
	}
	// And they open with the court's key.
	var doc bytes.Buffer
	if err := db.ReadDocument(ctx, sampleCaseNo, "d1", &doc); err != nil || !bytes.Equal(doc.Bytes(), sampleDoc) {
		t.Errorf("document d1 of the restored case: %q, %v", doc.Bytes(), err)
	}
	if id, err := db.PartyID(sampleCaseNo, "p1"); err != nil || id != sampleIDNumber {
		t.Errorf("party p1's identity number: %q, %v", id, err)
	}
	if n, err := db.Cases(ctx, court.StatusActive); err != nil || len(n) != 1 || n[0].Number != sampleCaseNo {
		t.Errorf("active cases after restore: %v, %v", n, err)
	}
	if exp, err := db.ExpiringMeasures(ctx, court.Date{Year: 2026, Month: 3, Day: 16}, 3650); err != nil || len(exp) != 1 || exp[0].Measure.ID != "m1" || exp[0].Case != sampleCaseNo {
		t.Errorf("the expiry index after restore: %+v, %v", exp, err)
	}
}

// testSamplePacks opens a frozen pack and its index with this build, and
// checks that this build writes the same two files.
func testSamplePacks(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, packDir), 0o700); err != nil {
		t.Fatal(err)
	}
	frozen := map[string][]byte{}
	for _, name := range []string{"00000000.pack", "00000000.idx"} {
		frozen[name] = readSample(t, "packs/"+name)
		if err := os.WriteFile(filepath.Join(dir, packDir, name), frozen[name], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(frozen["00000000.idx"]); n != 4*packEntry {
		t.Fatalf("frozen index of %d bytes, want 3 entries and a tombstone of %d bytes each", n, packEntry)
	}
	c, err := OpenFileChunks(dir)
	if err != nil {
		t.Fatalf("open the frozen pack: %v", err)
	}
	for i, s := range samplePackChunks {
		id, want := chunkOf(s)
		got, err := c.Append(nil, id)
		switch {
		case i == 1:
			if ok, _ := c.Has(id); ok || err == nil {
				t.Errorf("deleted chunk %q still readable: %q, %v", s, got, err)
			}
		case err != nil || !bytes.Equal(got, want):
			t.Errorf("chunk %q from the frozen pack: %q, %v", s, got, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	wdir := t.TempDir()
	writePackSample(t, wdir)
	for name, want := range frozen {
		got, err := os.ReadFile(filepath.Join(wdir, packDir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: this build writes\n%x\nthe frozen sample is\n%x\n(%v)", name, got, want, err)
		}
	}
}
