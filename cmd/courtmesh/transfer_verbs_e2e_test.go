package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage/gen"
)

// verbMesh is the mesh of TestTransferVerbsEndToEnd: 京01 the superior,
// 京0105 the origin, 京0108 the receiver, 京0102 the assisting court, each
// its own process, and the synthetic cases of 京0105 by scenario.
type verbMesh struct {
	e                         *e2e
	courts                    []*e2eCourt
	sup, origin, recv, helper *e2eCourt
	cases                     []genCase // gen --json, in order (case i+1 at i)
	dir                       string    // where gen wrote them
	today                     court.Date
	year                      int
}

// TestTransferVerbsEndToEnd runs the verbs of the whole life of a
// transfer (issue 16) as an operator types them, against four nodes each
// its own process, and checks every step on every court through
// `transfer show --json`, and one refusal of each verb by its message and
// exit status:
//
//   - 京01 starts the transfer of 京0105's case on its own motion
//     (消极执行), orders 督促执行, 京0105 reports, 京01 escalates to
//     指令执行 to 京0108; 京0108 accepts, 京0105 hands over, 京0108 returns
//     the handover incomplete, 京0105 imports the missing papers and
//     supplements, 京0108 fetches the dossier and concludes the case (终结);
//   - 京0105 asks 京0102 to assist (协同执行), which takes it on and
//     reports the result;
//   - 京01 records the applicant's request (申请变更执行法院) and answers it;
//   - 京01 gathers two offered cases of one debtor into 京0108 (集中执行).
//
// The deadlines are 京01's (its config differs from the defaults and
// from 京0108's): every court shows the dates the decision fixed.
func TestTransferVerbsEndToEnd(t *testing.T) {
	start := time.Now()
	e := sharedE2E(t)
	base := t.TempDir()
	root := filepath.Join(base, "root")
	e.must(t, "ca", "init", "--dir", root)
	m := &verbMesh{e: e, today: court.DateOf(time.Now())}
	m.year = m.today.Year
	m.sup = &e2eCourt{code: "京01", roles: "court", extraConfig: "handover_days = 5\nreturn_days = 12\nsupplement_days = 25\nrequest_answer_days = 9\n"}
	m.origin = &e2eCourt{code: "京0105", roles: "court"}
	m.recv = &e2eCourt{code: "京0108", roles: "court", extraConfig: "handover_days = 9\nreturn_days = 20\nsupplement_days = 40\n"}
	m.helper = &e2eCourt{code: "京0102", roles: "court"}
	m.courts = []*e2eCourt{m.sup, m.origin, m.recv, m.helper}
	e.certifyAndStart(t, base, root, m.courts)
	for _, c := range m.courts {
		nodetest.PollUntil(t, 30*time.Second, c.code+" sees the other three courts", func() bool {
			ps, err := c.apiPeers(t)
			return err == nil && len(ps) == len(m.courts)-1
		})
	}
	m.genAndImport(t, base, 1, 3, 4, 15, 17)
	t.Logf("mesh up and cases imported in %v (load %s)", time.Since(start).Round(time.Millisecond), nodetest.LoadAvg())

	t.Run("StartSuperviseReturnConclude", m.startToConclusion)
	t.Run("Assist", m.assist)
	t.Run("Request", m.request)
	t.Run("Gather", m.gather)
	t.Logf("whole test: %v", time.Since(start).Round(time.Millisecond))
}

// genAndImport writes 17 synthetic cases of 京0105 with `gen --json` and
// imports those numbered nums into the running node with `case import`.
func (m *verbMesh) genAndImport(t *testing.T, base string, nums ...int) {
	t.Helper()
	m.dir = filepath.Join(base, "cases")
	m.e.mustJSON(t, &m.cases, "gen", "--json", "--out", m.dir, "--cases", "17", "--seed", "5", "--court", "京0105")
	if len(m.cases) != 17 || m.cases[16].Scenario != gen.ScenarioReturned || m.cases[2].Scenario != gen.ScenarioGathered || m.cases[3].Scenario != gen.ScenarioGathered {
		t.Fatalf("gen --json: %d cases, 3 %q, 4 %q, 17 %q; want 17 with 3 and 4 of one debtor and 17 returned incomplete", len(m.cases), m.cases[2].Scenario, m.cases[3].Scenario, m.cases[16].Scenario)
	}
	for _, n := range nums {
		c := m.cases[n-1]
		if out := m.e.must(t, "case", "import", "--data", m.origin.dir, filepath.Join(m.dir, c.Folder)); !strings.Contains(out, c.CaseNumber) {
			t.Fatalf("case import of %s does not print its number %s:\n%s", c.Folder, c.CaseNumber, out)
		}
	}
}

