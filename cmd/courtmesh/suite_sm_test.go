package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSuiteSMCLI drives the offline certification of an SM mesh with the
// real binary: `ca init --suite sm`, `init --root` following the root's
// suite, prove, issue, bundle, trust install; and the refusals of a node
// whose keys are of the other suite.
func TestSuiteSMCLI(t *testing.T) {
	e := newE2E(t)
	base := t.TempDir()
	root := filepath.Join(base, "root")
	if out := e.must(t, "ca", "init", "--dir", root, "--suite", "sm"); !strings.Contains(out, "suite sm") {
		t.Fatalf("ca init --suite sm:\n%s", out)
	}
	rootCert := filepath.Join(root, "root.cert")
	a, v1 := filepath.Join(base, "a"), filepath.Join(base, "v1")
	if out := e.must(t, "init", "--data", a, "--root", rootCert); !strings.Contains(out, "SM2 signing key") {
		t.Fatalf("init --root:\n%s", out)
	}
	e.must(t, "init", "--data", v1)
	e.issue(t, root, a, "--code", "京0105")

	// A v1 identity is refused by the SM root, naming both suites.
	e.prove(t, root, v1)
	out, err := e.run("ca", "issue", "--dir", root, "--identity", filepath.Join(v1, "identity.json"), "--code", "京0108")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInvalid || !strings.Contains(out, "suite v1") || !strings.Contains(out, "suite sm") {
		t.Fatalf("ca issue of a v1 identity by an SM root: %v\n%s", err, out)
	}

	b1 := filepath.Join(base, "b1.pb")
	e.must(t, "ca", "bundle", "--dir", root, "--out", b1)
	if out := e.must(t, "trust", "install", "--data", a, "--root", rootCert, "--bundle", b1); !strings.Contains(out, "京0105") {
		t.Fatalf("trust install:\n%s", out)
	}
	out, err = e.run("trust", "install", "--data", v1, "--root", rootCert, "--bundle", b1)
	if !errors.As(err, &ee) || ee.ExitCode() != exitInvalid || !strings.Contains(out, "courtmesh init --data") {
		t.Fatalf("trust install of an SM bundle into a v1 directory: %v\n%s", err, out)
	}
}
