package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// ledgerOn polls until court n's copy of transfer id's ledger satisfies ok.
func ledgerOn(t *testing.T, n *node.Node, id court.TransferID, what string, ok func(api.FundsLedger) bool) api.FundsLedger {
	t.Helper()
	var l api.FundsLedger
	nodetest.PollUntil(t, 20*time.Second, what, func() bool {
		var err error
		l, err = n.Funds().Ledger(id)
		return err == nil && ok(l)
	})
	return l
}

func findAlertOf(as []api.Alert, kind string, id court.TransferID) (api.Alert, bool) {
	for _, a := range as {
		if a.Kind == kind && a.Transfer == string(id) {
			return a, true
		}
	}
	return api.Alert{}, false
}

// dashboardOf is court code's dashboard, through its API.
func dashboardOf(t *testing.T, s *scenario, code court.CourtCode) dashboard.Dashboard {
	t.Helper()
	resp, body := call(t, s.as(code), "GET", "/v1/dashboard", s.token(code))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dashboard of %s: %s %s", code, resp.Status, body)
	}
	var d dashboard.Dashboard
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestFundsLedgerStory: a deduction (扣划) lands at the origin after its
// 销案 (the handover); the origin holds it, the alert rises past the
// forward deadline; the origin forwards it, the receiver records it
// received and pays the applicant; the ledger balances on every node and
// the indicators follow the ledger, not the receiver's typed report.
func TestFundsLedgerStory(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	id, _, newNo, _ := s.received(t)
	origin, receiver := s.as("京0105"), s.as("京0108")
	today := court.DateOf(time.Now())
	const deducted = 30_000_00

	// As 京0105, after the handover: a deduction of a frozen deposit lands.
	l := mustV(origin.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: deducted, Source: "deduction",
		Reference: "BK20260316-000123", Account: "9999 0001 2345 6789", Measure: "m1"}))(t)
	if l.OriginHeldFen != deducted || l.RecoveredFen != deducted || len(l.Entries) != 1 || l.OriginHeldSince != today.String() {
		t.Fatalf("origin's ledger after the deduction: %+v", l)
	}
	// Every court of the transfer holds the same ledger; the record carries
	// no account and no reference.
	ledgerOn(t, receiver, id, "the deduction in the receiver's copy", func(l api.FundsLedger) bool { return l.OriginHeldFen == deducted })
	tr, err := receiver.Workflow().Transfer(id)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(tr)
	if bytes.Contains(raw, []byte("9999")) || bytes.Contains(raw, []byte("BK2026")) {
		t.Error("the transfer's state shows the account or the bank reference")
	}

	// Within the deadline nothing is wrong; past it the alert stands.
	rec := mustV(origin.Funds().Reconcile(id, today))(t)
	if !rec.Balanced || rec.ForwardBy != today.AddDate(0, 0, 30).String() {
		t.Fatalf("reconciliation today: %+v", rec)
	}
	late := today.AddDate(0, 0, 31)
	as := mustV(origin.Funds().FundsAlerts(ctx, late))(t)
	if a, ok := findAlertOf(as, "funds_held_at_origin", id); !ok || a.Severity != "critical" || a.Court != "京0105" {
		t.Fatalf("no critical funds_held_at_origin alert past the deadline: %+v", as)
	}
	if rec := mustV(origin.Funds().Reconcile(id, late))(t); rec.Balanced || len(rec.Problems) != 1 {
		t.Fatalf("reconciliation past the deadline: %+v", rec)
	}

	// As 京0105, forward it to the receiver; as 京0108, record it received.
	l = mustV(origin.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "forwarded", AmountFen: deducted, Account: "9999 0108 0000 0001"}))(t)
	if l.OriginHeldFen != 0 || l.InTransitFen != deducted || l.OriginHeldSince != "" {
		t.Fatalf("origin's ledger after the forward: %+v", l)
	}
	ledgerOn(t, receiver, id, "the forward at the receiver", func(l api.FundsLedger) bool { return l.InTransitFen == deducted })
	mustV(receiver.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: deducted, Source: "forward"}))(t)
	l = mustV(receiver.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "paid_out", AmountFen: deducted, Account: "9999 1111 2222 3333"}))(t)
	if l.RecoveredFen != deducted || l.ReceiverHeldFen != 0 || l.InTransitFen != 0 || l.PaidOutFen != deducted {
		t.Fatalf("receiver's ledger after paying out: %+v (the forward must not count twice)", l)
	}
	for _, n := range []*node.Node{origin, receiver, s.as("京01")} {
		ledgerOn(t, n, id, "the whole ledger everywhere", func(l api.FundsLedger) bool {
			return len(l.Entries) == 4 && l.RecoveredFen == deducted && l.PaidOutFen == deducted && l.InTransitFen == 0
		})
		if rec := mustV(n.Funds().Reconcile(id, late))(t); !rec.Balanced {
			t.Errorf("reconciliation after the forward: %+v", rec)
		}
		if as := mustV(n.Funds().FundsAlerts(ctx, late))(t); len(as) != 0 {
			if _, ok := findAlertOf(as, "funds_held_at_origin", id); ok {
				t.Errorf("the held alert stands after the forward: %+v", as)
			}
		}
	}

	// The indicators follow the ledger: recovered 30,000 yuan for 京0108.
	nodetest.PollUntil(t, 20*time.Second, "the ledger in the receiver's indicators", func() bool {
		return courtRow(dashboardOf(t, s, "京0108"), "京0108").RecoveredFen == deducted
	})
	// A typed report that disagrees with the ledger does not move them;
	// the reconciliation names it.
	must(t)(receiver.Workflow().Progress(ctx, id, api.ProgressRequest{AmountRecoveredFen: 99_000_00, Status: "已扣划存款"}))
	rec = mustV(receiver.Funds().Reconcile(id, today))(t)
	if rec.Balanced {
		t.Errorf("a progress report of 99,000 yuan against a ledger of 30,000 balances: %+v", rec)
	}
	if got := courtRow(dashboardOf(t, s, "京0108"), "京0108").RecoveredFen; got != deducted {
		t.Errorf("receiver's dashboard shows %d fen recovered, want the ledger's %d", got, deducted)
	}
	if a, ok := findAlertOf(mustV(receiver.Funds().FundsAlerts(ctx, today))(t), "ledger_unbalanced", id); !ok {
		t.Errorf("no ledger_unbalanced alert: %+v", a)
	}
	// The operator's dashboard shows the new alert and the ledger's amount.
	nodetest.PollUntil(t, 20*time.Second, "the alert and the ledger on the operator's dashboard", func() bool {
		d := dashboardOf(t, s, court.Supreme)
		_, ok := findAlertOf(d.Alerts, "ledger_unbalanced", id)
		return ok && courtRow(d, "京0108").RecoveredFen == deducted
	})
	_ = newNo
}

