package protocol_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
)

// TestMayFetchKinds: each reason MayFetch refuses is of the kind a serving
// node sends to the asker as the refusal's code (FetchResponse.code), and
// the words stay what older builds wrote, since an asker of such a build
// reads only the words.
func TestMayFetchKinds(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 16, 10, 0, 0, 0, time.UTC)
	base := protocol.Transfer{
		ID: "5a3f0c1e000000000000000000000000", State: protocol.StateHandedOver, Origin: "京0105",
		Readers: []court.CourtCode{"京0108", "京01"},
	}
	for _, c := range []struct {
		name  string
		edit  func(*protocol.Transfer)
		who   court.CourtCode
		kind  error // nil: allowed
		words string
	}{
		{"the reader", func(*protocol.Transfer) {}, "京0108", nil, ""},
		{"the origin, closed", func(t *protocol.Transfer) { t.State = protocol.StateClosed }, "京0105", nil, ""},
		{"no dossier in this state", func(t *protocol.Transfer) { t.State = protocol.StateAccepted }, "京0108", court.ErrInvalid, "there is no dossier to fetch"},
		{"no grant", func(*protocol.Transfer) {}, "京0102", court.ErrPermission, "holds no grant"},
		{"revoked", func(t *protocol.Transfer) { t.RevokedGrants = []court.CourtCode{"京01"} }, "京01", court.ErrRevoked, "revoked the grant"},
		{"run out", func(t *protocol.Transfer) { t.GrantUntil = now.Add(-time.Hour).Unix() }, "京0108", court.ErrRevoked, "ended on"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := base
			c.edit(&tr)
			err := tr.MayFetch(c.who, now)
			if c.kind == nil {
				if err != nil {
					t.Fatalf("MayFetch(%s) = %v, want nil", c.who, err)
				}
				return
			}
			if !errors.Is(err, c.kind) || court.KindOf(err) != c.kind {
				t.Errorf("MayFetch(%s) = %v of kind %v, want kind %v", c.who, err, court.KindOf(err), c.kind)
			}
			if err != nil && !strings.Contains(err.Error(), c.words) {
				t.Errorf("MayFetch(%s) = %q, want it to say %q", c.who, err, c.words)
			}
		})
	}
}
