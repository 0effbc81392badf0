package nodetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// SoftHSMModules are where Debian's softhsm2 package puts its module.
var SoftHSMModules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
}

// SoftHSM makes a fresh SoftHSM2 token store in a temporary directory
// (SOFTHSM2_CONF, set for the rest of the test), initialises a token with
// the given label, user PIN and SO PIN "so-"+pin, and returns the module
// path. Without SoftHSM2 the test is skipped, unless
// COURTMESH_REQUIRE_SOFTHSM is set (CI installs it), which fails it.
// The PKCS#11 module reads SOFTHSM2_CONF once, when it is first loaded in
// the process, and the store is removed with the test: call it from one
// test per test binary.
func SoftHSM(t *testing.T, label, pin string) string {
	t.Helper()
	module := ""
	for _, m := range SoftHSMModules {
		if _, err := os.Stat(m); err == nil {
			module = m
			break
		}
	}
	util, err := exec.LookPath("softhsm2-util")
	if module == "" || err != nil {
		if os.Getenv("COURTMESH_REQUIRE_SOFTHSM") != "" {
			t.Fatalf("SoftHSM2 is required (COURTMESH_REQUIRE_SOFTHSM) but not installed: apt-get install softhsm2")
		}
		t.Skip("SoftHSM2 not installed (apt-get install softhsm2)")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "so-"+pin).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return module
}
