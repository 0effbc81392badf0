package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/evidence"
)

// TestEvidenceRoundTrip plays the demo with its data kept, lists the
// transfer from the stopped receiver's store, exports its evidence,
// verifies it with the national root alone, then flips one byte in each
// part of the file: every copy is refused, naming that part.
func TestEvidenceRoundTrip(t *testing.T) {
	e := newE2E(t)
	keep := filepath.Join(t.TempDir(), "keep")
	out := e.must(t, "demo", "--once", "--keep", keep)
	if !strings.Contains(out, keep) {
		t.Fatalf("demo --keep does not say where the data is kept:\n%s", tail(out, 800))
	}
	data := filepath.Join(keep, "京0108")
	var all, ts []api.Transfer
	e.mustJSON(t, &all, "transfer", "list", "--data", data, "--json")
	for _, tr := range all {
		// The demo's story transfer; the modes' (协同, 督促, 集中) are beside it.
		if tr.Mode == "指令执行" {
			ts = append(ts, tr)
		}
	}
	if len(ts) != 1 || ts[0].ID == "" || ts[0].Receiver != "京0108" {
		t.Fatalf("the stopped receiver lists %+v, want the demo's one 指令执行 transfer", ts)
	}
	file := filepath.Join(t.TempDir(), "evidence.json")
	e.must(t, "evidence", "export", "--data", data, string(ts[0].ID), "--out", file)
	if out, err := e.run("evidence", "export", "--data", data, string(ts[0].ID), "--out", file); err == nil {
		t.Fatalf("an export over an existing file succeeded:\n%s", out)
	}
	root := filepath.Join(data, "root.cert")
	out = e.must(t, "evidence", "verify", file, "--root", root)
	if !strings.Contains(out, "every part verifies") || !strings.Contains(out, "(given)") {
		t.Fatalf("verify says:\n%s", out)
	}
	out = e.must(t, "evidence", "verify", file)
	if !strings.Contains(out, "compare this fingerprint") {
		t.Fatalf("verify without --root does not ask for the fingerprint to be compared:\n%s", out)
	}

	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f, err := evidence.Read(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != len(ts[0].Records) || len(f.Bundles) != 2 || f.Audit.Witnessed == nil {
		t.Fatalf("the file holds %d records (the transfer %d), %d bundles (want 2: before and after the revocation), witnessed head %v",
			len(f.Records), len(ts[0].Records), len(f.Bundles), f.Audit.Witnessed != nil)
	}
	// Each part and the span of the file that holds it.
	// A blob is found by its whole quoted value: a certificate's base64
	// may also occur inside a bundle's.
	type part struct{ name, text string }
	blob := func(b evidence.Blob) string { return fmt.Sprintf(`"b64": %q`, b.B64) }
	var parts []part
	parts = append(parts, part{"root", blob(f.Root)})
	for i, b := range f.Bundles {
		parts = append(parts, part{fmt.Sprintf("bundle %d", i+1), blob(b)})
	}
	for i, b := range f.Certificates {
		parts = append(parts, part{fmt.Sprintf("certificate %d", i+1), blob(b)})
	}
	for i, b := range f.Records {
		parts = append(parts, part{fmt.Sprintf("record %d", i+1), blob(b)})
	}
	for _, en := range f.Audit.Entries {
		// The entry's own hash, as written in the file.
		parts = append(parts, part{fmt.Sprintf("audit entry %d", en.Seq), fmt.Sprintf(`"hash": %q`, en.Hash)})
	}
	parts = append(parts, part{"audit head", blob(f.Audit.Head)}, part{"witnessed head", blob(*f.Audit.Witnessed)})
	for _, p := range parts {
		t.Run(p.name, func(t *testing.T) {
			i := strings.Index(string(raw), p.text)
			if i < 0 || strings.Count(string(raw), p.text) != 1 {
				t.Fatalf("the part's text is not found once in the file")
			}
			flipped := []byte(string(raw))
			at := i + len(p.text)/2
			if strings.HasPrefix(p.text, `"hash"`) {
				at = i + len(p.text) - 3 // a hex digit of the hash
			}
			flipped[at] = flip(flipped[at])
			bad := filepath.Join(t.TempDir(), "flipped.json")
			if err := os.WriteFile(bad, flipped, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := e.run("evidence", "verify", bad, "--root", root)
			if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 8 {
				t.Fatalf("verify of a file with one byte flipped in %s: %v (want exit status 8, corrupt)\n%s", p.name, err, out)
			}
			if !strings.Contains(out, "does not verify: "+p.name) {
				t.Fatalf("the refusal does not name %s first:\n%s", p.name, out)
			}
		})
	}
}

// flip changes one base64 or hex character into another of its alphabet.
func flip(c byte) byte {
	switch {
	case c == '0':
		return '1'
	case c >= '1' && c <= '9':
		return '0'
	case c == 'a' || c == 'A':
		return c + 1
	case c >= 'b' && c <= 'z', c >= 'B' && c <= 'Z':
		return c - 1
	}
	return 'A' // '+' or '/'
}
