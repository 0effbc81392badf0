package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them (the
// in-process commands: demo, offline case and audit commands).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if sharedBuild.dir != "" {
			os.RemoveAll(sharedBuild.dir)
		}
	}))
}
