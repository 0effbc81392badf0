package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/datadir"
)

// TestCAIdentityCLI drives the offline certification flow with the real
// binary: what `ca issue` refuses and what it tells the operator to run,
// the warning about a court's live certificate, and `ca list` marking a
// revoked certificate.
func TestCAIdentityCLI(t *testing.T) {
	e := newE2E(t)
	base := t.TempDir()
	root := filepath.Join(base, "root")
	e.must(t, "ca", "init", "--dir", root)
	a, b, c := filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "c")
	for _, d := range []string{a, b, c} {
		e.must(t, "init", "--data", d)
	}
	idFile := func(d string) string { return filepath.Join(d, datadir.IdentityFile) }
	readID := func(d string) map[string]any {
		raw, err := os.ReadFile(idFile(d))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	writeID := func(path string, m map[string]any) {
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(t *testing.T, exit int, want []string, args ...string) {
		t.Helper()
		out, err := e.run(args...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exit {
			t.Fatalf("%v: %v, want exit status %d\n%s", args, err, exit, out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: the error does not say %q:\n%s", args, w, out)
			}
		}
	}

	// An old unsigned identity.json: refused with what to run.
	old := readID(a)
	old["version"] = 1
	delete(old, "signature")
	oldFile := filepath.Join(base, "old-identity.json")
	writeID(oldFile, old)
	refused(t, exitInvalid, []string{"not signed", "courtmesh ca challenge", "courtmesh identity prove"}, "ca", "issue", "--dir", root, "--identity", oldFile, "--code", "京0105")
	// Signed by init, but not proven yet.
	refused(t, exitInvalid, []string{"proof of possession", "courtmesh ca challenge"}, "ca", "issue", "--dir", root, "--identity", idFile(a), "--code", "京0105")

	aSerial := certSerial(t, e.issue(t, root, a, "--code", "京0105"))

	// b's identity with a's encryption key swapped in: the node key's
	// signature no longer verifies.
	forged := readID(b)
	forged["encryption_key"] = readID(a)["encryption_key"]
	forgedFile := filepath.Join(base, "forged-identity.json")
	writeID(forgedFile, forged)
	refused(t, exitInvalid, []string{"signature"}, "ca", "issue", "--dir", root, "--identity", forgedFile, "--code", "京0106")
	// a's own (proven) identity for another court: a conflict naming 京0105.
	refused(t, exitConflict, []string{"京0105", "already certified"}, "ca", "issue", "--dir", root, "--identity", idFile(a), "--code", "京0106")

	// A second node for 京0105: issued, with a warning naming the live
	// certificate and how to revoke it.
	e.prove(t, root, c)
	out, err := e.run("ca", "issue", "--dir", root, "--identity", idFile(c), "--code", "京0105")
	if err != nil {
		t.Fatalf("ca issue (second node of 京0105): %v\n%s", err, out)
	}
	for _, w := range []string{"warning", "serial " + strconv.FormatUint(aSerial, 10), "courtmesh ca revoke --dir " + root + " --serial " + strconv.FormatUint(aSerial, 10)} {
		if !strings.Contains(out, w) {
			t.Errorf("ca issue does not say %q:\n%s", w, out)
		}
	}

	// A revocation says up to where the key's records stay valid.
	aS := strconv.FormatUint(aSerial, 10)
	refused(t, exitInvalid, []string{"--witness", "courtmesh trust head", "--last-trusted-seq", "--from-start"}, "ca", "revoke", "--dir", root, "--serial", aS, "--reason", "replaced (test)")
	refused(t, exitInvalid, []string{"64 hex digits"}, "ca", "revoke", "--dir", root, "--serial", aS, "--reason", "replaced (test)", "--last-trusted-seq", "3", "--last-trusted-head", "abc")
	refused(t, exitInvalid, []string{"go together"}, "ca", "revoke", "--dir", root, "--serial", aS, "--reason", "replaced (test)", "--last-trusted-seq", "3")
	wrong := filepath.Join(base, "head-other.json")
	os.WriteFile(wrong, []byte(`{"version":1,"serial":1,"last_trusted_seq":3,"last_trusted_head":"`+strings.Repeat("ab", 32)+`"}`), 0o644)
	refused(t, exitInvalid, []string{"serial 1, not " + aS}, "ca", "revoke", "--dir", root, "--serial", aS, "--reason", "replaced (test)", "--witness", wrong)
	e.must(t, "ca", "revoke", "--dir", root, "--serial", aS, "--reason", "replaced (test)", "--from-start")
	// Revoked from the start, then given the head its node witnessed: the
	// records up to it are valid again.
	head := filepath.Join(base, "head-"+aS+".json")
	os.WriteFile(head, []byte(`{"version":1,"serial":`+aS+`,"last_trusted_seq":3,"last_trusted_head":"`+strings.Repeat("ab", 32)+`","source":"witnessed"}`), 0o644)
	if out := e.must(t, "ca", "revoke", "--dir", root, "--serial", aS, "--reason", "replaced (test)", "--witness", head); !strings.Contains(out, "after record 3") {
		t.Errorf("ca revoke --witness: %s", out)
	}
	// A second, different position is refused.
	refused(t, exitConflict, []string{"already revoked with last trusted record 3"}, "ca", "revoke", "--dir", root, "--serial", aS, "--reason", "replaced (test)", "--last-trusted-seq", "4", "--last-trusted-head", strings.Repeat("cd", 32))
	if out := e.must(t, "ca", "bundle", "--dir", root, "--out", filepath.Join(base, "bundle.pb")); !strings.Contains(out, "1 revocations") {
		t.Errorf("ca bundle: %s", out)
	}
	list := e.must(t, "ca", "list", "--dir", root)
	if !regexp.MustCompile(`(?m)^` + strconv.FormatUint(aSerial, 10) + `\s+京0105\s.*REVOKED \d{4}-\d\d-\d\d after #3`).MatchString(list) {
		t.Errorf("ca list does not mark serial %d revoked:\n%s", aSerial, list)
	}
	if n := strings.Count(list, " live "); n != 1 {
		t.Errorf("ca list shows %d live certificates, want 1:\n%s", n, list)
	}
	var id crypto.Identity
	raw, _ := os.ReadFile(idFile(c))
	if err := json.Unmarshal(raw, &id); err != nil || id.Version != crypto.IdentityVersion || id.Proof == nil {
		t.Errorf("identity prove wrote version %d, proof %v (%v)", id.Version, id.Proof, err)
	}
}
