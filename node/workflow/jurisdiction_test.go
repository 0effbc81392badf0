package workflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/trust"
	"courtmesh.dev/courtmesh/node/workflow"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// jurisdictionMesh certifies two provinces' courts; the nodes of 京01
// (an intermediate court) and of the SPC's operators get a store.
func jurisdictionCourts() []devmesh.Court {
	c := func(code court.CourtCode, roles ...crypto.Role) devmesh.Court {
		return devmesh.Court{Code: code, Roles: append([]crypto.Role{crypto.RoleCourt}, roles...)}
	}
	return []devmesh.Court{c(court.Supreme, crypto.RoleOperator), c("京"), c("京01"), c("京0101"), c("京0105"), c("京02"), c("京0201"),
		c("沪"), c("沪01"), c("沪0101")}
}

type xfer struct {
	id                        string
	origin, decider, receiver court.CourtCode
	state                     cmproto.State
	mode                      string
	acceptBy                  string
	offered                   time.Time
}

// view builds the workflow of the node of court i over its own store,
// holding every transfer of xs.
func view(t *testing.T, m *devmesh.Mesh, i int, xs []xfer, now time.Time) *workflow.Service {
	t.Helper()
	nk, _, err := m.Dirs[i].Keys()
	if err != nil {
		t.Fatal(err)
	}
	ts, err := trust.New(trust.Deps{Dir: m.Dirs[i], Self: nk.PeerID(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(filepath.Join(string(m.Dirs[i]), "store"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, x := range xs {
		tr := cmproto.Transfer{ID: court.TransferID(x.id), State: x.state, CaseNumber: fmt.Sprintf("（2024）%s执%d号", x.origin, len(x.id)),
			Origin: x.origin, Superior: x.decider, Decider: x.decider, Receiver: x.receiver, Mode: x.mode, AcceptBy: x.acceptBy,
			OfferedAt: x.offered, Grounds: []string{"long_unexecuted"}, Records: []cmproto.RecordRef{}}
		if x.state == cmproto.StateOffered {
			tr.Decider, tr.Receiver, tr.Mode = "", "", ""
		}
		body, err := json.Marshal(&tr)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := storage.TransferRecordFromJSON(body)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PutTransfer(rec); err != nil {
			t.Fatal(err)
		}
	}
	return workflow.New(workflow.Deps{Store: db, Trust: ts, Peer: nk.PeerID(), Court: m.Courts[i].Code, Now: func() time.Time { return now }})
}

func ids(ts []api.Transfer) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, string(t.ID))
	}
	return out
}

// TestJurisdictionView: an intermediate court sees every transfer
// concerning a court under it (from the trust bundle's hierarchy), not
// only those it decided, with counts per court, filters by court, mode,
// state and overdue, and pages that neither skip nor repeat; it may not
// look at its superior's jurisdiction; the SPC's operators see the whole
// country by province.
func TestJurisdictionView(t *testing.T) {
	now := time.Date(2025, 6, 20, 10, 0, 0, 0, time.UTC)
	m, err := devmesh.Build(t.TempDir(), jurisdictionCourts(), now.Add(-48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	const d, e = "指令执行", "提级执行"
	at := func(h int) time.Time { return now.Add(-time.Duration(h) * time.Hour) }
	id := func(n int) string { return fmt.Sprintf("%032x", n) }
	xs := []xfer{
		{id(1), "京0101", "京01", "京0105", cmproto.StateDecided, d, "2025-06-10", at(1)},  // overdue, decided by 京01
		{id(2), "京0105", "京01", "京01", cmproto.StateReceived, e, "", at(2)},             // elevated to 京01
		{id(3), "京0201", "京", "京0101", cmproto.StateDecided, d, "2025-06-30", at(3)},    // another intermediate's court to one of 京01's: 京 decided
		{id(4), "京0201", "京02", "京0201", cmproto.StateReceived, e, "", at(4)},           // none of 京01's
		{id(5), "沪0101", "沪01", "沪01", cmproto.StateClosed, e, "", at(5)},               // another province
		{id(6), "京0105", "京01", "", cmproto.StateOffered, "", "", at(6)},                // offered to 京01
		{id(7), "京0101", "京01", "京0105", cmproto.StateAccepted, d, "2025-06-01", at(7)}, // accepted: not overdue
	}
	jing01 := view(t, m, 2, xs, now)
	ctx := context.Background()
	v, err := jing01.Jurisdiction(ctx, api.JurisdictionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Scope != "京01" {
		t.Fatalf("scope %s", v.Scope)
	}
	var rows []string
	for _, r := range v.Rows {
		rows = append(rows, fmt.Sprintf("%s:%d:%v:%d", r.Court, r.Courts, r.States, r.Overdue))
	}
	wantRows := []string{
		"京01:1:map[accepted:1 decided:1 offered:1 received:1]:1",
		"京0101:1:map[accepted:1 decided:2]:1",
		"京0105:1:map[accepted:1 decided:1 offered:1 received:1]:1",
	}
	if !slices.Equal(rows, wantRows) {
		t.Fatalf("rows\n%q\nwant\n%q", rows, wantRows)
	}
	if got, want := ids(v.Transfers), []string{id(1), id(2), id(3), id(6), id(7)}; !slices.Equal(got, want) {
		t.Fatalf("jurisdiction of 京01 lists %v, want %v (newest offer first; 4 and 5 are not under 京01)", got, want)
	}

	for _, c := range []struct {
		name string
		q    api.JurisdictionQuery
		want []string
	}{
		{"court", api.JurisdictionQuery{Court: "京0101"}, []string{id(1), id(3), id(7)}},
		{"mode", api.JurisdictionQuery{Mode: e}, []string{id(2)}},
		{"state", api.JurisdictionQuery{State: "decided"}, []string{id(1), id(3)}},
		{"overdue", api.JurisdictionQuery{Overdue: true}, []string{id(1)}},
		{"court and state", api.JurisdictionQuery{Court: "京0105", State: "offered"}, []string{id(6)}},
		{"a court under 京01 as scope", api.JurisdictionQuery{Scope: "京0105"}, []string{id(1), id(2), id(6), id(7)}},
	} {
		v, err := jing01.Jurisdiction(ctx, c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := ids(v.Transfers); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}

	// Pages of two: every transfer once, in order.
	var paged []string
	q := api.JurisdictionQuery{Limit: 2}
	for range 10 {
		v, err := jing01.Jurisdiction(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, ids(v.Transfers)...)
		if v.Next == "" {
			break
		}
		q.Cursor = v.Next
	}
	if want := []string{id(1), id(2), id(3), id(6), id(7)}; !slices.Equal(paged, want) {
		t.Fatalf("paged %v, want %v", paged, want)
	}

	// Not its superior's jurisdiction, nor a court outside its own.
	if _, err := jing01.Jurisdiction(ctx, api.JurisdictionQuery{Scope: "京"}); !errors.Is(err, court.ErrPermission) {
		t.Fatalf("京01 asked for 京's jurisdiction: %v, want a permission error", err)
	}
	if _, err := jing01.Jurisdiction(ctx, api.JurisdictionQuery{Court: "京0201"}); !errors.Is(err, court.ErrInvalid) {
		t.Fatalf("京01 filtered on 京0201: %v, want invalid", err)
	}

	// The SPC's operators: the whole country, one row per province.
	spc := view(t, m, 0, xs, now)
	v, err = spc.Jurisdiction(ctx, api.JurisdictionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	rows = rows[:0]
	for _, r := range v.Rows {
		rows = append(rows, fmt.Sprintf("%s:%d:%v:%d", r.Court, r.Courts, r.States, r.Overdue))
	}
	// 京 sums its 6 courts' rows (a transfer counts for each court it
	// concerns); 沪 its 3.
	wantRows = []string{
		"最高法:1:map[]:0",
		"京:6:map[accepted:3 decided:6 offered:2 received:4]:3",
		"沪:3:map[closed:2]:0",
	}
	if !slices.Equal(rows, wantRows) {
		t.Fatalf("SPC rows\n%q\nwant\n%q", rows, wantRows)
	}
	if got := ids(v.Transfers); len(got) != len(xs) {
		t.Fatalf("the SPC lists %v, want all %d", got, len(xs))
	}
	v, err = spc.Jurisdiction(ctx, api.JurisdictionQuery{Scope: "沪", State: "closed"})
	if err != nil || !slices.Equal(ids(v.Transfers), []string{id(5)}) {
		t.Fatalf("the SPC on 沪's closed transfers: %v %v", ids(v.Transfers), err)
	}
}