// mustV fails the test given on an error, or returns the value.
func mustV[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// signAs seals a record as court code's node, as the next record of its
// log, without going through the node.
func (s *scenario) signAs(t *testing.T, code court.CourtCode, id court.TransferID, body *pb.Record) []byte {
	t.Helper()
	for i, c := range s.tm.Courts {
		if c.Code != code {
			continue
		}
		k, err := crypto.LoadNodeKey(s.tm.Dirs[i].Path(crypto.NodeKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		var head uint64
		for _, n := range s.tm.nodes {
			h, err := n.Store().LogHead(court.PeerID(k.PeerID().String()))
			if err != nil {
				t.Fatal(err)
			}
			head = max(head, h)
		}
		raw, err := cmproto.SealRecord(k, s.tm.Certs[i], head+1, time.Now(), id, body)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	t.Fatalf("no court %s", code)
	return nil
}

// TestLedgerRefusals: negative amounts, double counting (the same bank
// payment twice, a forward recorded received twice), a forward or a
// payment larger than what the court holds, and a ledger record for
// another court's case are refused, by the issuing node and by every
// node that receives such a record signed elsewhere.
func TestLedgerRefusals(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	id, _, _, _ := s.received(t)
	origin, receiver := s.as("京0105"), s.as("京0108")
	kind := func(err error) error { return court.KindOf(err) }

	if _, err := origin.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: -5, Source: "voluntary"}); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("negative amount: %v (kind %v), want invalid", err, kind(err))
	}
	if _, err := origin.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: 0, Source: "voluntary"}); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("zero amount: %v, want invalid", err)
	}
	mustV(origin.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: 500_00, Source: "deduction", Reference: "BK-1"}))(t)
	// The same payment, by its bank reference, at either court.
	if _, err := origin.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: 500_00, Source: "deduction", Reference: " BK-1 "}); !errors.Is(err, court.ErrConflict) {
		t.Errorf("the same payment twice at the origin: %v, want conflict", err)
	}
	ledgerOn(t, receiver, id, "the origin's entry at the receiver", func(l api.FundsLedger) bool { return len(l.Entries) == 1 })
	if _, err := receiver.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: 500_00, Source: "deduction", Reference: "BK-1"}); !errors.Is(err, court.ErrConflict) {
		t.Errorf("the same payment counted again by the receiver: %v, want conflict", err)
	}
	// More forwarded or paid than held.
	if _, err := origin.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "forwarded", AmountFen: 500_01}); !errors.Is(err, court.ErrConflict) {
		t.Errorf("forward larger than held: %v, want conflict", err)
	}
	if _, err := receiver.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "paid_out", AmountFen: 1}); !errors.Is(err, court.ErrConflict) {
		t.Errorf("payment by a court that holds nothing: %v, want conflict", err)
	}
	mustV(origin.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "forwarded", AmountFen: 500_00}))(t)
	ledgerOn(t, receiver, id, "the forward at the receiver", func(l api.FundsLedger) bool { return l.InTransitFen == 500_00 })
	if _, err := receiver.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: 400_00, Source: "forward", ForwardNumber: 2}); !errors.Is(err, court.ErrConflict) {
		t.Errorf("a forward received for another amount: %v, want conflict", err)
	}
	mustV(receiver.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: 500_00, Source: "forward", ForwardNumber: 2}))(t)
	if _, err := receiver.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: 500_00, Source: "forward", ForwardNumber: 2}); !errors.Is(err, court.ErrConflict) {
		t.Errorf("the forward recorded received twice: %v, want conflict", err)
	}
	// A court outside the transfer records nothing.
	if _, err := s.as("京01").Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: 1_00, Source: "voluntary"}); !errors.Is(err, court.ErrPermission) {
		t.Errorf("the decider records money: %v, want forbidden", err)
	}

	// Records signed elsewhere: a ledger record for another court's case
	// (the origin naming the receiver's case, or a case of its own outside
	// the transfer), a negative amount, an overdraft.
	tr := mustV(receiver.Workflow().Transfer(id))(t)
	before := len(mustV(receiver.Funds().Ledger(id))(t).Entries)
	entry := func(n uint64, kind string, amount int64, cn string) *pb.Record {
		f := &pb.FundsEntry{Number: n, Kind: kind, AmountFen: amount, On: court.DateOf(time.Now()).String(), CaseNumber: cn}
		if kind == "received" {
			f.Source = "voluntary"
		}
		return &pb.Record{Body: &pb.Record_FundsEntry{FundsEntry: f}}
	}
	for _, c := range []struct {
		name string
		body *pb.Record
		want error
	}{
		{"the receiver's case", entry(3, "received", 1_00, tr.NewCaseNumber), court.ErrInvalid},
		{"another case of the origin", entry(3, "received", 1_00, "（2025）京0105执9999号"), court.ErrInvalid},
		{"negative", entry(3, "received", -1_00, tr.CaseNumber), court.ErrInvalid},
		{"overdraft", entry(3, "paid_out", 1_00, tr.CaseNumber), court.ErrConflict},
	} {
		raw := s.signAs(t, "京0105", id, c.body)
		if err := node.IngestForTest(receiver, raw); !errors.Is(err, c.want) {
			t.Errorf("%s: receiver's ingest says %v, want %v", c.name, err, c.want)
		}
	}
	if after := len(mustV(receiver.Funds().Ledger(id))(t).Entries); after != before {
		t.Errorf("the receiver's ledger has %d entries after the refusals, want %d", after, before)
	}
}
