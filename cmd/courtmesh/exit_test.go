package main

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/crypto/ca"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
)

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"help", errHelp, 0},
		{"usage", fmt.Errorf("transfer: %w", errUsage), exitUsage},
		{"usage explained", fmt.Errorf("transfer gather: %w", usagef("usage: courtmesh transfer gather TRANSFER TRANSFER")), exitUsage},
		{"invalid", court.Errorf(court.ErrInvalid, "bad case number"), exitInvalid},
		{"not found", fmt.Errorf("case: %w", court.ErrNotFound), exitNotFound},
		{"crypto refusal", fmt.Errorf("issue: %w", crypto.ErrNotAuthorised), exitPermission},
		{"revoked", crypto.ErrRevoked, exitPermission},
		{"conflict from the node", &api.Error{Status: http.StatusConflict, Code: api.CodeConflict, Message: "x"}, exitConflict},
		{"handover blocked from the node", &api.Error{Status: http.StatusConflict, Code: "handover_blocked", Message: "x"}, exitConflict},
		{"node not running", fmt.Errorf("%w: dial", api.ErrNodeNotRunning), exitUnavailable},
		{"corrupt", court.ErrCorrupt, exitCorrupt},
		{"bad configuration", fmt.Errorf("config.toml: %w: unknown key(s) x", config.ErrConfig), exitInvalid},
		{"data directory not initialised", fmt.Errorf("d: %w: run courtmesh init", datadir.ErrNotInitialised), exitNotFound},
		{"sealed data does not open", fmt.Errorf("chunk 3: %w", crypto.ErrDecrypt), exitCorrupt},
		{"authority without its certificate", fmt.Errorf("ca: %w", ca.ErrNotReady), exitUnavailable},
		{"no kind", errors.New("out of memory"), exitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitStatus(tt.err); got != tt.want {
				t.Errorf("exitStatus(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}
