package trust

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// TestBundleInForceOffline: what a node installed as deltas is what the
// offline readers of its data directory see (doctor, the offline case
// commands, trust install): the sequence the deltas made, a court that a
// delta certified, and an older whole bundle refused as stale.
func TestBundleInForceOffline(t *testing.T) {
	m := nodetest.NewTrustMesh(t)
	s := newService(t, m, 0)
	now := time.Now()

	// A new court, certified by a delta only.
	nd := datadir.Dir(filepath.Join(t.TempDir(), "new"))
	id, err := datadir.Init(nd)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := m.CA.Issue(crypto.Template{Code: "京0106", Name: "京0106 court", Identity: id, Roles: []crypto.Role{crypto.RoleCourt},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	b1 := s.Trust().Bundle()
	d2, b2, err := crypto.BuildDelta(m.RootKey, m.CA.Root, m.CA.Root, b1, crypto.DeltaChange{IssuedAt: b1.IssuedAt, ExpiresAt: b1.ExpiresAt, Add: []*crypto.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	d3, _, err := crypto.BuildDelta(m.RootKey, m.CA.Root, m.CA.Root, b2, crypto.DeltaChange{IssuedAt: b1.IssuedAt, ExpiresAt: b1.ExpiresAt,
		Revoke: []crypto.Revocation{{Serial: m.Certs[4].Serial, RevokedAt: now.Truncate(time.Second), Reason: "key lost (test)"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range [][]byte{d2.Raw, d3.Raw} {
		if ok, err := s.InstallDelta(d, "local operator"); !ok || err != nil {
			t.Fatalf("install delta: %v, %v", ok, err)
		}
	}

	dir := m.Dirs[0]
	b, deltaErr, err := dir.LoadBundle(m.CA.Root, nil)
	if err != nil || deltaErr != nil {
		t.Fatalf("LoadBundle: %v, %v", err, deltaErr)
	}
	if b.Sequence != 3 || b.FullSequence != 1 || len(b.Deltas) != 2 || b.State() != s.Trust().Bundle().State() {
		t.Fatalf("offline: bundle %d (whole %d, %d deltas), want 3 as in force", b.Sequence, b.FullSequence, len(b.Deltas))
	}
	if got := dir.InstalledSequence(); got != 3 {
		t.Errorf("InstalledSequence %d, want 3", got)
	}
	// The new court's directory holds the whole bundle and the deltas (as
	// its trust service would after catching up): it names its court.
	for _, f := range []string{datadir.RootFile, datadir.BundleFile, datadir.DeltasFile} {
		raw, err := readFile(dir.Path(f), f)
		if err != nil {
			t.Fatal(err)
		}
		if err := datadir.WriteFileAtomic(nd.Path(f), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, err := nd.Court(); err != nil || code != "京0106" {
		t.Fatalf("Court of a court certified by a delta: %q, %v", code, err)
	}
	// A whole bundle older than what the deltas made is stale.
	if _, _, err := datadir.InstallTrust(dir, m.RootRaw, m.B1.Raw); !errors.Is(err, crypto.ErrStale) {
		t.Fatalf("trust install of bundle 1 over 1+2 deltas: %v, want %v", err, crypto.ErrStale)
	}
	// A delta file that does not apply ends the chain, without failing
	// the load.
	if err := datadir.WriteFileAtomic(dir.Path(datadir.DeltasFile), []byte{3, 1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, deltaErr, err := dir.LoadBundle(m.CA.Root, nil); err != nil || deltaErr == nil || b.Sequence != 1 {
		t.Fatalf("damaged deltas: bundle %v, %v, %v; want bundle 1 and the delta error", b, deltaErr, err)
	}
}
