package node_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// goroutine a node starts has an owner and stops with Serve or Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leakOptions()...)
}

// leakOptions ignores the goroutines of libraries that outlive any one
// node by design (process-wide workers started once).
func leakOptions() []goleak.Option {
	return []goleak.Option{
		// go-libp2p's and its dependencies' process-wide caches and
		// watchers, started on first use and kept for the process.
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreAnyFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/transport/tcpreuse.(*ConnMgr).run"),
	}
}
