package node_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// TestTransferUnderSM plays a whole transfer across real nodes (libp2p on
// loopback, Badger stores) in a mesh whose national root runs the
// national suite: every certificate and record is SM2-signed, the dossier
// is sealed with SM4-GCM and addressed with SM3, its data key wrapped to
// the receiver's SM2 key; the receiver fetches, verifies and files it,
// and the receipt closes the transfer everywhere.
func TestTransferUnderSM(t *testing.T) {
	tm := startCourtsSuite(t, crypto.SuiteSM, scenarioCourts(), func(i int, o *node.Options) {
		cfg, err := config.Load(o.Dir.Path(datadir.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.SyncInterval.Duration = time.Second
		o.Config = &cfg
	})
	s := &scenario{t: t, tm: tm, by: map[court.CourtCode]*node.Node{}}
	for i, c := range tm.Courts {
		s.by[c.Code] = tm.nodes[i]
		if tm.Certs[i].Suite != crypto.SuiteSM || tm.Certs[i].EncKEM != crypto.KEMSM2 {
			t.Fatalf("%s is certified under suite %v, KEM %#x", c.Code, tm.Certs[i].Suite, tm.Certs[i].EncKEM)
		}
	}
	origin := s.as("京0105")
	if origin.Store().Suite() != crypto.SuiteSM {
		t.Fatalf("the store seals in suite %v", origin.Store().Suite())
	}
	safe, expiring := s.cases("京0105", 3)
	cn := append(safe, expiring...)[0]
	_, v, err := origin.Store().Case(cn)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append(v.Documents, v.Source) {
		if d.Suite != crypto.SuiteSM {
			t.Fatalf("document %s sealed in suite %v", d.ID, d.Suite)
		}
	}
	for _, p := range v.Parties {
		if len(p.IDSealed) > 0 && p.IDSealed[0] != 2 {
			t.Fatalf("party %s: identity number sealed with field version %d, want 2 (SM4-GCM)", p.ID, p.IDSealed[0])
		}
	}

	id := s.handedOver(t, cn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := s.as("京0108").Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fetched %d chunks, %d bytes under SM", p.Fetched, p.Bytes)
	s.expectEverywhere(id, cmproto.StateReceived)

	tr, err := s.as("京0108").Workflow().Transfer(id)
	if err != nil {
		t.Fatal(err)
	}
	newNo, err := court.ParseCaseNumber(tr.NewCaseNumber)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.as("京0108").Store().VerifyCase(ctx, newNo)
	if err != nil {
		t.Fatalf("the filed case does not verify: %v", err)
	}
	orig, err := origin.Store().VerifyCase(ctx, cn)
	if err != nil {
		t.Fatal(err)
	}
	if rep != orig {
		t.Errorf("received %+v, origin holds %+v", rep, orig)
	}
	// The handover's Merkle root is SM3's over SM3 chunk ids, not SHA-256's.
	_, fv, err := s.as("京0108").Store().Case(newNo)
	if err != nil {
		t.Fatal(err)
	}
	var ids []crypto.ChunkID
	for _, d := range append(fv.Documents, fv.Source) {
		if d.Suite != crypto.SuiteSM {
			t.Fatalf("filed document %s in suite %v", d.ID, d.Suite)
		}
		ids = append(ids, d.Chunks...)
	}
	// The audit chain is SM3 (hashes written "sm3:…") and verifies.
	entries, err := origin.Store().AuditEntries(1, 0)
	if err != nil || len(entries) == 0 {
		t.Fatalf("audit entries: %d, %v", len(entries), err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Hash, "sm3:") {
			t.Fatalf("audit entry %d hashed %q, not SM3", e.Seq, e.Hash)
		}
	}
	if bad, err := storage.VerifyAudit(entries, ""); err != nil {
		t.Fatalf("audit chain breaks at %d: %v", bad, err)
	}
	entries[len(entries)/2].Detail += "x"
	if bad, err := storage.VerifyAudit(entries, ""); err == nil || bad != entries[len(entries)/2].Seq {
		t.Fatalf("a rewritten SM3 audit entry verifies (%d, %v)", bad, err)
	}
	smRoot, v1Root := crypto.SuiteSM.MerkleRoot(ids), crypto.SuiteV1.MerkleRoot(ids)
	if !bytes.Equal(tr.MerkleRoot, smRoot[:]) || bytes.Equal(tr.MerkleRoot, v1Root[:]) {
		t.Fatalf("handover Merkle root %x is not the SM3 root %x", tr.MerkleRoot, smRoot)
	}
}
