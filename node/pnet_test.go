package node_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// writePSK writes a libp2p pnet V1 pre-shared key file.
func writePSK(t *testing.T, dir string) string {
	t.Helper()
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "mesh-"+hex.EncodeToString(k[:4])+".psk")
	if err := os.WriteFile(path, []byte("/key/swarm/psk/1.0.0/\n/base16/\n"+hex.EncodeToString(k[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// withPSK rewrites d's config with psk_file (none if path is empty).
func withPSK(t *testing.T, d datadir.Dir, path string) {
	t.Helper()
	cfg := devmesh.LoopbackConfig
	if strings.Contains(config.DefaultConfigText, "metrics_listen") && !strings.Contains(cfg, "metrics_listen") {
		cfg += "metrics_listen = \"off\"\n" // several nodes cannot share the default port
	}
	if path != "" {
		cfg += "psk_file = " + `"` + path + `"` + "\n"
	}
	if err := os.WriteFile(d.Path(datadir.ConfigFile), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Every court here is certified: only the pre-shared key decides who
// connects.
func TestPrivateNetwork(t *testing.T) {
	m, err := devmesh.Build(t.TempDir(), devmesh.DefaultCourts(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	pskA, pskB := writePSK(t, keys), writePSK(t, keys)
	// 0, 1: key A; 2, 4: no key; 3: key B.
	for i, p := range []string{pskA, pskA, "", pskB, ""} {
		withPSK(t, m.Dirs[i], p)
	}
	var nodes []*node.Node
	for _, d := range m.Dirs {
		nodes = append(nodes, startNode(t, node.Options{Dir: d, Logger: testLogger(t)}))
	}
	connect := func(a, b int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return nodes[a].Host().Connect(ctx, peer.AddrInfo{ID: nodes[b].PeerID(), Addrs: nodes[b].Host().Addrs()})
	}
	tests := []struct {
		name string
		a, b int
		ok   bool
	}{
		{"same key", 0, 1, true},
		{"neither has a key (control)", 2, 4, true},
		{"no key dials a keyed node", 2, 0, false},
		{"keyed node dials one without a key", 0, 2, false},
		{"another key dials", 3, 0, false},
		{"dialled by another key", 1, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := connect(tt.a, tt.b)
			t.Logf("connect %d -> %d: %v after %v", tt.a, tt.b, err, time.Since(start))
			if tt.ok {
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				for _, p := range []struct{ x, y int }{{tt.a, tt.b}, {tt.b, tt.a}} {
					nodetest.PollUntil(t, 20*time.Second, "both sides list the other as a court", func() bool {
						for _, q := range nodes[p.x].Peers() {
							if q.PeerID == nodes[p.y].PeerID().String() && q.CourtCode != "" {
								return true
							}
						}
						return false
					})
				}
				return
			}
			if err == nil {
				t.Fatal("connect succeeded across different pre-shared keys")
			}
			if containsPeer(nodes[tt.a].Host().Network().Peers(), nodes[tt.b].PeerID()) ||
				containsPeer(nodes[tt.b].Host().Network().Peers(), nodes[tt.a].PeerID()) {
				t.Error("a connection exists across different pre-shared keys")
			}
		})
	}
}

func TestPrivateNetworkBadKeyFile(t *testing.T) {
	m, err := devmesh.Build(t.TempDir(), devmesh.DefaultCourts()[:1], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		"short key":  "/key/swarm/psk/1.0.0/\n/base16/\n" + strings.Repeat("ab", 16) + "\n",
		"not hex":    "/key/swarm/psk/1.0.0/\n/base16/\n" + strings.Repeat("zz", 32) + "\n",
		"bad header": "/key/swarm/psk/2.0.0/\n/base16/\n" + strings.Repeat("ab", 32) + "\n",
		"empty":      "",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".psk")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			withPSK(t, m.Dirs[0], path)
			n, err := node.New(node.Options{Dir: m.Dirs[0]})
			if err == nil {
				n.Host().Close()
				t.Fatal("node.New accepted a bad pre-shared key file")
			}
			if !strings.Contains(err.Error(), "pre-shared key") {
				t.Errorf("error %q does not name the pre-shared key", err)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		withPSK(t, m.Dirs[0], filepath.Join(dir, "absent.psk"))
		if _, err := node.New(node.Options{Dir: m.Dirs[0]}); err == nil || !strings.Contains(err.Error(), "pre-shared key") {
			t.Errorf("node.New = %v, want a pre-shared key error", err)
		}
	})
}
