package protocol

import "courtmesh.dev/courtmesh/protocol/pb"

// Periods are the lengths of a transfer's deadlines after its decision.
// The decider fixes them once, from its configuration, in the decision
// record; every node derives the dates from them and the signed times of
// the records that start each period.
type Periods struct {
	// AcceptDays: the receiver accepts within N days of the decision
	// (the decision carries the date itself, accept_by).
	AcceptDays int `json:"accept_days,omitempty"`
	// HandoverDays: the origin hands the dossier over within N days of
	// the acceptance.
	HandoverDays int `json:"handover_days"`
	// FilingDays: the receiver fetches, confirms receipt and files the
	// case within N days of the handover (委托执行规定: 7 days).
	FilingDays int `json:"filing_days"`
	// InvestigationMonths: the receiver investigates the debtor's property
	// (and reports, by its first progress report) within N months of
	// filing.
	InvestigationMonths int `json:"investigation_months"`
	// ConclusionMonths: the receiver concludes the case within N months
	// of filing; after that the applicant may ask again (民诉法 art. 237).
	ConclusionMonths int `json:"conclusion_months"`
	// ReturnDays: the receiver may return an incomplete handover within
	// N days of it (委托执行规定: 15 days).
	ReturnDays int `json:"return_days"`
	// SupplementDays: the origin supplements a returned handover within
	// N days of the return (委托执行规定: 30 days).
	SupplementDays int `json:"supplement_days"`
}

// DefaultPeriods are the periods of a decision that names none (those of
// builds before decisions carried them) and the configuration's
// defaults: 7 days to accept, 7 to hand over, 7 to file, 1 month to
// investigate, 6 months to conclude, 15 days to return an incomplete
// handover and 30 to supplement it.
var DefaultPeriods = Periods{AcceptDays: 7, HandoverDays: 7, FilingDays: 7, InvestigationMonths: 1, ConclusionMonths: 6, ReturnDays: 15, SupplementDays: 30}

// Bounds of the periods a decision may set.
const (
	MaxPeriodDays   = 90
	MaxPeriodMonths = 24
)

// WithDefaults returns p with each zero period replaced by its default.
func (p Periods) WithDefaults() Periods {
	d := DefaultPeriods
	for _, f := range []struct{ v, def *int }{{&p.AcceptDays, &d.AcceptDays}, {&p.HandoverDays, &d.HandoverDays},
		{&p.FilingDays, &d.FilingDays}, {&p.InvestigationMonths, &d.InvestigationMonths}, {&p.ConclusionMonths, &d.ConclusionMonths},
		{&p.ReturnDays, &d.ReturnDays}, {&p.SupplementDays, &d.SupplementDays}} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	return p
}

// Validate checks that every period is within bounds (0 is the default).
func (p Periods) Validate() error {
	for _, f := range []struct {
		name string
		v    int
		max  int
	}{{"acceptance days", p.AcceptDays, MaxPeriodDays}, {"handover days", p.HandoverDays, MaxPeriodDays}, {"filing days", p.FilingDays, MaxPeriodDays},
		{"investigation months", p.InvestigationMonths, MaxPeriodMonths}, {"conclusion months", p.ConclusionMonths, MaxPeriodMonths},
		{"return days", p.ReturnDays, MaxPeriodDays}, {"supplement days", p.SupplementDays, MaxPeriodDays}} {
		if f.v < 0 || f.v > f.max {
			return invalid("%s %d: want 1 to %d (0 for the default)", f.name, f.v, f.max)
		}
	}
	return nil
}

func periodsOf(d *pb.TransferDecision) Periods {
	p := Periods{HandoverDays: int(d.GetHandoverDays()), FilingDays: int(d.GetFilingDays()),
		InvestigationMonths: int(d.GetInvestigationMonths()), ConclusionMonths: int(d.GetConclusionMonths()),
		ReturnDays: int(d.GetReturnDays()), SupplementDays: int(d.GetSupplementDays())}.WithDefaults()
	p.AcceptDays = 0 // the decision carries the date itself (AcceptBy)
	return p
}
