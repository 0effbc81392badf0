package main

import (
	"errors"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
)

// TestErrorsSayTheirKindOnce: an error that comes back from the node
// through the API reads as the node's message, once, not prefixed again
// by its code ("invalid: invalid transfer id …"), and keeps its kind for
// the exit status.
func TestErrorsSayTheirKindOnce(t *testing.T) {
	running := startCaseNode(t)
	tests := []struct {
		args []string
		kind error
		want string
	}{
		{[]string{"transfer", "show", "--data", running, "zz"}, court.ErrInvalid, `invalid transfer id "zz"`},
		{[]string{"transfer", "offer", "--data", running, "--case", "（2024）京0105执1号", "--superior", "京01", "--grounds", "long_unexecuted"}, court.ErrNotFound, "case （2024）京0105执1号: not found"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:2], " "), func(t *testing.T) {
			_, err := runCLI(t, tt.args...)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("%v: %v, want kind %v", tt.args, err, tt.kind)
			}
			// main prints "courtmesh: " + err.
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.want) {
				t.Errorf("%v: says %q, want it to start %q", tt.args, msg, tt.want)
			}
			for _, doubled := range []string{"invalid: invalid", "not_found: ", "invalid: "} {
				if strings.Contains(msg, doubled) {
					t.Errorf("%v: says %q, with %q", tt.args, msg, doubled)
				}
			}
			if exitStatus(err) != kindExit[tt.kind] {
				t.Errorf("%v: exit status %d, want %d", tt.args, exitStatus(err), kindExit[tt.kind])
			}
		})
	}
}
