package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/node/nodetest/served"
	"courtmesh.dev/courtmesh/node/trust"
)

// TestTrustPushSendsHead: `trust push` sends a whole bundle's root-signed
// head (BUNDLE.head, as `ca bundle` writes it) through the API to a real
// node, which keeps it and offers it, so that its peer (a second real
// node on loopback) checks the head before it downloads the bundle, and
// keeps it in turn. A head that is not the bundle's is refused with the
// invalid kind before the bundle is even opened, and nothing is
// installed. A whole bundle without a head is refused by the command
// unless --no-head; with it, the node installs the bundle as before
// (audited) and the peer downloads it without a head to check.
//
// It is long on purpose: one mesh, the push with its head, the refusals,
// and the push without one, in the order an operator meets them.
func TestTrustPushSendsHead(t *testing.T) {
	m, err := devmesh.Build(t.TempDir(), []devmesh.Court{
		{Code: court.Supreme, Roles: []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}},
		{Code: "京0105", Roles: []crypto.Role{crypto.RoleCourt}},
		{Code: "京0108", Roles: []crypto.Role{crypto.RoleCourt}},
		{Code: "京0109", Roles: []crypto.Role{crypto.RoleCourt}},
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b1 := m.Bundle
	opDir, peerDir := m.Dirs[0], m.Dirs[1]
	op, _ := served.Start(t, node.Options{Dir: opDir})
	pn, _ := served.Start(t, node.Options{Dir: peerDir})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pn.Host().Connect(ctx, peer.AddrInfo{ID: op.PeerID(), Addrs: op.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	files := t.TempDir()
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	seq := func(n *node.Node) uint64 { return n.Trust().Bundle().Sequence }
	headOn := func(d datadir.Dir) []byte {
		h, err := os.ReadFile(d.Path(trust.HeadFile))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return h
	}

	b2, err := m.Revoke(2, "trust push test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f2 := write("bundle-2.pb", b2.Raw)

	// A head that is not this bundle's (bundle 1's, signed by the root):
	// refused as invalid, before the bundle is opened; nothing installed.
	opened := op.TrustStats().BundlesOpened
	out, err := runCLI(t, "trust", "push", "--data", string(opDir), "--head", write("bundle-1.pb.head", b1.Head), f2)
	if !errors.Is(err, court.ErrInvalid) || !strings.Contains(out+err.Error(), "does not match its head") {
		t.Fatalf("push with another bundle's head: %v (want the invalid kind)\n%s", err, out)
	}
	if got := seq(op); got != 1 {
		t.Fatalf("after a push with the wrong head the node holds bundle %d, want 1", got)
	}
	if n := op.TrustStats().BundlesOpened - opened; n != 0 {
		t.Errorf("a push with the wrong head opened %d bundles; the head is checked first", n)
	}

	// The push with its head, found beside the bundle.
	write("bundle-2.pb.head", b2.Head)
	before := pn.TrustStats()
	if out, err := runCLI(t, "trust", "push", "--data", string(opDir), f2); err != nil || !strings.Contains(out, "Trust bundle 2 installed") {
		t.Fatalf("trust push: %v\n%s", err, out)
	}
	if h := headOn(opDir); !bytes.Equal(h, b2.Head) {
		t.Fatalf("the pushed node keeps %d bytes as the head of bundle 2, want the %d pushed", len(h), len(b2.Head))
	}
	nodetest.PollUntil(t, 20*time.Second, "the peer on bundle 2", func() bool { return seq(pn) == 2 })
	after := pn.TrustStats()
	// The peer downloaded the bundle once, against the head it was
	// offered: it keeps that head, which only the offer carried.
	if n := after.BundlesOpened - before.BundlesOpened; n != 1 {
		t.Errorf("the peer opened %d bundles, want 1", n)
	}
	if h := headOn(peerDir); !bytes.Equal(h, b2.Head) {
		t.Errorf("the peer holds %d bytes as the head of bundle 2, want the root-signed head (%d bytes): it was not offered one to check before downloading",
			len(h), len(b2.Head))
	}
	t.Logf("bundle 2 (%d bytes) pushed with its head; the peer checked the head, then downloaded (%d bytes received) and opened it once",
		len(b2.Raw), after.BytesReceived-before.BytesReceived)

	// A whole bundle with no head beside it: the command refuses to push it.
	b3, err := m.Revoke(3, "trust push test, no head", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f3 := write("bundle-3.pb", b3.Raw)
	out, err = runCLI(t, "trust", "push", "--data", string(opDir), f3)
	if !errors.Is(err, court.ErrInvalid) || !strings.Contains(err.Error(), "--no-head") {
		t.Fatalf("push of a bundle without a head: %v (want the invalid kind, naming --no-head)\n%s", err, out)
	}
	if got := seq(op); got != 2 {
		t.Fatalf("after a refused push the node holds bundle %d, want 2", got)
	}

	// --no-head: the body alone, as clients before the head sent it. The
	// node installs it, audits that it came without a head, and announces
	// it without one; the peer downloads it with no head to keep.
	auditFrom, _, err := op.Store().AuditHead()
	if err != nil {
		t.Fatal(err)
	}
	before = pn.TrustStats()
	if out, err := runCLI(t, "trust", "push", "--data", string(opDir), "--no-head", f3); err != nil || !strings.Contains(out, "Trust bundle 3 installed") ||
		!strings.Contains(out, "without a head") {
		t.Fatalf("trust push --no-head: %v\n%s", err, out)
	}
	es, err := op.Store().AuditEntries(auditFrom+1, 0)
	if err != nil {
		t.Fatal(err)
	}
	audited := false
	for _, e := range es {
		audited = audited || (e.Event == "trust.bundle_without_head" && strings.Contains(e.Detail, "trust bundle 3") && e.Person != "")
	}
	if !audited {
		t.Errorf("no trust.bundle_without_head entry naming bundle 3 and who pushed it in %+v", es)
	}
	nodetest.PollUntil(t, 20*time.Second, "the peer on bundle 3", func() bool { return seq(pn) == 3 })
	if n := pn.TrustStats().BundlesOpened - before.BundlesOpened; n != 1 {
		t.Errorf("the peer opened %d bundles, want 1", n)
	}
	if h := headOn(peerDir); h != nil {
		t.Errorf("the peer holds a head (%d bytes) for bundle 3, pushed without one", len(h))
	}
	if h := headOn(opDir); h != nil {
		t.Errorf("the pushed node still holds a head (%d bytes) after bundle 3, pushed without one", len(h))
	}
}
