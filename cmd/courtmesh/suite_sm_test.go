package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/nodetest"
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

// TestPKCS11InitCLI: `courtmesh init --pkcs11-module --pkcs11-token`
// with the real binary and SoftHSM2: the node key is made in the token,
// node.key names it, the PIN comes from a 0600 file or the environment
// (there is no PIN flag), and a wrong PIN or an unknown token exits with
// the statuses the operations guide gives.
func TestPKCS11InitCLI(t *testing.T) {
	const pin = "1234-cli"
	module := nodetest.SoftHSM(t, "cli-token", pin)
	e := newE2E(t)
	base := t.TempDir()
	pinFile := filepath.Join(base, "pin")
	if err := os.WriteFile(pinFile, []byte(pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	exit := func(want int, args ...string) string {
		t.Helper()
		out, err := e.run(args...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != want {
			t.Fatalf("%v: %v, want exit status %d\n%s", args, err, want, out)
		}
		return out
	}
	wrong := filepath.Join(base, "wrong")
	if err := os.WriteFile(wrong, []byte("0000"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := exit(exitPermission, "init", "--data", filepath.Join(base, "w"), "--pkcs11-module", module, "--pkcs11-token", "cli-token", "--pkcs11-pin-file", wrong); !strings.Contains(out, "refused the PIN") {
		t.Fatalf("wrong PIN:\n%s", out)
	}
	if out := exit(exitNotFound, "init", "--data", filepath.Join(base, "m"), "--pkcs11-module", module, "--pkcs11-token", "no-such-token", "--pkcs11-pin-file", pinFile); !strings.Contains(out, "cli-token") {
		t.Fatalf("unknown token: the error does not list the tokens present:\n%s", out)
	}
	exit(exitUsage, "init", "--data", filepath.Join(base, "u"), "--pkcs11-pin", pin)
	d := filepath.Join(base, "n")
	if out := e.must(t, "init", "--data", d, "--pkcs11-module", module, "--pkcs11-token", "cli-token", "--pkcs11-pin-file", pinFile); !strings.Contains(out, "PKCS#11 token") {
		t.Fatalf("init:\n%s", out)
	}
	ref, pub, ok, err := crypto.ReadTokenKeyRef(filepath.Join(d, crypto.NodeKeyFile))
	if err != nil || !ok || ref.Token != "cli-token" || ref.PINFile != pinFile {
		t.Fatalf("node.key: %+v %v %v", ref, ok, err)
	}
	id, err := readIdentity(filepath.Join(d, "identity.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !id.SigningKey.Equals(pub) {
		t.Fatal("identity.json does not carry the token's key")
	}
	if err := id.VerifySignature(); err != nil {
		t.Fatalf("identity signed in the token does not verify: %v", err)
	}
}
