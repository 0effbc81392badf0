package protocol

import (
	"fmt"
	"slices"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// ClosureKind names how a case ends (结案方式), by its Chinese name.
type ClosureKind string

// The closure kinds.
const (
	ClosureFulfilled   ClosureKind = "执行完毕"
	ClosureTerminal    ClosureKind = "终本" // 终结本次执行程序: may be resumed (执恢)
	ClosureEnded       ClosureKind = "终结"
	ClosureCancelled   ClosureKind = "销案" // the origin's case on a transfer
	ClosureNotEnforced ClosureKind = "不予执行"
	ClosureDismissed   ClosureKind = "驳回"
)

var closureKinds = []struct {
	pb   pb.ClosureKind
	kind ClosureKind
	word string // the API's and the CLI's name
}{
	{pb.ClosureKind_CLOSURE_FULFILLED, ClosureFulfilled, "fulfilled"},
	{pb.ClosureKind_CLOSURE_TERMINAL, ClosureTerminal, "terminal"},
	{pb.ClosureKind_CLOSURE_ENDED, ClosureEnded, "ended"},
	{pb.ClosureKind_CLOSURE_CANCELLED, ClosureCancelled, "cancelled"},
	{pb.ClosureKind_CLOSURE_NOT_ENFORCED, ClosureNotEnforced, "not_enforced"},
	{pb.ClosureKind_CLOSURE_DISMISSED, ClosureDismissed, "dismissed"},
}

// ParseClosureKind reads a closure kind by its Chinese name (执行完毕, 终本,
// 终结, 销案, 不予执行, 驳回) or its English word (fulfilled, terminal,
// ended, cancelled, not_enforced, dismissed).
func ParseClosureKind(s string) (pb.ClosureKind, ClosureKind, error) {
	for _, k := range closureKinds {
		if s == string(k.kind) || s == k.word {
			return k.pb, k.kind, nil
		}
	}
	return 0, "", invalid("closure kind %q: want 执行完毕 (fulfilled), 终本 (terminal), 终结 (ended), 不予执行 (not_enforced) or 驳回 (dismissed)", s)
}

func closureKindOf(k pb.ClosureKind) ClosureKind {
	for _, c := range closureKinds {
		if c.pb == k {
			return c.kind
		}
	}
	return ""
}

// CaseStatus is the status the receiver's case takes when closed so.
func (k ClosureKind) CaseStatus() court.CaseStatus {
	switch k {
	case ClosureTerminal:
		return court.StatusTerminated
	case ClosureCancelled:
		return court.StatusTransferred
	}
	return court.StatusConcluded
}

// TerminalSteps are the investigation steps a 终本 closure must list as
// done (民诉法解释 art. 517, 最高法《关于严格规范终结本次执行程序的规定》
// art. 3): the online search (网络查控), the order to report assets
// (责令报告财产), an on-site investigation (实地调查) and a consumption
// restriction (限制消费令). OptionalSteps may be listed besides.
var (
	TerminalSteps = []string{"online_search", "report_order", "on_site", "consumption_restriction"}
	OptionalSteps = []string{"dishonest_listing", "audit", "reward_notice", "search_warrant"}
)

// TerminalMinMonths is the time a case must have been filed before it
// may be concluded as 终本.
const TerminalMinMonths = 3

// Approvals of a 终本 closure.
var terminalApprovals = []string{"applicant_signed", "panel_and_president"}

// checkClosure checks a closure without state.
func checkClosure(c *pb.Closure) error {
	if err := checkAmount("amount recovered", c.GetAmountRecoveredFen()); err != nil {
		return err
	}
	if c.GetKind() == pb.ClosureKind_CLOSURE_KIND_UNSPECIFIED {
		switch c.GetOutcome() {
		case "concluded", "terminated", "settled":
		default:
			return invalid("closure outcome %q: want concluded, terminated or settled (or a closure kind)", c.GetOutcome())
		}
		if len(c.GetInvestigationSteps()) > 0 || c.GetApproval() != "" {
			return invalid("investigation steps and approval belong to a 终本 closure with its kind")
		}
		return nil
	}
	kind := closureKindOf(c.GetKind())
	switch {
	case kind == "":
		return invalid("unknown closure kind %d", c.GetKind())
	case kind == ClosureCancelled:
		return invalid("销案 closes the origin's case when it is transferred; the receiver's case ends by 执行完毕, 终本, 终结, 不予执行 or 驳回")
	case c.GetOutcome() != "":
		return invalid("a closure with a kind carries no outcome")
	case kind != ClosureTerminal:
		if len(c.GetInvestigationSteps()) > 0 || c.GetApproval() != "" {
			return invalid("investigation steps and approval belong to a 终本 closure, not %s", kind)
		}
		return nil
	}
	steps := c.GetInvestigationSteps()
	for i, s := range steps {
		if !slices.Contains(TerminalSteps, s) && !slices.Contains(OptionalSteps, s) {
			return invalid("investigation step %q: want one of %s", s, strings.Join(append(slices.Clone(TerminalSteps), OptionalSteps...), ", "))
		}
		if slices.Contains(steps[:i], s) {
			return invalid("investigation step %s listed twice", s)
		}
	}
	var missing []string
	for _, s := range TerminalSteps {
		if !slices.Contains(steps, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return invalid("终本 requires the investigation exhausted (民诉法解释 art. 517): %s not done", strings.Join(missing, ", "))
	}
	if !slices.Contains(terminalApprovals, c.GetApproval()) {
		return invalid("终本 approval %q: want applicant_signed (the applicant's signature) or panel_and_president (the panel's and the president's approval)", c.GetApproval())
	}
	return nil
}

// checkTerminalAge refuses a 终本 closure issued at less than
// TerminalMinMonths after the receiver filed the case (its receipt).
func checkTerminalAge(r *Record, t *Transfer) error {
	if closureKindOf(r.PB.GetClosure().GetKind()) != ClosureTerminal || t.ReceivedAt.IsZero() {
		return nil
	}
	filed := court.DateOf(t.ReceivedAt)
	if earliest := filed.AddDate(0, TerminalMinMonths, 0); court.DateOf(r.IssuedAt).Before(earliest) {
		return fmt.Errorf("closure %s: 终本 at least %d months after filing (民诉法解释 art. 517): the case was filed on %s, 终本 is possible from %s: %w",
			r.Transfer, TerminalMinMonths, filed, earliest, court.ErrInvalid)
	}
	return nil
}

// outcomeOf is the legacy outcome word of a closure kind, kept in
// Transfer.Outcome for the readers that know only it.
func outcomeOf(k ClosureKind) string {
	if k == ClosureTerminal {
		return "terminated"
	}
	return "concluded"
}
