package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/node/api"
)

// doctor prints what the running node's status says of its clock, with
// what to do.
func TestDoctorClockLine(t *testing.T) {
	day := (24 * time.Hour).Milliseconds()
	tol := (2 * time.Minute).Milliseconds()
	for _, c := range []struct {
		name     string
		clock    *api.ClockCheck
		want     []string
		failures int
	}{
		{"ahead", &api.ClockCheck{State: "ahead", OffsetMs: day, Peers: 3, ToleranceMs: tol}, []string{"✗ clock: this machine's clock is 24h0m0s ahead of its 3 peers'", "chronyc"}, 1},
		{"behind", &api.ClockCheck{State: "behind", OffsetMs: -day, Peers: 3, ToleranceMs: tol}, []string{"24h0m0s behind", "timedatectl"}, 1},
		{"ok", &api.ClockCheck{State: "ok", OffsetMs: 40, Peers: 3, ToleranceMs: tol}, []string{"✓ clock agrees with 3 peers'"}, 0},
		{"unknown", &api.ClockCheck{State: "unknown", ToleranceMs: tol}, []string{"! clock: no peer heard yet"}, 0},
		{"older node", nil, nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			k := &checkup{c: &cli{stdout: &out, stderr: &out}}
			k.clock(c.clock)
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("doctor printed %q, want %q in it", out.String(), w)
				}
			}
			if k.failures != c.failures {
				t.Errorf("%d failures, want %d", k.failures, c.failures)
			}
		})
	}
}
