package cases_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the case and audit rooms out of the daemon: the command
// line opens a stopped node's store through them without building a node,
// a host or a mesh.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "courtmesh.dev/courtmesh/node/cases", "courtmesh.dev/courtmesh/node/audit").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		// libp2p's core types (peer IDs, keys) are vocabulary; its host,
		// transports and pubsub are the daemon's.
		if p == "courtmesh.dev/courtmesh/node" || p == "courtmesh.dev/courtmesh/node/mesh" || p == "courtmesh.dev/courtmesh/node/trust" ||
			p == "github.com/libp2p/go-libp2p" || strings.HasPrefix(p, "github.com/libp2p/go-libp2p/p2p/") || strings.HasPrefix(p, "github.com/libp2p/go-libp2p-pubsub") {
			t.Errorf("node/cases or node/audit depends on %s", p)
		}
	}
}
