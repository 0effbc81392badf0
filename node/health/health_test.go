package health

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/dashboard"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// Consecutive heartbeats share checkpoint positions, so that a witness
// can compare hashes at them.
func TestCheckpointPositions(t *testing.T) {
	for _, l := range []uint64{0, 1, 2, 3, 7, 64, 1000, 1 << 40} {
		ps := checkpointPositions(l)
		if len(ps) > 2*64 {
			t.Errorf("length %d: %d positions", l, len(ps))
		}
		if !slices.IsSortedFunc(ps, func(a, b uint64) int { return cmp.Compare(b, a) }) {
			t.Errorf("length %d: %v not highest first", l, ps)
		}
		for _, p := range ps {
			if p == 0 || p >= l {
				t.Errorf("length %d: position %d", l, p)
			}
		}
	}
	// From 1000 to 1010 entries, the two heartbeats share positions.
	a, b := checkpointPositions(1000), checkpointPositions(1010)
	shared := 0
	for _, p := range a {
		if slices.Contains(b, p) {
			shared++
		}
	}
	if shared == 0 {
		t.Errorf("no shared position between %v and %v", a, b)
	}
}

func hbAt(l uint64, hash func(uint64) [32]byte) *pb.Heartbeat {
	h := hash(l)
	hb := &pb.Heartbeat{Court: "京0105", AuditLength: l, AuditHead: h[:]}
	for _, p := range checkpointPositions(l) {
		c := hash(p)
		hb.AuditCheckpoints = append(hb.AuditCheckpoints, &pb.AuditCheckpoint{Length: p, Hash: c[:]})
	}
	return hb
}

// The witness flags a log that goes back and one that shows another hash
// at a position it showed before, and keeps the first flag.
func TestWitness(t *testing.T) {
	honest := func(p uint64) [32]byte { return [32]byte{byte(p), byte(p >> 8), 1} }
	forged := func(p uint64) [32]byte {
		if p >= 900 {
			return [32]byte{byte(p), byte(p >> 8), 2}
		}
		return honest(p)
	}
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	t.Run("growing", func(t *testing.T) {
		ph := &peerHealth{witnessed: map[uint64][32]byte{}}
		for l := uint64(1); l < 2000; l += 37 {
			ph.witness(hbAt(l, honest), now)
		}
		if ph.audit != "" || len(ph.witnessed) > maxWitnessed {
			t.Errorf("flag %q, %d witnessed", ph.audit, len(ph.witnessed))
		}
	})
	t.Run("rewound", func(t *testing.T) {
		ph := &peerHealth{witnessed: map[uint64][32]byte{}}
		ph.witness(hbAt(1000, honest), now)
		ph.witness(hbAt(990, honest), now.Add(time.Minute))
		if ph.audit != "audit_rewound" || !ph.auditSince.Equal(now.Add(time.Minute)) {
			t.Errorf("flag %q since %v", ph.audit, ph.auditSince)
		}
		ph.witness(hbAt(1000, forged), now.Add(2*time.Minute))
		if ph.audit != "audit_rewound" {
			t.Errorf("flag %q after a fork, want the first one kept", ph.audit)
		}
	})
	t.Run("forked", func(t *testing.T) {
		ph := &peerHealth{witnessed: map[uint64][32]byte{}}
		ph.witness(hbAt(1000, honest), now)
		ph.witness(hbAt(1010, forged), now)
		if ph.audit != "audit_forked" {
			t.Errorf("flag %q, want audit_forked", ph.audit)
		}
	})
}

// testGuardDays is the handover guard the tests' statistics assume.
const testGuardDays = 30

// testStore opens a store in a temporary folder holding the transfers.
func testStore(t testing.TB, ts []*cmproto.Transfer) *storage.DB {
	t.Helper()
	db, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, tr := range ts {
		b, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		r, err := storage.TransferRecordFromJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		r.Stats = dashboard.Contribution(tr, testGuardDays)
		if err := db.PutTransfer(r); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// transfers makes n transfers from 京0105 via 京 to 京0108 (or 京0106
// for one in three), in turn offered, decided (overdue for one in
// four), handed over and closed, one a day.
func transfers(n int, now time.Time) []*cmproto.Transfer {
	out := make([]*cmproto.Transfer, 0, n)
	for i := range n {
		at := now.AddDate(0, 0, -n+i)
		tr := &cmproto.Transfer{
			ID: court.TransferID(fmt.Sprintf("%032x", i+1)), Origin: "京0105", Superior: "京", Decider: "京",
			Receiver: "京0108", CaseNumber: fmt.Sprintf("（2024）京0105执%d号", i+1), OfferedAt: at,
		}
		if i%3 == 0 {
			tr.Receiver = "京0106"
		}
		switch i % 4 {
		case 0:
			tr.State, tr.Decider, tr.Receiver = cmproto.StateOffered, "", ""
		case 1:
			tr.State, tr.Mode, tr.DecidedAt = cmproto.StateDecided, "指令执行", at
			tr.AcceptBy = court.DateOf(at).AddDate(0, 0, 7).String()
		case 2:
			tr.State, tr.Mode, tr.DecidedAt, tr.AcceptedAt, tr.HandedOverAt = cmproto.StateHandedOver, "指令执行", at, at.Add(time.Hour), at.Add(2*time.Hour)
		case 3:
			tr.State, tr.Mode, tr.DecidedAt, tr.AcceptedAt, tr.HandedOverAt, tr.ReceivedAt = cmproto.StateClosed, "指令执行", at, at.Add(time.Hour), at.Add(2*time.Hour), at.Add(3*time.Hour)
		}
		out = append(out, tr)
	}
	return out
}

func testService(db Store, now time.Time) *Service {
	return &Service{d: Deps{Store: db}, now: func() time.Time { return now }, log: slog.New(slog.DiscardHandler)}
}

// The dashboard computed from the store's counters and sums and the
// transfers in flight shows what the dashboard computed from every
// transfer shows.
//
// With 800 transfers, one a day, more than a year of them lies before
// the trends' window: the dashboard reads only the window's months and
// must show the same trends and load as the sums of every month.
func TestDashboardTransfersMatchFullScan(t *testing.T) {
	for _, n := range []int{120, 800} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { dashboardMatchesFullScan(t, n) })
	}
}

