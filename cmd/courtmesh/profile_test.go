package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/devmesh"
)

// TestRunWritesProfiles: `courtmesh run --cpuprofile F --memprofile G`
// (here through the mesh test's COURTMESH_MESH_PROFILE) leaves a CPU and
// a heap profile, gzipped protobufs as `go tool pprof` reads them, once
// the node stops on SIGTERM.
func TestRunWritesProfiles(t *testing.T) {
	e := sharedE2E(t)
	base := t.TempDir()
	m, err := devmesh.Build(base, []devmesh.Court{{Code: court.CourtCode("京0105"), Roles: []crypto.Role{crypto.RoleCourt}}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	prof := t.TempDir()
	t.Setenv(meshProfileEnv, prof)
	p := &meshProc{ip: "127.1.9.1"}
	p.e2eCourt = &e2eCourt{code: "京0105", dir: string(m.Dirs[0])}
	p.startProc(t, e, base)
	stopAll(t, []*meshProc{p})
	for _, kind := range []string{"cpu", "heap"} {
		f := filepath.Join(prof, "n0.京0105.run1."+kind+".pprof")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("no %s profile: %v", kind, err)
		}
		if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Fatalf("%s: not a gzipped profile (%d bytes)", f, len(b))
		}
	}
}
