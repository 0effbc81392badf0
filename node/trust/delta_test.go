package trust

import (
	"context"
	"errors"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// deltaMesh is four courts of a TrustMesh on real loopback hosts in a
// line, 0 - 1 - 2 - 3: court 3 never talks to court 0, the operator that
// pushes every change. Court 4 (京0108) is not running; it is the one
// revoked.
type deltaMesh struct {
	m  *nodetest.TrustMesh
	s  []*Service
	at time.Time
}

func newDeltaMesh(t *testing.T) *deltaMesh {
	t.Helper()
	dm := &deltaMesh{m: nodetest.NewTrustMesh(t), at: time.Now()}
	for i := range 4 {
		dm.s = append(dm.s, joined(t, dm.m, i))
	}
	for i := range 3 {
		connect(t, dm.s[i], dm.s[i+1])
	}
	return dm
}

// delta signs the next delta on top of the operator's bundle.
func (dm *deltaMesh) delta(t *testing.T, key crypto.Signer, signer *crypto.Certificate, ch crypto.DeltaChange) *crypto.Delta {
	t.Helper()
	base := dm.s[0].Trust().Bundle()
	if ch.IssuedAt.IsZero() {
		ch.IssuedAt, ch.ExpiresAt = base.IssuedAt, base.ExpiresAt
	}
	d, _, err := crypto.BuildDelta(key, signer, dm.m.CA.Root, base, ch)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// push installs raw on the operator and announces it.
func (dm *deltaMesh) push(t *testing.T, raw []byte) {
	t.Helper()
	// A head describes a whole bundle: pushed with a delta, it is refused
	// and nothing is installed.
	seq := dm.s[0].Trust().Bundle().Sequence
	if ok, err := dm.s[0].InstallAndAnnounce(context.Background(), raw, []byte("a head")); ok || !errors.Is(err, court.ErrInvalid) {
		t.Fatalf("a delta pushed with a head: %v, %v; want refused as invalid", ok, err)
	}
	if got := dm.s[0].Trust().Bundle().Sequence; got != seq {
		t.Fatalf("a delta pushed with a head was installed (bundle %d)", got)
	}
	if ok, err := dm.s[0].InstallAndAnnounce(context.Background(), raw, nil); !ok || err != nil {
		t.Fatalf("push on the operator: %v, %v", ok, err)
	}
}

// waitAll waits until the services idx hold bundle seq.
func (dm *deltaMesh) waitAll(t *testing.T, seq uint64, idx ...int) {
	t.Helper()
	for _, i := range idx {
		nodetest.PollUntil(t, 20*time.Second, "bundle in force on every node", func() bool {
			return dm.s[i].Trust().Bundle().Sequence == seq
		})
	}
}

// cut disconnects a and b and makes each forget the other's addresses:
// a pull in flight (a poke of the bundle installed just before) would
// otherwise dial the peer again and undo the cut. connect reconnects
// them with the addresses given.
func (dm *deltaMesh) cut(t *testing.T, a, b int) {
	t.Helper()
	dm.s[a].h.Peerstore().ClearAddrs(dm.s[b].h.ID())
	dm.s[b].h.Peerstore().ClearAddrs(dm.s[a].h.ID())
	if err := dm.s[a].h.Network().ClosePeer(dm.s[b].h.ID()); err != nil {
		t.Fatal(err)
	}
	nodetest.PollUntil(t, 10*time.Second, "disconnected", func() bool {
		return len(dm.s[a].h.Network().ConnsToPeer(dm.s[b].h.ID())) == 0 && len(dm.s[b].h.Network().ConnsToPeer(dm.s[a].h.ID())) == 0
	})
}

// TestBundleDeltaChain runs the life of a bundle as deltas across real
// nodes: a revocation with its log cut-off reaches every node as a delta
// (no whole bundle moves); a node that missed two deltas fetches them, in
// order, from a peer that is not the announcer; a node far behind (a new
// whole bundle was signed meanwhile) takes the whole bundle, checked
// against its root-signed head first, and the delta on top of it.
func TestBundleDeltaChain(t *testing.T) {
	dm := newDeltaMesh(t)
	m, all := dm.m, []int{0, 1, 2, 3}
	opened := make([]int64, 4)
	for i, s := range dm.s {
		opened[i] = s.Stats().BundlesOpened
	}

	// 1. A revocation with the cut-off scope: records of 京0108 up to
	// position 7 of its log stay trusted.
	cut := &crypto.LogPosition{Seq: 7, Head: [32]byte{7, 7, 7}}
	d2 := dm.delta(t, m.RootKey, m.CA.Root, crypto.DeltaChange{Revoke: []crypto.Revocation{
		{Serial: m.Certs[4].Serial, RevokedAt: dm.at.Truncate(time.Second), Reason: "key compromised (test)", LastTrusted: cut},
	}})
	dm.push(t, d2.Raw)
	dm.waitAll(t, 2, all...)
	for i, s := range dm.s {
		tr := s.Trust()
		r, ok := tr.Revocation(m.Certs[4].Serial)
		if !ok || r.LastTrusted == nil || *r.LastTrusted != *cut {
			t.Errorf("node %d: revocation %+v, want the cut-off %v", i, r, cut)
		}
		if _, err := tr.ByPeer(m.Keys[4].PeerID(), time.Now()); !errors.Is(err, crypto.ErrRevoked) {
			t.Errorf("node %d admits the revoked court: %v", i, err)
		}
		if st := s.Stats(); st.BundlesOpened != opened[i] || len(tr.Bundle().Deltas) != 1 {
			t.Errorf("node %d: %d whole bundles opened, %d deltas; want none and 1", i, st.BundlesOpened-opened[i], len(tr.Bundle().Deltas))
		}
	}

	// 2. Court 3 is cut off while two more deltas pass (a new court
	// certified, then the lifetime extended); back, it fetches both from
	// court 2, which never announced them.
	dm.cut(t, 2, 3)
	key, err := crypto.GenerateNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	ek, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	id, err := crypto.NewIdentity(key, ek)
	if err != nil {
		t.Fatal(err)
	}
	newCourt, err := m.CA.Issue(crypto.Template{Code: "京0106", Name: "京0106 court", Identity: id, Roles: []crypto.Role{crypto.RoleCourt},
		NotBefore: dm.at.Add(-time.Hour), NotAfter: dm.at.Add(365 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	d3 := dm.delta(t, m.RootKey, m.CA.Root, crypto.DeltaChange{Add: []*crypto.Certificate{newCourt}})
	dm.push(t, d3.Raw)
	dm.waitAll(t, 3, 0, 1, 2)
	b3 := dm.s[0].Trust().Bundle()
	d4 := dm.delta(t, m.RootKey, m.CA.Root, crypto.DeltaChange{IssuedAt: dm.at, ExpiresAt: b3.ExpiresAt.Add(10 * 24 * time.Hour)})
	dm.push(t, d4.Raw)
	dm.waitAll(t, 4, 0, 1, 2)
	if got := dm.s[3].Trust().Bundle().Sequence; got != 2 {
		t.Fatalf("court 3 holds bundle %d while cut off, want 2", got)
	}
	connect(t, dm.s[3], dm.s[2])
	dm.waitAll(t, 4, 3)
	s3 := dm.s[3]
	// Court 2 is its only peer: the deltas came from it, by the bundle
	// stream ("peer <court 2>") or, for the last, with court 2's gossip
	// announcement once the first was in force.
	if st := s3.Stats(); (st.LastSource != "peer "+dm.s[2].h.ID().String() && st.LastSource != "gossip") || st.BundlesOpened != opened[3] {
		t.Errorf("court 3 caught up from %q with %d whole bundles opened; want from court 2, none", st.LastSource, st.BundlesOpened-opened[3])
	}
	if ps := s3.h.Network().Peers(); len(ps) != 1 || ps[0] != dm.s[2].h.ID() {
		t.Errorf("court 3 is connected to %v, want court 2 only", ps)
	}
	if len(s3.h.Network().ConnsToPeer(dm.s[0].h.ID())) != 0 {
		t.Error("court 3 is connected to the announcer")
	}
	if b := s3.Trust().Bundle(); b.State() != dm.s[0].Trust().Bundle().State() || len(b.Deltas) != 3 {
		t.Errorf("court 3 holds %d deltas and another state than the operator", len(b.Deltas))
	}
	if _, err := s3.Trust().Court("京0106", time.Now()); err != nil {
		t.Errorf("court 3 does not know the court the delta certified: %v", err)
	}

	// 3. Court 3 cut off again; the root signs a whole bundle (5) and
	// then a delta (6) on it. Court 3 is too far behind for deltas: it
	// takes bundle 5 whole, then delta 6.
	dm.cut(t, 2, 3)
	cur := dm.s[0].Trust().Bundle()
	b5, err := crypto.BuildBundle(m.RootKey, m.CA.Root, 5, dm.at, cur.ExpiresAt, cur.Certs[1:], cur.Revocations)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := dm.s[0].InstallWithHead(b5.Raw, b5.Head, "test"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := dm.s[0].announce(context.Background()); err != nil {
		t.Fatal(err)
	}
	dm.waitAll(t, 5, 0, 1, 2)
	d6 := dm.delta(t, m.RootKey, m.CA.Root, crypto.DeltaChange{Revoke: []crypto.Revocation{
		{Serial: newCourt.Serial, RevokedAt: dm.at.Truncate(time.Second), Reason: "closed (test)"},
	}})
	dm.push(t, d6.Raw)
	dm.waitAll(t, 6, 0, 1, 2)
	connect(t, dm.s[3], dm.s[2])
	dm.waitAll(t, 6, 3)
	b := s3.Trust().Bundle()
	if st := s3.Stats(); st.BundlesOpened != opened[3]+1 || b.FullSequence != 5 || len(b.Deltas) != 1 || b.Head == nil {
		t.Errorf("court 3: %d whole bundles opened, holds whole bundle %d (head %v) and %d deltas; want 1, 5 with its head, 1",
			st.BundlesOpened-opened[3], b.FullSequence, b.Head != nil, len(b.Deltas))
	}
	if b.State() != dm.s[0].Trust().Bundle().State() {
		t.Error("court 3 holds another state than the operator")
	}
	if _, err := s3.Trust().Court("京0106", time.Now()); !errors.Is(err, crypto.ErrRevoked) && !errors.Is(err, crypto.ErrUnknownSigner) {
		t.Errorf("court 3 still trusts the court revoked by delta 6: %v", err)
	}

	// 4. A restart reads the whole bundle and the deltas back, and
	// verifies no certificate again.
	re := newService(t, m, 3)
	if got := re.Trust().Bundle(); got.State() != b.State() || re.Stats().CertsVerified != 0 {
		t.Errorf("after a restart: bundle %d, %d certificates verified; want %d, 0", got.Sequence, re.Stats().CertsVerified, b.Sequence)
	}
}
