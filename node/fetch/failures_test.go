package fetch

import (
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// TestRefusalReason: a refusal with a code is classified by the code
// alone, whatever its words; one without a code (a source of a build
// before FetchResponse.code) by the words those builds wrote.
func TestRefusalReason(t *testing.T) {
	const revokedWords = "the origin 京0105 revoked the grant of 京0108 in transfer 5a3f0c1e"
	for _, c := range []struct {
		name   string
		code   string
		msg    string
		reason string
		kind   error
	}{
		// With the code: the words are not read.
		{"code revoked", api.CodeRevoked, "the grant of 京0108 in transfer 5a3f0c1e ended on 2026-03-01", reasonRevoked, court.ErrRevoked},
		{"code revoked, other words", api.CodeRevoked, "拒绝", reasonRevoked, court.ErrRevoked},
		{"code not_found", api.CodeNotFound, "this node holds no copy", reasonMissing, court.ErrNotFound},
		{"code forbidden, words saying revoked", api.CodeForbidden, revokedWords, reasonRefused, court.ErrPermission},
		{"code invalid", api.CodeInvalid, "malformed chunk id", reasonRefused, court.ErrInvalid},
		{"code unavailable", api.CodeUnavailable, "the serving court cannot record the access now; try later", reasonRefused, court.ErrUnavailable},
		{"code internal", api.CodeInternal, revokedWords, reasonRefused, nil},
		{"a code this build does not know", "grant_paused", revokedWords, reasonRefused, nil},
		// Without the code (an older source): its words.
		{"no code, revoked", "", revokedWords, reasonRevoked, court.ErrRevoked},
		{"no code, not admitted, certificate revoked", "", "not admitted: certificate revoked", reasonRevoked, court.ErrRevoked},
		{"no code, holds no dossier", "", "this node holds no dossier of transfer 5a3f0c1e", reasonMissing, court.ErrNotFound},
		{"no code, no grant", "", "京0102 holds no grant in transfer 5a3f0c1e", reasonRefused, nil},
		{"no code, run out", "", "the grant of 京0108 in transfer 5a3f0c1e ended on 2026-03-01", reasonRefused, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := refusal("京0105", &pb.FetchResponse{Version: 1, Error: c.msg, Code: c.code})
			if got := refusalReason(err); got != c.reason {
				t.Errorf("reason %q, want %q (error %v)", got, c.reason, err)
			}
			if k := court.KindOf(err); k != c.kind {
				t.Errorf("kind %v, want %v", k, c.kind)
			}
			if want := "京0105 refused: " + c.msg; err.Error() != want {
				t.Errorf("error reads %q, want %q", err, want)
			}
		})
	}
}
