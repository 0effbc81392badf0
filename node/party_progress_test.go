package node_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// TestPartySeesPublishedProgress: the receiving court reports progress to
// the courts; the case's party sees on the status page only the status
// the court chose to publish (with the day), and the deadlines the
// decision fixed, as every node holds them.
func TestPartySeesPublishedProgress(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	id, cn, _, _ := s.received(t)
	origin, receiver := s.as("京0105"), s.as("京0108")

	codes, err := origin.Party().Codes(ctx, cn, false)
	if err != nil {
		t.Fatal(err)
	}
	var applicant api.IssuedCode
	for _, c := range codes.Codes {
		if c.Role == court.RoleApplicant && c.Code != "" {
			applicant = c
		}
	}
	idNumber, err := origin.Store().PartyID(cn, applicant.Party)
	if err != nil {
		t.Fatal(err)
	}
	who, err := origin.Party().SignIn(cn.String(), applicant.Code, idNumber[len(idNumber)-4:])
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}

	// A status for the courts only: not shown to the party.
	const internal, public = "已向协助单位发出续冻通知", "已查封被执行人房产，正在评估"
	must(t)(receiver.Workflow().Progress(ctx, id, api.ProgressRequest{AmountRecoveredFen: 1_000_00, Status: internal}))
	nodetest.PollUntil(t, 20*time.Second, "the first progress report at the origin", func() bool {
		tr, err := origin.Workflow().Transfer(id)
		return err == nil && tr.ProgressStatus == internal
	})
	v, err := origin.Party().Status(ctx, who)
	if err != nil {
		t.Fatal(err)
	}
	if v.Progress != "" {
		t.Errorf("the party sees the unpublished status %q", v.Progress)
	}
	if v.RecoveredFen != 1_000_00 {
		t.Errorf("recovered %d fen shown, want 100000", v.RecoveredFen)
	}
	tr, err := origin.Workflow().Transfer(id)
	if err != nil {
		t.Fatal(err)
	}
	var concludeBy string
	for _, d := range v.Deadlines {
		if d.Key == "conclude_by" {
			concludeBy = d.Date
		}
	}
	if tr.ConcludeBy == "" || concludeBy != tr.ConcludeBy {
		t.Errorf("the party's conclusion deadline %q, the transfer's %q", concludeBy, tr.ConcludeBy)
	}

	// Publishing needs a status; a published one is shown with its day,
	// and stays shown after a later report for the courts only.
	if _, err := receiver.Workflow().Progress(ctx, id, api.ProgressRequest{AmountRecoveredFen: 1_000_00, Publish: true}); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("publish without a status: %v, want invalid", err)
	}
	must(t)(receiver.Workflow().Progress(ctx, id, api.ProgressRequest{AmountRecoveredFen: 2_000_00, Status: public, Publish: true}))
	// Every node shows the published status before the next report (two
	// reports that cross in gossip end alike on every node: see
	// protocol's TestApplyProgress).
	nodetest.PollUntil(t, 20*time.Second, "the published progress on every node", func() bool {
		for _, n := range s.tm.nodes {
			tr, err := n.Workflow().Transfer(id)
			if err != nil || tr.ProgressPublished != public {
				return false
			}
		}
		return true
	})
	must(t)(receiver.Workflow().Progress(ctx, id, api.ProgressRequest{AmountRecoveredFen: 3_000_00, Status: internal}))
	nodetest.PollUntil(t, 20*time.Second, "the third progress report at the origin", func() bool {
		tr, err := origin.Workflow().Transfer(id)
		return err == nil && tr.AmountRecovered == 3_000_00
	})
	v, err = origin.Party().Status(ctx, who)
	if err != nil {
		t.Fatal(err)
	}
	today := court.DateOf(time.Now()).String()
	if v.Progress != public || v.ProgressOn != today {
		t.Errorf("the party sees %q of %q, want %q of %s", v.Progress, v.ProgressOn, public, today)
	}
	s.agreeEverywhere(id)
}
