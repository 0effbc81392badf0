package node_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/crypto/pkcs11key"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// TestPKCS11SoftHSM keeps the origin court's node key (its record
// signing key and libp2p identity) in a SoftHSM2 token: the court is
// initialised and certified with it, signs every record of a whole
// transfer in the token, and the receiver fetches the dossier from it. A
// wrong PIN and a missing token are refused with errors that say so.
func TestPKCS11SoftHSM(t *testing.T) {
	const pin = "4711-courtmesh"
	module := nodetest.SoftHSM(t, "court-jing0105", pin)
	t.Setenv(pkcs11key.PINEnv, pin)
	tok := &datadir.TokenOptions{Module: module, Token: "court-jing0105"}

	// The refusals, before the token is logged in (PKCS#11 keeps one login
	// per token and process).
	t.Run("wrong PIN", func(t *testing.T) {
		t.Setenv(pkcs11key.PINEnv, "0000-wrong") // before anything logs in: a session logged in makes the token skip the PIN
		_, err := pkcs11key.Open(pkcs11key.Ref{Module: module, Token: "court-jing0105", Label: "another key"})
		if !errors.Is(err, pkcs11key.ErrPIN) || !errors.Is(err, court.ErrPermission) {
			t.Fatalf("wrong PIN: %v", err)
		}
	})
	t.Run("missing token", func(t *testing.T) {
		_, err := datadir.InitToken(datadir.Dir(filepath.Join(t.TempDir(), "n")), datadir.TokenOptions{Module: module, Token: "no such token"})
		if !errors.Is(err, pkcs11key.ErrNoToken) || !errors.Is(err, court.ErrNotFound) {
			t.Fatalf("missing token: %v", err)
		}
	})
	t.Run("no PIN", func(t *testing.T) {
		t.Setenv(pkcs11key.PINEnv, "")
		_, err := pkcs11key.Open(pkcs11key.Ref{Module: module, Token: "court-jing0105", Label: "yet another key"})
		if !errors.Is(err, pkcs11key.ErrNoPIN) {
			t.Fatalf("no PIN: %v", err)
		}
	})
	t.Run("missing module", func(t *testing.T) {
		_, err := pkcs11key.Open(pkcs11key.Ref{Module: "/nonexistent/libpkcs11.so", Token: "x", Label: "y"})
		if !errors.Is(err, court.ErrNotFound) {
			t.Fatalf("missing module: %v", err)
		}
	})

	courts := scenarioCourts()
	for i := range courts {
		if courts[i].Code == "京0105" {
			courts[i].Token = tok
		}
	}
	tm := startCourts(t, courts, func(i int, o *node.Options) {
		cfg, err := config.Load(o.Dir.Path(datadir.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.SyncInterval.Duration = time.Second
		o.Config = &cfg
	})
	s := &scenario{t: t, tm: tm, by: map[court.CourtCode]*node.Node{}}
	var originDir datadir.Dir
	for i, c := range tm.Courts {
		s.by[c.Code] = tm.nodes[i]
		if c.Code == "京0105" {
			originDir = tm.Dirs[i]
		}
	}
	// node.key holds a reference, not a key; it loads only through the token.
	if _, err := crypto.LoadNodeKey(originDir.Path(crypto.NodeKeyFile)); !errors.Is(err, crypto.ErrTokenKey) {
		t.Fatalf("node.key read as a key file: %v", err)
	}
	nk, _, err := originDir.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if err := crypto.SaveNodeKey(filepath.Join(t.TempDir(), "exported.key"), nk); err == nil {
		t.Fatal("the token key was written to a file")
	}
	if nk.PeerID() != s.as("京0105").PeerID() {
		t.Fatal("the node does not run with the token's key")
	}

	safe, expiring := s.cases("京0105", 3)
	cn := append(safe, expiring...)[0]
	id := s.handedOver(t, cn) // offer and handover signed in the token
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.as("京0108").Fetcher().Fetch(ctx, id); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(id, cmproto.StateReceived)
	tr, err := s.as("京0108").Workflow().Transfer(id)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Origin != "京0105" {
		t.Fatalf("transfer from %s", tr.Origin)
	}

}
