package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// TestFetchFromAnOriginNeverConnected: three courts in a line, 京0105 —
// 京01 — 京0108, with no bootstrap entries and no connection between the
// origin 京0105 and the receiver 京0108. The receiver learns the origin's
// addresses only from its heartbeats relayed by 京01: the one sent at start
// reaches nobody, and the heartbeat interval (two minutes here) is far
// beyond the test, so only the early heartbeats after start bring them.
// The receiver's peerstore then forgets them (as when their TTL lapses),
// and the fetch must still dial the origin, from the signed peer record
// of its last heartbeat, without anyone connecting the two by hand.
func TestFetchFromAnOriginNeverConnected(t *testing.T) {
	c := func(code string) devmesh.Court {
		return devmesh.Court{Code: court.CourtCode(code), Roles: []crypto.Role{crypto.RoleCourt}}
	}
	courts := []devmesh.Court{c("京01"), c("京0105"), c("京0108")}
	m, err := devmesh.BuildSuite(t.TempDir(), courts, time.Now(), crypto.SuiteV1)
	if err != nil {
		t.Fatal(err)
	}
	tm := &testMesh{Mesh: m}
	s := &scenario{t: t, tm: tm, by: map[court.CourtCode]*node.Node{}}
	for i, d := range m.Dirs {
		cfg, err := config.Load(d.Path(datadir.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Bootstrap) != 0 {
			t.Fatalf("court %s has bootstrap entries %v: the test needs none", courts[i].Code, cfg.Bootstrap)
		}
		cfg.SyncInterval.Duration = time.Second
		cfg.HeartbeatInterval.Duration = 2 * time.Minute
		n := startNode(t, node.Options{Dir: d, Logger: testLogger(t), Config: &cfg})
		tm.nodes = append(tm.nodes, n)
		s.by[courts[i].Code] = n
	}
	origin, middle, receiver := s.as("京0105"), s.as("京01"), s.as("京0108")
	for _, end := range []*node.Node{origin, receiver} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := middle.Host().Connect(ctx, peer.AddrInfo{ID: end.PeerID(), Addrs: end.Host().Addrs()})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}

	safe, expiring := s.cases("京0105", 2)
	id := s.handedOver(t, append(safe, expiring...)[0])

	// Let the origin's heartbeat reach the receiver through 京01 (bounded;
	// without early heartbeats it does not come within the test, and the
	// fetch below shows it).
	heard := func() bool {
		for _, ch := range receiver.Health().Mesh() {
			if ch.Court == "京0105" && !ch.LastHeartbeat.IsZero() {
				return true
			}
		}
		return false
	}
	for i := 0; i < 200 && !heard(); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if receiver.Host().Network().Connectedness(origin.PeerID()) == network.Connected {
		t.Fatal("the receiver is connected to the origin before the fetch: the test shows nothing")
	}
	receiver.Host().Peerstore().ClearAddrs(origin.PeerID()) // their TTL lapsed
	if got := receiver.Host().Peerstore().Addrs(origin.PeerID()); len(got) != 0 {
		t.Fatalf("the receiver's peerstore still holds the origin's addresses %v", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := receiver.Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatalf("the fetch from an origin the receiver was never connected to: %v", err)
	}
	if p.Sources["京0105"] == 0 {
		t.Fatalf("fetched from %v, not from the origin", p.Sources)
	}
	s.expectEverywhere(id, cmproto.StateReceived)
}
