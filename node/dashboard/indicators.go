package dashboard

import (
	"fmt"
	"strings"

	"courtmesh.dev/courtmesh/court"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// The standard indicators of cross-execution (docs/indicators.md), as
// sums the store keeps at write time: for every transfer the receiver
// filed (accepted), Contribution adds the names below under five
// prefixes, so that each slice is one read of the sums:
//
//	ind/all/                 every transfer
//	ind/r/<court>/           that court as receiver
//	ind/o/<court>/           that court as origin
//	ind/m/<mode>/            that mode (指令执行, 提级执行, ...)
//	ind/t/<yyyy-mm>/         filed (accepted) that month, China time
//
// Following 法明传〔2018〕335号, the origin's case, closed by 销案, is not
// counted; the receiver's case counts as a first enforcement whose claim
// is the balance the offer names (amount outstanding).
const (
	indPrefix     = "ind/"
	indFiled      = "filed"       // accepted by the receiver: its new case
	indClaimed    = "claimed_fen" // their claims: the balance outstanding at the offer
	indRecovered  = "recovered_fen"
	indOrigin     = "origin_fen" // what the origin had recovered before
	indClosed     = "closed"
	indConcluded  = "concluded"  // closed 执行完毕
	indSettled    = "settled"    // closed by settlement performed
	indTerminated = "terminated" // closed 终本
	indClosed6m   = "closed_6m"  // closed within 6 months of filing
	indCloseDays  = "close_days" // days from filing to closure, summed over the closed
	indProgressed = "progressed" // concluded, settled, or any amount recovered
	indAccDays    = "acc_days"   // days from decision to acceptance, summed over the filed
	indResumed    = "resumed"    // the origin's case was resumed (执恢) after 终本 to be offered
)

// indicatorKeys are the prefixes transfer t's indicators go under.
func indicatorKeys(t *cmproto.Transfer) []string {
	ks := []string{indPrefix + "all/", indPrefix + "r/" + string(t.Receiver) + "/", indPrefix + "o/" + string(t.Origin) + "/"}
	if t.Mode != "" {
		ks = append(ks, indPrefix+"m/"+t.Mode+"/")
	}
	return append(ks, indPrefix+"t/"+court.DateOf(t.AcceptedAt).String()[:7]+"/")
}

// addIndicators adds transfer t's contribution to the standard
// indicators to s.
func addIndicators(s map[string]int64, t *cmproto.Transfer) {
	if t.AcceptedAt.IsZero() || t.Receiver == "" {
		return // not filed at a receiver: no case of cross-execution yet
	}
	v := map[string]int64{indFiled: 1, indClaimed: max(0, t.AmountOutstanding), indRecovered: max(0, t.AmountRecovered),
		indOrigin: max(0, t.AmountOrigin)}
	if !t.DecidedAt.IsZero() {
		v[indAccDays] = int64(court.DateOf(t.DecidedAt).DaysUntil(court.DateOf(t.AcceptedAt)))
	}
	if t.State == cmproto.StateClosed {
		v[indClosed] = 1
		switch ClosedAs(t) {
		case "concluded":
			v[indConcluded] = 1
		case "settled":
			v[indSettled] = 1
		case "terminated":
			v[indTerminated] = 1
		}
		filed, closed := court.DateOf(t.AcceptedAt), court.DateOf(t.ClosedAt)
		v[indCloseDays] = int64(max(0, filed.DaysUntil(closed)))
		if !closed.After(filed.AddDate(0, 6, 0)) {
			v[indClosed6m] = 1
		}
	}
	if v[indConcluded]+v[indSettled] > 0 || t.AmountRecovered > 0 {
		v[indProgressed] = 1
	}
	if Resumed(t) {
		v[indResumed] = 1
	}
	for _, k := range indicatorKeys(t) {
		for n, x := range v {
			s[k+n] += x
		}
	}
}

// ClosedAs is how closed transfer t counts in the indicators and the
// trends: "concluded" (执行完毕), "terminated" (终本), "settled", or
// "ended" for a case ended by 终结, 不予执行 or 驳回, which is neither
// fully enforced nor actually concluded (实际执结: enforced, performed
// or settled) nor 终本. The closure's kind decides; a transfer closed by
// an older build, without a kind, keeps its outcome word.
func ClosedAs(t *cmproto.Transfer) string {
	switch t.ClosureKind {
	case "":
		return t.Outcome
	case cmproto.ClosureFulfilled:
		return "concluded"
	case cmproto.ClosureTerminal:
		return "terminated"
	}
	return "ended"
}

// Resumed reports whether transfer t moves a resumed case (恢复执行): the
// origin had concluded it as 终本 and resumed it under an 执恢 number to
// offer it (the offer's case number, signed by the origin).
func Resumed(t *cmproto.Transfer) bool {
	n, err := court.ParseCaseNumber(t.CaseNumber)
	return err == nil && n.Type == court.TypeResumed
}

// Slice names one slice of the indicators.
type Slice struct {
	Role  string          // "receiver" or "origin" with Court; "" otherwise
	Court court.CourtCode // with Role
	Mode  string          // a mode
	Month string          // yyyy-mm
}

// Prefix is the slice's prefix among the sums; it is invalid to give
// more than one of court, mode and month.
func (s Slice) Prefix() (string, error) {
	n := 0
	p := indPrefix + "all/"
	if s.Court != "" {
		n++
		switch s.Role {
		case "receiver", "":
			p = indPrefix + "r/" + string(s.Court) + "/"
		case "origin":
			p = indPrefix + "o/" + string(s.Court) + "/"
		default:
			return "", court.Errorf(court.ErrInvalid, "role %q: want receiver or origin", s.Role)
		}
	}
	if s.Mode != "" {
		n++
		p = indPrefix + "m/" + s.Mode + "/"
	}
	if s.Month != "" {
		n++
		if len(s.Month) != 7 {
			return "", court.Errorf(court.ErrInvalid, "month %q: want yyyy-mm", s.Month)
		}
		if _, err := court.ParseDate(s.Month + "-01"); err != nil {
			return "", court.Errorf(court.ErrInvalid, "month %q: want yyyy-mm", s.Month)
		}
		p = indPrefix + "t/" + s.Month + "/"
	}
	if n > 1 {
		return "", court.Errorf(court.ErrInvalid, "one slice at a time: a court, a mode or a month")
	}
	return p, nil
}

// Ratio is one indicator: numerator over denominator, and their ratio
// (0 when the denominator is 0).
type Ratio struct {
	Num   int64   `json:"num"`
	Den   int64   `json:"den"`
	Value float64 `json:"value"`
}

func ratio(n, d int64) Ratio {
	r := Ratio{Num: n, Den: d}
	if d != 0 {
		r.Value = float64(n) / float64(d)
	}
	return r
}

// Indicators are the standard indicators of one slice (docs/indicators.md
// gives each formula).
type Indicators struct {
	Slice        string `json:"slice"`
	Filed        int64  `json:"filed"`
	Closed       int64  `json:"closed"`
	ClaimedFen   int64  `json:"claimed_fen"`
	RecoveredFen int64  `json:"recovered_fen"`
	OriginFen    int64  `json:"origin_recovered_fen"`
	// 执行完毕率, 实际执结率, 终本率: over the closed cases.
	FullyEnforced Ratio `json:"fully_enforced_rate"`
	ActuallyDone  Ratio `json:"actual_conclusion_rate"`
	Terminated    Ratio `json:"termination_rate"`
	// 执行到位率: recovered over claimed.
	Recovery Ratio `json:"recovery_rate"`
	// Share of the closed cases closed within 6 months of filing.
	Within6Months Ratio `json:"closed_within_6_months"`
	// Mean days from filing to conclusion (closed cases).
	DaysToClose Ratio `json:"mean_days_to_conclusion"`
	// Mean days from the decision to the receiver's acceptance.
	DaysToAccept Ratio `json:"mean_days_decision_to_acceptance"`
	// Substantially progressed or resolved, over the filed.
	Progressed Ratio `json:"progressed_or_resolved"`
	// Amount recovered by the receiver over what the origin had.
	AgainstOrigin Ratio `json:"recovered_against_origin"`
	// 恢复执行率: the filed cases that were resumed (执恢) after 终本,
	// over the filed.
	Resumption Ratio `json:"resumption_rate"`
}

// ComputeIndicators reads the indicators of the slice at prefix from
// sums (the scope's: a court's own for that court as receiver or origin,
// the mesh's for every other slice).
func ComputeIndicators(sums map[string]int64, prefix string) Indicators {
	g := func(n string) int64 { return sums[prefix+n] }
	closed := g(indClosed)
	return Indicators{
		Slice: strings.TrimSuffix(strings.TrimPrefix(prefix, indPrefix), "/"),
		Filed: g(indFiled), Closed: closed, ClaimedFen: g(indClaimed), RecoveredFen: g(indRecovered), OriginFen: g(indOrigin),
		FullyEnforced: ratio(g(indConcluded), closed),
		ActuallyDone:  ratio(g(indConcluded)+g(indSettled), closed),
		Terminated:    ratio(g(indTerminated), closed),
		Recovery:      ratio(g(indRecovered), g(indClaimed)),
		Within6Months: ratio(g(indClosed6m), closed),
		DaysToClose:   ratio(g(indCloseDays), closed),
		DaysToAccept:  ratio(g(indAccDays), g(indFiled)),
		Progressed:    ratio(g(indProgressed), g(indFiled)),
		AgainstOrigin: ratio(g(indRecovered), g(indOrigin)),
		Resumption:    ratio(g(indResumed), g(indFiled)),
	}
}

// String is a one-line summary for logs and tests.
func (i Indicators) String() string {
	return fmt.Sprintf("%s filed=%d closed=%d 完毕=%.4f 执结=%.4f 终本=%.4f 到位=%.4f 6m=%.4f days=%.2f acc=%.2f progressed=%.4f vs_origin=%.4f resumed=%.4f",
		i.Slice, i.Filed, i.Closed, i.FullyEnforced.Value, i.ActuallyDone.Value, i.Terminated.Value, i.Recovery.Value, i.Within6Months.Value,
		i.DaysToClose.Value, i.DaysToAccept.Value, i.Progressed.Value, i.AgainstOrigin.Value, i.Resumption.Value)
}

// MeasuresLapsed is the number of measures that lapsed during the
// handover of the cases court c received, receipt confirmed (the
// dashboard's per-court figure; target 0), from the sums.
func MeasuresLapsed(sums map[string]int64, c court.CourtCode) int64 {
	return sums[statRcv+string(c)+"/"+rcvLapsed]
}