func dashboardMatchesFullScan(t *testing.T, n int) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	all := transfers(n, now)
	s := testService(testStore(t, all), now)
	for _, c := range []struct {
		self     court.CourtCode
		operator bool
	}{{"最高法", true}, {"京0106", false}, {"京0105", false}, {"沪0101", false}} {
		t.Run(string(c.self), func(t *testing.T) {
			in, err := s.dashboardTransfers(context.Background(), c.self, c.operator, now)
			if err != nil {
				t.Fatal(err)
			}
			fill := func(in dashboard.Input) dashboard.Input {
				in.Now, in.Self, in.GuardDays = now, c.self, testGuardDays
				return in
			}
			got := dashboard.Compute(fill(in))
			want := dashboard.Compute(fill(dashboard.Input{Operator: c.operator, Transfers: all, TrendsOf: "京"}))
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if string(gj) != string(wj) {
				t.Errorf("from counters and pages:\n%s\nfrom every transfer:\n%s", gj, wj)
			}
			if c.self == "京0105" && got.Pipeline.Total != n {
				t.Errorf("total %d, want %d", got.Pipeline.Total, n)
			}
			if c.operator && n > 365 {
				open := 0
				for _, l := range got.Trends[0].Load {
					open += l.Open[0]
				}
				if open == 0 {
					t.Errorf("no case open at the end of the window's first month: the test does not check the load carried in")
				}
			}
		})
	}
}

// However many transfers the store holds, the dashboard reads only the
// counters and the sums, and stays exact.
func TestDashboardReadsNoHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a store with 2,500 transfers")
	}
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	all := transfers(2500, now)
	s := testService(testStore(t, all), now)
	in, err := s.dashboardTransfers(context.Background(), "最高法", true, now)
	if err != nil {
		t.Fatal(err)
	}
	overdue, handedOver := 0, 0
	for _, tr := range all {
		if tr.Overdue(now) {
			overdue++
		}
		if tr.State == cmproto.StateHandedOver {
			handedOver++
		}
	}
	total := 0
	for _, c := range in.Counts {
		total += c
	}
	if total != len(all) || in.Overdue != overdue {
		t.Errorf("counts %v (total %d), overdue %d; want %d and %d", in.Counts, total, in.Overdue, len(all), overdue)
	}
	if len(in.Transfers) != 0 || handedOver == 0 {
		t.Errorf("%d transfers read (%d in flight), want none", len(in.Transfers), handedOver)
	}
	fill := func(in dashboard.Input) dashboard.Input {
		in.Now, in.Self, in.GuardDays = now, "最高法", testGuardDays
		return in
	}
	got, want := dashboard.Compute(fill(in)), dashboard.Compute(fill(dashboard.Input{Operator: true, Transfers: all, TrendsOf: "京"}))
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("from counters and sums:\n%s\nfrom every transfer:\n%s", gj, wj)
	}

	// Past MaxOverdueAlerts overdue transfers, one more alert counts the rest.
	as, _ := s.overdueAlerts(context.Background(), now)
	if len(as) != MaxOverdueAlerts+1 {
		t.Fatalf("%d overdue alerts for %d overdue transfers, want %d", len(as), overdue, MaxOverdueAlerts+1)
	}
	last := as[len(as)-1]
	if want := fmt.Sprintf("%d more transfers are overdue", overdue-MaxOverdueAlerts); last.Transfer != "" || !strings.Contains(last.Message, want) {
		t.Errorf("last alert %+v, want one naming %q", last, want)
	}
}

// Overdue alerts come from the deadline index, newest offer first, and
// past MaxOverdueAlerts one alert counts the rest.
func TestOverdueAlerts(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	all := transfers(40, now)
	s := testService(testStore(t, all), now)
	var want []string
	for _, tr := range all {
		if tr.Overdue(now) {
			want = append(want, string(tr.ID))
		}
	}
	slices.Reverse(want) // newest offer first
	as, parties := s.overdueAlerts(context.Background(), now)
	var got []string
	for _, a := range as {
		if a.Kind != "acceptance_overdue" || a.Severity != "warning" || a.Court != "京0108" && a.Court != "京0106" {
			t.Errorf("alert %+v", a)
		}
		got = append(got, a.Transfer)
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("overdue alerts for %v, want %v", got, want)
	}

	for _, a := range as {
		if cs := parties[a.Transfer]; !slices.Contains(cs, court.CourtCode(a.Court)) || !slices.Contains(cs, "京0105") {
			t.Errorf("alert on %s: courts concerned %v, want the receiver %s and the origin 京0105", a.Transfer, cs, a.Court)
		}
	}
	for _, c := range []court.CourtCode{"京0106", "京0108", "京0105", "沪0101"} {
		n := 0
		for _, tr := range all {
			if tr.Overdue(now) && (tr.Origin == c || tr.Receiver == c || tr.Decider == c) {
				n++
			}
		}
		if got, err := s.d.Store.CountCourtOverdue(context.Background(), c, court.DateOf(now)); err != nil || got != n {
			t.Errorf("overdue at %s: counted %d, %v; want %d", c, got, err, n)
		}
	}
}
