package importer_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// mutate returns a copy of the case folder src whose case.json was passed
// through edit (as a generic JSON tree).
func mutate(t *testing.T, src string, edit func(m map[string]any)) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "case")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		raw, err := os.ReadFile(filepath.Join(dst, "case.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		out, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dst, "case.json"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

type zipEntry struct {
	name string
	data []byte
	mode fs.FileMode
}

// zipOf zips a case folder, then appends extra entries.
func zipOf(t *testing.T, dir string, extra ...zipEntry) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "case.zip")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(e zipEntry) {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if dir != "" {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			b, err := os.ReadFile(p)
			add(zipEntry{name: filepath.ToSlash(rel), data: b})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range extra {
		add(e)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func list(m map[string]any, key string) []any { return m[key].([]any) }
func obj(v any) map[string]any                { return v.(map[string]any) }

// depositFreeze returns the first freeze measure on a deposit; the
// generated fixture always has one, and the test fails if it does not.
func depositFreeze(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	classes := map[string]string{}
	for _, a := range list(m, "assets") {
		classes[obj(a)["id"].(string)] = obj(a)["class"].(string)
	}
	for _, x := range list(m, "measures") {
		if obj(x)["kind"] == "freeze" && classes[obj(x)["asset"].(string)] == "deposit" {
			return obj(x)
		}
	}
	t.Fatal("the generated case has no freeze on a deposit; the fixture changed")
	return nil
}

func measureIndex(m map[string]any, want map[string]any) int {
	for i, x := range list(m, "measures") {
		if obj(x)["id"] == want["id"] {
			return i
		}
	}
	return -1
}

// TestBadInput imports malformed cases into a store holding one good case:
// each fails with a ValidationError naming the field and what is wrong,
// and the store's full key listing is unchanged.
//
// It is long on purpose: one table of malformed imports.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	cases, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 2, Seed: 11, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	good := cases[0].Dir // case 1 has a deposit freeze 20 days from expiry
	db := openStore(t, newDataDir(t))
	defer db.Close()
	if _, err := importer.Import(ctx, db, cases[1].Dir, importer.Options{}); err != nil {
		t.Fatal(err)
	}
	before := keys(t, db)

	freezeIdx := -1
	tests := []struct {
		name     string
		input    func(t *testing.T) string
		opts     importer.Options
		wantPath string
		wantMsg  string
	}{
		{"bad case number", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { m["case_number"] = "（2024）京0105执abc号" })
		}, importer.Options{}, "case_number", "case number"},
		{"not an enforcement case", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { m["case_number"] = "（2024）京0105民初12号" })
		}, importer.Options{}, "case_number", "not an enforcement"},
		{"court does not match case number", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { m["court"] = "京0106" })
		}, importer.Options{}, "court", "does not match"},
		{"malformed phone (not repeated in the error)", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { obj(list(m, "parties")[0])["phone"] = "138 1234 5678" })
		}, importer.Options{}, "parties[0].phone", "value not shown"},
		{"unknown asset class", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { obj(list(m, "assets")[0])["class"] = "gold bars" })
		}, importer.Options{}, "assets[0].class", "unknown asset class"},
		{"expiry beyond the legal limit", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) {
				f := depositFreeze(t, m)
				freezeIdx = measureIndex(m, f)
				eff, _ := court.ParseDate(f["effective"].(string))
				f["expiry"] = eff.AddDate(1, 0, 10).String()
			})
		}, importer.Options{}, "measures[*].expiry", "beyond the legal limit of 1 year(s) for 银行存款 (latest"},
		{"measure kind not applicable to the asset class", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) {
				f := depositFreeze(t, m)
				freezeIdx = measureIndex(m, f)
				f["kind"] = "seal"
			})
		}, importer.Options{}, "measures[*].kind", "cannot be taken on asset"},
		{"a nature on property other than class other", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { obj(list(m, "assets")[0])["nature"] = "movable" })
		}, importer.Options{}, "assets[0].nature", "only property of class other"},
		{"unknown measure kind", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { obj(list(m, "measures")[0])["kind"] = "confiscate" })
		}, importer.Options{}, "measures[0].kind", "unknown measure kind"},
		{"missing file", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { obj(list(m, "documents")[0])["file"] = "docs/nope.pdf" })
		}, importer.Options{}, "documents[0].file", "is missing"},
		{"file path leaves the folder", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { obj(list(m, "documents")[0])["file"] = "../outside.pdf" })
		}, importer.Options{}, "documents[0].file", "leaves the case folder"},
		{"absolute file path", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { obj(list(m, "documents")[0])["file"] = "/etc/passwd" })
		}, importer.Options{}, "documents[0].file", "absolute"},
		{"oversized file", func(t *testing.T) string { return mutate(t, good, nil) },
			importer.Options{MaxDocumentSize: 200}, "documents[0].file", "larger than the limit of 200 bytes"},
		{"case.json too large", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { obj(m["title"])["issuer"] = strings.Repeat("法", 90) })
		}, importer.Options{MaxCaseJSON: 512}, "case.json", "larger than the limit"},
		{"duplicate party id", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { obj(list(m, "parties")[1])["id"] = "p1" })
		}, importer.Options{}, "parties[1].id", "duplicate party id"},
		{"duplicate document id", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { obj(list(m, "documents")[1])["id"] = "d1" })
		}, importer.Options{}, "documents[1].id", "duplicate document id"},
		{"unknown field", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { obj(list(m, "measures")[0])["colour"] = "red" })
		}, importer.Options{}, "measures[0].colour", "unknown field"},
		{"wrong type", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { m["claim_fen"] = "a lot" })
		}, importer.Options{}, "claim_fen", "want an integer, got a string"},
		{"dates out of order", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { m["applied"] = "2001-01-01" })
		}, importer.Options{}, "applied", "dates out of order"},
		{"invalid date", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { m["filed"] = "2023-02-30" })
		}, importer.Options{}, "filed", "does not exist"},
		{"empty parties", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { m["parties"] = []any{} })
		}, importer.Options{}, "parties", "want at least 2"},
		{"no respondent", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) {
				for _, p := range list(m, "parties") {
					obj(p)["role"] = "applicant"
				}
			})
		}, importer.Options{}, "parties", "no respondent"},
		{"invalid ID check digit", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) {
				p := obj(list(m, "parties")[0])
				id := p["id_number"].(string)
				last := id[17]
				p["id_number"] = id[:17] + map[bool]string{true: "1", false: "0"}[last == '0' || last == 'X']
			})
		}, importer.Options{}, "parties[0].id_number", "check"},
		{"renewal without the measure it renews", func(t *testing.T) string {
			return mutate(t, good, func(m map[string]any) { obj(list(m, "measures")[0])["kind"] = "renewal" })
		}, importer.Options{}, "measures[0].renews", "must name the measure it renews"},
		{"not JSON", func(t *testing.T) string {
			d := mutate(t, good, nil)
			os.WriteFile(filepath.Join(d, "case.json"), []byte("{\"format\": "), 0o644)
			return d
		}, importer.Options{}, "(root)", "not valid JSON"},
		{"path traversal in zip", func(t *testing.T) string {
			return zipOf(t, good, zipEntry{name: "../../evil.pdf", data: []byte("x")})
		}, importer.Options{}, "zip:../../evil.pdf", "leaves the case folder"},
		{"absolute path in zip", func(t *testing.T) string {
			return zipOf(t, good, zipEntry{name: "/tmp/evil.pdf", data: []byte("x")})
		}, importer.Options{}, "zip:/tmp/evil.pdf", "absolute"},
		{"symlink in zip", func(t *testing.T) string {
			return zipOf(t, good, zipEntry{name: "docs/link.pdf", data: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777})
		}, importer.Options{}, "zip:docs/link.pdf", "symbolic link"},
		{"duplicate name in zip", func(t *testing.T) string {
			return zipOf(t, good, zipEntry{name: "docs/d1.pdf", data: []byte("%PDF-1.4 other")})
		}, importer.Options{}, "zip:docs/d1.pdf", "appears twice"},
		{"zip bomb", func(t *testing.T) string {
			d := mutate(t, good, nil)
			os.Remove(filepath.Join(d, "docs", "d1.pdf"))
			return zipOf(t, d, zipEntry{name: "docs/d1.pdf", data: make([]byte, 32<<20)})
		}, importer.Options{}, "documents[0].file", "zip bomb"},
		{"zip bomb whose directory lies about its compressed size", func(t *testing.T) string {
			d := mutate(t, good, nil)
			os.Remove(filepath.Join(d, "docs", "d1.pdf"))
			path := zipOf(t, d, zipEntry{name: "docs/d1.pdf", data: make([]byte, 32<<20)})
			z, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// The central directory entry of the bomb claims 100 MiB of
			// compressed data: by the directory, the ratio looks harmless.
			patched := false
			for i := bytes.Index(z, []byte("PK\x01\x02")); i >= 0 && i+46 < len(z); {
				nl := int(binary.LittleEndian.Uint16(z[i+28:]))
				if string(z[i+46:i+46+nl]) == "docs/d1.pdf" {
					binary.LittleEndian.PutUint32(z[i+20:], 100<<20)
					patched = true
					break
				}
				j := bytes.Index(z[i+4:], []byte("PK\x01\x02"))
				if j < 0 {
					break
				}
				i += 4 + j
			}
			if !patched {
				t.Fatal("no central directory entry for docs/d1.pdf")
			}
			if err := os.WriteFile(path, z, 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}, importer.Options{}, "documents[0].file", "zip bomb"},
		{"zip whose directory declares fewer bytes than an entry holds", func(t *testing.T) string {
			return patchCentral(t, zipOf(t, mutate(t, good, nil)), "docs/d1.pdf", 24, 10)
		}, importer.Options{}, "documents[0].file", "longer in the zip than the 10 bytes the archive's directory declares for it"},
		{"zip whose directory declares more bytes than an entry holds", func(t *testing.T) string {
			return patchCentral(t, zipOf(t, mutate(t, good, nil)), "docs/d1.pdf", 24, 100000)
		}, importer.Options{}, "documents[0].file", "not the 100000 the archive's directory declares for it"},
		{"zip whose directory declares fewer compressed bytes than an entry holds", func(t *testing.T) string {
			return patchCentral(t, zipOf(t, mutate(t, good, nil)), "docs/d1.pdf", 20, 10)
		}, importer.Options{}, "documents[0].file", "does not match the 10 compressed bytes the archive's directory declares for it"},
		{"zip entry whose checksum does not match", func(t *testing.T) string {
			return patchCentral(t, zipOf(t, mutate(t, good, nil)), "docs/d1.pdf", 16, 12345)
		}, importer.Options{}, "documents[0].file", "does not match the checksum"},
		{"symlink in folder", func(t *testing.T) string {
			d := mutate(t, good, nil)
			p := filepath.Join(d, "docs", "d1.pdf")
			os.Remove(p)
			if err := os.Symlink("/etc/passwd", p); err != nil {
				t.Skip("symlinks unsupported:", err)
			}
			return d
		}, importer.Options{}, "documents[0].file", "symbolic link"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.input(t)
			_, err := importer.Import(ctx, db, path, tc.opts)
			var ve *importer.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, court.ErrInvalid) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			wantPath := strings.ReplaceAll(tc.wantPath, "[*]", "["+itoa(freezeIdx)+"]")
			found := false
			for _, fe := range ve.Errs {
				if fe.Path == wantPath && strings.Contains(fe.Msg, tc.wantMsg) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no error at %s containing %q; got:\n%v", wantPath, tc.wantMsg, err)
			}
			t.Logf("%v", err)
			if after := keys(t, db); !sameKeys(before, after) {
				t.Fatalf("the store changed: %d keys before, %d after", len(before), len(after))
			}
		})
	}
}

