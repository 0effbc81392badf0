package trust

import (
	"errors"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// TestFreshnessSigner delegates freshness to an online key: the root
// certifies a freshness signer (in a delta); the signer's delta that
// extends the bundle's validity and revokes a court is in force on every
// node; its attempts to add a member, to remove one, to shorten the
// bundle or to extend it too far are refused by every node, which keeps
// the bundle it had.
func TestFreshnessSigner(t *testing.T) {
	dm := newDeltaMesh(t)
	m, all := dm.m, []int{0, 1, 2, 3}
	fkey, err := crypto.GenerateNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	fcert, err := m.CA.Issue(crypto.Template{
		Code: court.Supreme, Name: "national operator freshness signer", Identity: &crypto.Identity{SigningKey: fkey.Public()},
		Roles: []crypto.Role{crypto.RoleFreshness}, NotBefore: dm.at.Add(-time.Hour), NotAfter: dm.at.Add(90 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if fcert.PeerID != "" {
		t.Fatal("the freshness signer is not a node: it has no peer ID")
	}
	dm.push(t, dm.delta(t, m.RootKey, m.CA.Root, crypto.DeltaChange{Add: []*crypto.Certificate{fcert}}).Raw)
	dm.waitAll(t, 2, all...)

	// Within its limits: 20 more days, and a revocation.
	b2 := dm.s[0].Trust().Bundle()
	fresh := dm.delta(t, fkey, fcert, crypto.DeltaChange{IssuedAt: dm.at, ExpiresAt: b2.ExpiresAt.Add(20 * 24 * time.Hour),
		Revoke: []crypto.Revocation{{Serial: m.Certs[4].Serial, RevokedAt: dm.at.Truncate(time.Second), Reason: "key lost (test)",
			LastTrusted: &crypto.LogPosition{Seq: 3, Head: [32]byte{3}}}}})
	dm.push(t, fresh.Raw)
	dm.waitAll(t, 3, all...)
	for i, s := range dm.s {
		b := s.Trust().Bundle()
		if !b.ExpiresAt.Equal(b2.ExpiresAt.Add(20 * 24 * time.Hour)) {
			t.Errorf("node %d: bundle expires %v, want 20 days later than %v", i, b.ExpiresAt, b2.ExpiresAt)
		}
		if _, err := s.Trust().ByPeer(m.Keys[4].PeerID(), time.Now()); !errors.Is(err, crypto.ErrRevoked) {
			t.Errorf("node %d admits the court the freshness signer revoked: %v", i, err)
		}
	}

	// Beyond its limits: refused by every node, whatever the certificate.
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
	// Even a certificate the root itself issued may not be added by the
	// freshness signer.
	member, err := m.CA.Issue(crypto.Template{Code: "京0106", Name: "京0106 court", Identity: id, Roles: []crypto.Role{crypto.RoleCourt},
		NotBefore: dm.at.Add(-time.Hour), NotAfter: dm.at.Add(365 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	b3 := dm.s[0].Trust().Bundle()
	for _, tc := range []struct {
		name string
		ch   crypto.DeltaChange
	}{
		{"add a member", crypto.DeltaChange{Add: []*crypto.Certificate{member}}},
		{"add a member while extending", crypto.DeltaChange{IssuedAt: dm.at, ExpiresAt: b3.ExpiresAt.Add(time.Hour), Add: []*crypto.Certificate{member}}},
		{"remove a member", crypto.DeltaChange{Remove: []uint64{m.Certs[3].Serial}}},
		{"shorten the bundle", crypto.DeltaChange{IssuedAt: dm.at, ExpiresAt: b3.ExpiresAt.Add(-24 * time.Hour)}},
		{"extend it too far", crypto.DeltaChange{IssuedAt: dm.at, ExpiresAt: b3.ExpiresAt.Add(crypto.MaxFreshnessExtension + time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := dm.delta(t, fkey, fcert, tc.ch)
			for i, s := range dm.s {
				ok, err := s.InstallDelta(bad.Raw, "test")
				if ok || !errors.Is(err, crypto.ErrNotAuthorised) {
					t.Errorf("node %d: install = %v, %v; want refused as not authorised", i, ok, err)
				}
				if got := s.Trust().Bundle().Sequence; got != 3 {
					t.Errorf("node %d moved to bundle %d", i, got)
				}
			}
		})
	}
	for i, s := range dm.s {
		if _, err := s.Trust().ByPeer(key.PeerID(), time.Now()); err == nil {
			t.Errorf("node %d admits the member the freshness signer tried to add", i)
		}
	}
	// The root may add it.
	dm.push(t, dm.delta(t, m.RootKey, m.CA.Root, crypto.DeltaChange{Add: []*crypto.Certificate{member}}).Raw)
	dm.waitAll(t, 4, all...)
	for i, s := range dm.s {
		if _, err := s.Trust().ByPeer(key.PeerID(), time.Now()); err != nil {
			t.Errorf("node %d does not admit the member the root added: %v", i, err)
		}
	}
	// A revoked freshness signer signs nothing more.
	dm.push(t, dm.delta(t, m.RootKey, m.CA.Root, crypto.DeltaChange{Revoke: []crypto.Revocation{
		{Serial: fcert.Serial, RevokedAt: dm.at.Truncate(time.Second), Reason: "rotated (test)"}}}).Raw)
	dm.waitAll(t, 5, all...)
	b5 := dm.s[0].Trust().Bundle()
	late := dm.delta(t, fkey, fcert, crypto.DeltaChange{IssuedAt: dm.at, ExpiresAt: b5.ExpiresAt.Add(time.Hour)})
	for i, s := range dm.s {
		if ok, err := s.InstallDelta(late.Raw, "test"); ok || !errors.Is(err, crypto.ErrRevoked) {
			t.Errorf("node %d: a revoked freshness signer's delta: %v, %v", i, ok, err)
		}
	}
}
