package node_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/node/nodetest/served"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// testMesh is a running in-process mesh.
type testMesh struct {
	*devmesh.Mesh
	nodes []*node.Node
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("COURTMESH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// startMesh builds the default 5-court mesh, starts every node and
// connects them all to each other.
func startMesh(t *testing.T, opts ...func(i int, o *node.Options)) *testMesh {
	t.Helper()
	return startCourts(t, devmesh.DefaultCourts(), opts...)
}

// startCourts builds a mesh of the given courts, starts every node and
// connects them all to each other.
func startCourts(t *testing.T, courts []devmesh.Court, opts ...func(i int, o *node.Options)) *testMesh {
	t.Helper()
	return startCourtsSuite(t, crypto.SuiteV1, courts, opts...)
}

// startCourtsAt is startCourts with the certificates and the trust bundle
// issued at at (for nodes whose clock reads at).
func startCourtsAt(t *testing.T, courts []devmesh.Court, at time.Time, opts ...func(i int, o *node.Options)) *testMesh {
	t.Helper()
	return startCourtsSuiteAt(t, crypto.SuiteV1, courts, at, opts...)
}

// startCourtsSuite is startCourts for a mesh of the given algorithm suite.
func startCourtsSuite(t *testing.T, suite crypto.Suite, courts []devmesh.Court, opts ...func(i int, o *node.Options)) *testMesh {
	t.Helper()
	return startCourtsSuiteAt(t, suite, courts, time.Now(), opts...)
}

// startCourtsSuiteAt is startCourtsSuite issued at at.
func startCourtsSuiteAt(t *testing.T, suite crypto.Suite, courts []devmesh.Court, at time.Time, opts ...func(i int, o *node.Options)) *testMesh {
	t.Helper()
	m, err := devmesh.BuildSuite(t.TempDir(), courts, at, suite)
	if err != nil {
		t.Fatal(err)
	}
	tm := &testMesh{Mesh: m}
	for i, d := range m.Dirs {
		o := node.Options{Dir: d, Logger: testLogger(t)}
		for _, f := range opts {
			f(i, &o)
		}
		tm.nodes = append(tm.nodes, startNode(t, o))
	}
	for i, a := range tm.nodes {
		for _, b := range tm.nodes[i+1:] {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := a.Host().Connect(ctx, peer.AddrInfo{ID: b.PeerID(), Addrs: b.Host().Addrs()})
			cancel()
			if err != nil {
				t.Fatalf("connect %s -> %s: %v", a.PeerID(), b.PeerID(), err)
			}
		}
	}
	return tm
}

func startNode(t *testing.T, o node.Options) *node.Node {
	t.Helper()
	n, _ := served.Start(t, o)
	return n
}

// outsider is a libp2p host whose key no bundle certifies.
func outsider(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// everyProtocol is every protocol a node speaks: ours, gossipsub's and
// libp2p's own.
var everyProtocol = []protocol.ID{
	cmproto.ProtoBundle,
	cmproto.ProtoSync,
	cmproto.ProtoFetch,
	cmproto.GossipSubProtocols[0],
	identify.ID,
	ping.ID,
}

func TestMeshEveryNodeSeesTheOthers(t *testing.T) {
	tm := startMesh(t)
	for _, n := range tm.nodes {
		nodetest.PollUntil(t, 10*time.Second, "full mesh", func() bool { return len(n.Peers()) == len(tm.nodes)-1 })
		for _, p := range n.Peers() {
			if p.CourtCode == "" {
				t.Errorf("%s: peer %s has no court code", n.Status().CourtCode, p.PeerID)
			}
		}
	}
	st := tm.nodes[3].Status()
	if st.CourtCode != "京0105" || st.Bundle.Sequence != 1 || st.Bundle.State != "valid" {
		t.Errorf("status = %+v", st)
	}
}

func TestOutsiderOpensNoStream(t *testing.T) {
	tm := startMesh(t)
	out := outsider(t)
	for _, n := range tm.nodes {
		ai := peer.AddrInfo{ID: n.PeerID(), Addrs: n.Host().Addrs()}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out.Connect(ctx, ai) // may appear to succeed on the dialling side
		for _, proto := range everyProtocol {
			s, err := out.NewStream(network.WithAllowLimitedConn(ctx, "test"), n.PeerID(), proto)
			if err == nil && streamAnswers(s) {
				// A stream may appear open on the dialling side; it must be dead.
				t.Errorf("%s: outsider opened a live %s stream", n.Status().CourtCode, proto)
			}
		}
		cancel()
		if containsPeer(n.Host().Network().Peers(), out.ID()) {
			t.Errorf("%s keeps a connection to the outsider", n.Status().CourtCode)
		}
	}
}

// With the gater out of the way, the checks on every stream still refuse
// the outsider on every protocol.
func TestStreamChecksHoldWithoutGater(t *testing.T) {
	m, err := devmesh.Build(t.TempDir(), devmesh.DefaultCourts()[:2], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	o := node.Options{Dir: m.Dirs[1], Logger: testLogger(t)}
	node.BypassGaterForTest(&o)
	n := startNode(t, o)
	out := outsider(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := out.Connect(ctx, peer.AddrInfo{ID: n.PeerID(), Addrs: n.Host().Addrs()}); err != nil {
		t.Fatalf("with the gater bypassed the transport connection should succeed: %v", err)
	}
	for _, proto := range everyProtocol {
		s, err := out.NewStream(ctx, n.PeerID(), proto)
		if err == nil && streamAnswers(s) {
			t.Errorf("outsider got an answer on %s", proto)
		}
	}
}

func TestRevokedNodeDisconnectedEverywhere(t *testing.T) {
	tm := startMesh(t)
	const victim = 4
	for _, n := range tm.nodes {
		nodetest.PollUntil(t, 10*time.Second, "full mesh", func() bool { return len(n.Peers()) == len(tm.nodes)-1 })
	}
	b, err := tm.Revoke(victim, "key compromised (test)", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	vid := tm.nodes[victim].PeerID()
	start := time.Now()
	if ok, err := tm.nodes[0].InstallBundleRaw(context.Background(), b.Raw, b.Head); err != nil || !ok {
		t.Fatalf("install on the operator node: %v %v", ok, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, n := range tm.nodes {
				t.Logf("node %d %s: bundle %d, peers %d, connected to victim %v", i, n.Status().CourtCode, n.Status().Bundle.Sequence, len(n.Peers()), containsPeer(n.Host().Network().Peers(), vid))
			}
		}
	})
	elapsed := nodetest.PollUntil(t, 20*time.Second, "revoked node disconnected everywhere", func() bool {
		for i, n := range tm.nodes {
			if i == victim {
				continue
			}
			if containsPeer(n.Host().Network().Peers(), vid) || n.Status().Bundle.Sequence != b.Sequence {
				return false
			}
		}
		return true
	})
	t.Logf("revoked node disconnected from every node %v after the bundle was installed on the operator node", elapsed)
	_ = start
	// It cannot come back.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = tm.nodes[victim].Host().Connect(ctx, peer.AddrInfo{ID: tm.nodes[1].PeerID(), Addrs: tm.nodes[1].Host().Addrs()})
	if err == nil {
		if s, serr := tm.nodes[victim].Host().NewStream(ctx, tm.nodes[1].PeerID(), cmproto.ProtoBundle); serr == nil {
			if streamAnswers(s) {
				t.Error("revoked node got an answer on a stream after revocation")
			}
		}
	}
	// The bundle was persisted: a restart keeps the revocation.
	raw, err := os.ReadFile(tm.Dirs[2].Path(datadir.BundleFile))
	if err != nil || string(raw) != string(b.Raw) {
		t.Errorf("bundle not persisted on node 2: %v", err)
	}
}

// streamAnswers writes a small request (a valid bundle request, which
// also serves as junk for the other protocols) and reports whether any
// byte comes back. A refused stream is reset by the remote.
func streamAnswers(s network.Stream) bool {
	defer s.Reset()
	s.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := s.Write([]byte{2, 8, 1}); err != nil {
		return false
	}
	var buf [1]byte
	_, err := s.Read(buf[:])
	return err == nil
}

func containsPeer(ps []peer.ID, p peer.ID) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
