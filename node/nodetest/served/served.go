// Package served runs a node for a test: built, served until the test
// ends (or stop is called), and ready before it returns. It is test
// support that imports package node, so it sits apart from nodetest,
// which the rooms' own tests import.
package served

import (
	"context"
	"sync"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/node"
)

// Start builds a node from o, serves it, and waits until it is ready
// (30 s at most). stop ends it and waits until its store is closed; it is
// safe to call more than once, and the test's cleanup calls it.
func Start(t testing.TB, o node.Options) (n *node.Node, stop func()) {
	t.Helper()
	n, err := node.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	var once sync.Once
	var serveErr error
	stop = func() {
		once.Do(func() {
			cancel()
			serveErr = <-done
			if serveErr != nil {
				t.Errorf("serve: %v", serveErr)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-n.Ready():
	case err := <-done:
		once.Do(func() {}) // stopped by itself: nothing to wait for
		cancel()
		t.Fatalf("node stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("node not ready after 30s")
	}
	return n, stop
}