// refused runs a command that the node (or the CLI) must refuse with the
// exit status want and a message holding each of msgs.
func (m *verbMesh) refused(t *testing.T, what string, want int, msgs []string, args ...string) {
	t.Helper()
	status, out := m.e.exitStatus(args...)
	if status != want {
		t.Errorf("%s (courtmesh %s): exit status %d, want %d\n%s", what, strings.Join(args, " "), status, want, out)
		return
	}
	for _, s := range msgs {
		if !strings.Contains(out, s) {
			t.Errorf("%s: the refusal does not say %q:\n%s", what, s, out)
		}
	}
	t.Logf("%s refused (exit %d): %s", what, status, strings.TrimSpace(out))
}

// everywhere waits until every court's node holds transfer id so that ok
// holds, then reads it on every court with `transfer show --json`: each
// must satisfy ok and all must agree on every field agreed names. It
// returns the transfer as the first court shows it.
func (m *verbMesh) everywhere(t *testing.T, id, what string, ok func(api.Transfer) bool) api.Transfer {
	t.Helper()
	for _, c := range m.courts {
		nodetest.PollUntil(t, 30*time.Second, fmt.Sprintf("%s holds %s %s", c.code, id, what), func() bool {
			tr, err := apiTransfer(c, id)
			return err == nil && ok(tr)
		})
	}
	var first api.Transfer
	var want string
	for i, c := range m.courts {
		tr := m.e.showJSON(t, c, id)
		if !ok(tr) {
			t.Fatalf("transfer show --json on %s: %s is not %s:\n%s", c.code, id, what, agreed(tr))
		}
		if got := agreed(tr); i == 0 {
			first, want = tr, got
		} else if got != want {
			t.Fatalf("%s disagrees with %s on %s (%s):\n got %s\nwant %s", c.code, m.courts[0].code, id, what, got, want)
		}
	}
	return first
}

// agreed is what every court must agree on about a transfer: its state,
// mode, courts, every deadline, the steps of each mode and its records.
func agreed(tr api.Transfer) string {
	var recs []string
	for _, r := range tr.Records {
		recs = append(recs, string(r.Kind)+"/"+string(r.Issuer)+"/"+r.Hash)
	}
	sv, as := "-", "-"
	if s := tr.Supervision; s != nil {
		sv = fmt.Sprintf("by %s reports %d recovered %d escalated %v overdue %v", s.EnforceBy, s.Reports, s.Recovered, s.Escalated, s.Overdue)
	}
	if a := tr.Assistance; a != nil {
		as = fmt.Sprintf("%s %v answer %s due %s outcome %s recovered %d", a.Court, a.Tasks, a.AnswerBy, a.Due, a.Outcome, a.Recovered)
	}
	return fmt.Sprintf("state=%s mode=%s case=%s origin=%s superior=%s decider=%s receiver=%s decision=%s started=%s requested=%s grounds=%v "+
		"answer_by=%s accept_by=%s handover_by=%s file_by=%s investigate_by=%s conclude_by=%s return_by=%s supplement_by=%s "+
		"deadline=%s/%s/%s overdue=%v waiting=%s/%s version=%d missing=%v new=%s chunks=%d root=%x claim=%d recovered_at_handover=%d balance=%d "+
		"recovered=%d outcome=%s closure=%s reason=%q gathered=%v supervision=[%s] assistance=[%s] records=%v",
		tr.State, tr.Mode, tr.CaseNumber, tr.Origin, tr.Superior, tr.Decider, tr.Receiver, tr.DecisionNumber, tr.StartedBy, tr.RequestedOn, tr.Grounds,
		tr.AnswerBy, tr.AcceptBy, tr.HandoverBy, tr.FileBy, tr.InvestigateBy, tr.ConcludeBy, tr.ReturnBy, tr.SupplementBy,
		tr.Deadline, tr.DeadlineFor, tr.DeadlineCourt, tr.Overdue, tr.WaitingOn, tr.WaitingFor, tr.HandoverVersion, tr.Missing, tr.NewCaseNumber, tr.ChunkCount, tr.MerkleRoot,
		tr.ClaimFen, tr.HandoverRecovered, tr.BalanceFen, tr.AmountRecovered, tr.Outcome, tr.ClosureKind, tr.Reason, tr.Gathered, sv, as, recs)
}

// lastRecord is the day (China time) of the transfer's last record of
// kind k.
func lastRecord(t *testing.T, tr api.Transfer, k cmproto.Kind) court.Date {
	t.Helper()
	for i := len(tr.Records) - 1; i >= 0; i-- {
		if tr.Records[i].Kind == k {
			return court.DateOf(tr.Records[i].IssuedAt)
		}
	}
	t.Fatalf("transfer %s has no %s record: %v", tr.ID, k, tr.Records)
	return court.Date{}
}

func state(s cmproto.State) func(api.Transfer) bool {
	return func(tr api.Transfer) bool { return tr.State == s }
}

// caseDetail reads a case on a court with `case show --json`.
func (m *verbMesh) caseDetail(t *testing.T, c *e2eCourt, cn string) api.CaseDetail {
	t.Helper()
	var d api.CaseDetail
	m.e.mustJSON(t, &d, "case", "show", "--json", "--data", c.dir, cn)
	return d
}

// containsAll reports whether have holds every element of want.
func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