// patchCentral overwrites the 32-bit field at offset off (16 CRC-32, 20
// compressed size, 24 uncompressed size) of entry name's central
// directory record in the zip at path, with v.
func patchCentral(t *testing.T, path, name string, off int, v uint32) string {
	t.Helper()
	z, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := bytes.Index(z, []byte("PK\x01\x02")); i >= 0 && i+46 < len(z); {
		nl := int(binary.LittleEndian.Uint16(z[i+28:]))
		if string(z[i+46:i+46+nl]) == name {
			binary.LittleEndian.PutUint32(z[i+off:], v)
			if err := os.WriteFile(path, z, 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}
		j := bytes.Index(z[i+4:], []byte("PK\x01\x02"))
		if j < 0 {
			break
		}
		i += 4 + j
	}
	t.Fatalf("no central directory entry for %s", name)
	return ""
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestAllErrorsReported: several problems come back together.
func TestAllErrorsReported(t *testing.T) {
	cases, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: 5, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	d := mutate(t, cases[0].Dir, func(m map[string]any) {
		m["court"] = "贵0101"
		obj(list(m, "assets")[0])["owner"] = "nobody"
		obj(list(m, "documents")[0])["file"] = "docs/missing.pdf"
	})
	_, err = importer.Import(context.Background(), nil, d, importer.Options{})
	var ve *importer.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	paths := map[string]bool{}
	for _, fe := range ve.Errs {
		paths[fe.Path] = true
	}
	for _, want := range []string{"court", "assets[0].owner", "documents[0].file"} {
		if !paths[want] {
			t.Errorf("no error at %s in:\n%v", want, err)
		}
	}
}

// TestZipImport: a well-formed zip imports like its folder.
func TestZipImport(t *testing.T) {
	cases, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: 5, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t, newDataDir(t))
	defer db.Close()
	res, err := importer.Import(context.Background(), db, zipOf(t, cases[0].Dir), importer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res2, err := importer.Import(context.Background(), db, cases[0].Dir, importer.Options{})
	if err != nil || !res2.Unchanged || res.Version != 1 {
		t.Fatalf("folder after zip: %+v, %v (want unchanged)", res2.PutResult, err)
	}
}
