package ca

import (
	"os"
	"path/filepath"
	"testing"

	"courtmesh.dev/courtmesh/internal/atomicfile"
)

// TestCrashDebris: the temporary files a crash leaves behind (a write cut
// short before its rename) neither hide nor corrupt the state.
func TestCrashDebris(t *testing.T) {
	root := newRoot(t)
	c := must(root.Issue(courtTemplate(t, "沪0101")))
	if _, err := root.Bundle(fixNow, bundleV, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		filepath.Join(root.dir, atomicfile.TempPrefix+StateFile+".tmp123"),
		filepath.Join(root.dir, IssuedDir, atomicfile.TempPrefix+"77.cert.tmp456"),
	} {
		if err := os.WriteFile(p, []byte("half a fil"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reopened, err := Open(root.dir)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := reopened.Issued()
	if err != nil {
		t.Fatalf("Issued with a temporary file in issued/: %v", err)
	}
	if len(certs) != 1 || certs[0].Serial != c.Serial {
		t.Fatalf("Issued: %v", certs)
	}
	b, err := reopened.Bundle(fixNow, bundleV, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Sequence != 2 {
		t.Fatalf("sequence %d, want 2", b.Sequence)
	}
}
