package protocol

import (
	"fmt"
	"slices"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// The records beyond the handshake: money (执行款), credit sanctions
// (信用惩戒), notices to assisting bodies (执行联动) and the dossier item
// list. Each is a record in its issuer's log like an asset update: amounts,
// counts, dates, kinds and case numbers are broadcast; accounts, names
// and identifiers travel only sealed with the dossier's data key.

// The kinds of the records beyond the handshake.
const (
	KindFunds        Kind = "funds_entry"
	KindSanction     Kind = "sanction"
	KindAssistNotice Kind = "assist_notice"
	KindDossierItems Kind = "dossier_items"
)

// The kinds of a funds entry.
const (
	FundsReceived  = "received"  // money reached the issuer's case account
	FundsPaidOut   = "paid_out"  // paid to the applicant
	FundsForwarded = "forwarded" // sent to the other court's case account
)

// FundsSources are where received money comes from: a 扣划 of a frozen
// deposit, an auction, a voluntary payment, the other court's forward.
var FundsSources = []string{"deduction", "auction", "voluntary", "forward", "other"}

// SanctionKinds are the credit sanctions modelled: 失信被执行人名单,
// 限制消费令, 限制出境, and others.
var SanctionKinds = []string{"dishonest_listing", "consumption_restriction", "exit_restriction", "other"}

// The actions of a sanction record.
const (
	SanctionInForce  = "in_force" // the origin declares it at handover
	SanctionReissued = "reissued" // the receiver re-issues it under its new case number
	SanctionLifted   = "lifted"   // the origin lifts its own, after the re-issue
)

// SanctionReissueDays is how long after the handover (the origin's 销案)
// the receiver has to re-issue a sanction before it counts as lapsed
// during the handover: the 7 days the receiver has to file the case.
const SanctionReissueDays = 7

// AssistBodies are the kinds of assisting body a notice goes to.
var AssistBodies = []string{"bank", "real_estate_registry", "vehicle_administration", "market_regulator", "other"}

// The states of a notice to an assisting body, in order.
var NoticeStatuses = []string{"drafted", "sent", "acknowledged"}

// DossierItemNames are the standard dossier items (执行案卷) a handover
// names, in the order of the dossier.
var DossierItemNames = []string{
	"title",              // 执行依据
	"application",        // 申请执行书
	"notice",             // 执行通知书
	"report_order",       // 报告财产令
	"search_results",     // 查控结果
	"measure_rulings",    // 查封/冻结/扣押裁定 and 协助执行通知书
	"valuation_auction",  // 评估拍卖
	"settlement",         // 执行和解
	"sanction_decisions", // 限制消费令/失信决定
	"termination_ruling", // 终本裁定
}

// itemOfDocument maps a dossier document's kind (case.json) to the
// standard dossier item it belongs to.
var itemOfDocument = map[string]string{
	"title": "title", "application": "application", "notice": "notice", "report_order": "report_order",
	"search_result": "search_results", "ruling": "measure_rulings", "assist_notice": "measure_rulings",
	"valuation": "valuation_auction", "auction": "valuation_auction", "settlement": "settlement",
	"restriction": "sanction_decisions", "dishonest_listing": "sanction_decisions", "conclusion": "termination_ruling",
}

// DossierItemsOf lists the standard dossier items that documents of the
// given kinds carry, in dossier order (DossierItemNames).
func DossierItemsOf(kinds []string) []string {
	have := map[string]bool{}
	for _, k := range kinds {
		if it, ok := itemOfDocument[k]; ok {
			have[it] = true
		}
	}
	out := []string{}
	for _, it := range DossierItemNames {
		if have[it] {
			out = append(out, it)
		}
	}
	return out
}

// DossierItemsRequired are the items every handed-over enforcement case
// carries; the others depend on how far the case went (an auction, a
// settlement, a 终本 ruling).
var DossierItemsRequired = []string{"title", "application", "notice", "report_order", "search_results", "measure_rulings"}

// DossierItemLabels are the items' Chinese names.
var DossierItemLabels = map[string]string{
	"title": "执行依据", "application": "申请执行书", "notice": "执行通知书", "report_order": "报告财产令",
	"search_results": "查控结果", "measure_rulings": "查封/冻结裁定及协助执行通知书", "valuation_auction": "评估拍卖",
	"settlement": "执行和解", "sanction_decisions": "限制消费令/失信决定", "termination_ruling": "终本裁定",
}

// Ledger is a transfer's funds ledger, derived from its funds records.
// Money held is what a court received and has not paid out or forwarded.
type Ledger struct {
	Entries []LedgerEntry `json:"entries"`
	// RecoveredFen is the money received from outside the courts (every
	// source but a forward) by either court since the handover: the
	// recovered amount the indicators show.
	RecoveredFen    int64 `json:"recovered_fen"`
	PaidOutFen      int64 `json:"paid_out_fen"`
	OriginHeldFen   int64 `json:"origin_held_fen"`
	ReceiverHeldFen int64 `json:"receiver_held_fen"`
	// InTransitFen is money forwarded that the other court has not
	// recorded as received yet.
	InTransitFen int64 `json:"in_transit_fen"`
	// OriginHeldSince is the day the origin's holding last rose from
	// nothing: money held at the origin after its 销案 must be forwarded
	// or paid out within a deadline counted from it.
	OriginHeldSince string `json:"origin_held_since,omitempty"`
}

// LedgerEntry is one funds record applied.
type LedgerEntry struct {
	Court         court.CourtCode `json:"court"`
	Number        uint64          `json:"number"`
	Kind          string          `json:"kind"`
	AmountFen     int64           `json:"amount_fen"`
	On            string          `json:"on"`
	Source        string          `json:"source,omitempty"`
	ForwardNumber uint64          `json:"forward_number,omitempty"`
	// Answered is set on a forward once the other court recorded it
	// received.
	Answered bool   `json:"answered,omitempty"`
	Digest   []byte `json:"reference_digest,omitempty"`
	Record   string `json:"record"` // the record's hash
}

// Held is what court c holds in the ledger.
func (l *Ledger) Held(c court.CourtCode) int64 {
	var held int64
	for _, e := range l.Entries {
		if e.Court != c {
			continue
		}
		switch e.Kind {
		case FundsReceived:
			held += e.AmountFen
		case FundsPaidOut, FundsForwarded:
			held -= e.AmountFen
		}
	}
	return held
}

// SanctionState is one credit sanction of a transfer.
type SanctionState struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Until      string `json:"until,omitempty"`
	DeclaredOn string `json:"declared_on"`
	// ReissueBy is the last day for the receiver's re-issue
	// (SanctionReissueDays after the handover).
	ReissueBy  string `json:"reissue_by"`
	ReissuedOn string `json:"reissued_on,omitempty"`
	NewCase    string `json:"new_case,omitempty"`
	LiftedOn   string `json:"lifted_on,omitempty"`
}

// Done reports whether both courts have acted: re-issued and lifted.
func (s SanctionState) Done() bool { return s.ReissuedOn != "" && s.LiftedOn != "" }

// NoticeState is the receiver's notice to the assisting body of one moved
// measure.
type NoticeState struct {
	Measure       string `json:"measure"`
	BodyKind      string `json:"body_kind"`
	Status        string `json:"status"`
	DraftedOn     string `json:"drafted_on,omitempty"`
	SentOn        string `json:"sent_on,omitempty"`
	AcknowledgeOn string `json:"acknowledged_on,omitempty"`
	MeasureExpiry string `json:"measure_expiry,omitempty"`
}

// checkMore checks the bodies of the records beyond the handshake,
// without state (checkBody's part for them).
func checkMore(r *Record) error {
	switch b := r.PB.GetBody().(type) {
	case *pb.Record_FundsEntry:
		f := b.FundsEntry
		if f.GetNumber() == 0 {
			return invalid("funds entry number 0")
		}
		switch f.GetKind() {
		case FundsReceived:
			if !slices.Contains(FundsSources, f.GetSource()) {
				return invalid("money received from source %q: want one of %v", f.GetSource(), FundsSources)
			}
			if (f.GetSource() == "forward") != (f.GetForwardNumber() != 0) {
				return invalid("money received from a forward names the forwarded entry (forward_number), and only then")
			}
		case FundsPaidOut, FundsForwarded:
			if f.GetSource() != "" || f.GetForwardNumber() != 0 {
				return invalid("a %s entry names no source and no forward", f.GetKind())
			}
		default:
			return invalid("funds entry kind %q: want received, paid_out or forwarded", f.GetKind())
		}
		if f.GetAmountFen() <= 0 || f.GetAmountFen() > MaxAmountFen {
			return invalid("funds amount %d fen: more than 0 and at most one trillion yuan", f.GetAmountFen())
		}
		on, err := optDate("funds date", f.GetOn())
		if err != nil {
			return err
		}
		if on.IsZero() || on.After(court.DateOf(r.IssuedAt)) {
			return invalid("funds date %q: required, and not after the record's date", f.GetOn())
		}
		if _, err := EnforcementCase("funds case number", f.GetCaseNumber(), r.Issuer); err != nil {
			return err
		}
		if d := f.GetReferenceDigest(); len(d) != 0 && len(d) != 32 {
			return invalid("funds reference digest must be 32 bytes (or absent)")
		}
		if len(f.GetSealed()) > MaxGossipMessage/4 {
			return invalid("funds detail over %d bytes sealed", MaxGossipMessage/4)
		}
	case *pb.Record_Sanction:
		s := b.Sanction
		if err := checkText("sanction id", s.GetSanctionId(), 16, true); err != nil {
			return err
		}
		if err := CheckFreeText("sanction id", s.GetSanctionId()); err != nil {
			return err
		}
		if !slices.Contains(SanctionKinds, s.GetKind()) {
			return invalid("sanction kind %q: want one of %v", s.GetKind(), SanctionKinds)
		}
		switch s.GetAction() {
		case SanctionInForce, SanctionReissued, SanctionLifted:
		default:
			return invalid("sanction action %q: want in_force, reissued or lifted", s.GetAction())
		}
		if _, err := EnforcementCase("sanction case number", s.GetCaseNumber(), r.Issuer); err != nil {
			return err
		}
		if _, err := optDate("sanction term", s.GetUntil()); err != nil {
			return err
		}
		if on, err := optDate("sanction date", s.GetOn()); err != nil || on.IsZero() {
			return invalid("sanction date %q is required (YYYY-MM-DD)", s.GetOn())
		}
		if len(s.GetSealed()) > MaxGossipMessage/4 {
			return invalid("sanction detail over %d bytes sealed", MaxGossipMessage/4)
		}
	case *pb.Record_AssistNotice:
		n := b.AssistNotice
		if err := checkText("measure id", n.GetMeasureId(), 32, true); err != nil {
			return err
		}
		if err := CheckFreeText("measure id", n.GetMeasureId()); err != nil {
			return err
		}
		if !slices.Contains(AssistBodies, n.GetBodyKind()) {
			return invalid("assisting body %q: want one of %v", n.GetBodyKind(), AssistBodies)
		}
		if !slices.Contains(NoticeStatuses, n.GetStatus()) {
			return invalid("notice status %q: want drafted, sent or acknowledged", n.GetStatus())
		}
		if on, err := optDate("notice date", n.GetOn()); err != nil || on.IsZero() {
			return invalid("notice date %q is required (YYYY-MM-DD)", n.GetOn())
		}
		if _, err := EnforcementCase("notice case number", n.GetCaseNumber(), r.Issuer); err != nil {
			return err
		}
		if _, err := optDate("measure expiry", n.GetMeasureExpiry()); err != nil {
			return err
		}
		if len(n.GetSealed()) > MaxGossipMessage/4 {
			return invalid("notice detail over %d bytes sealed", MaxGossipMessage/4)
		}
	case *pb.Record_DossierItems:
		return checkDossierItems(b.DossierItems.GetItems())
	}
	return nil
}

// checkDossierItems refuses an unknown item or one named twice.
func checkDossierItems(items []string) error {
	seen := map[string]bool{}
	for _, it := range items {
		if !slices.Contains(DossierItemNames, it) || seen[it] {
			return invalid("dossier item %q: unknown or named twice (want items of %v)", it, DossierItemNames)
		}
		seen[it] = true
	}
	return nil
}

// applyMore applies a record beyond the handshake to n (t with the
// record's reference added); Apply's part for them.
func applyMore(t, n *Transfer, r *Record, held func() (*Transfer, error), conflict func(string, ...any) (*Transfer, error)) (*Transfer, error) {
	// Before the decision the receiver is unknown: hold, as for asset
	// updates; records of different issuers arrive in any order.
	if r.Issuer != t.Origin && t.Receiver != "" && r.Issuer != t.Receiver {
		return nil, fmt.Errorf("%s %s by %s; only %s and %s keep this transfer's %s records: %w", r.Kind, r.Transfer, r.Issuer, t.Origin, t.Receiver, r.Kind, court.ErrInvalid)
	}
	switch t.State {
	case StateOffered, StateDecided, StateAccepted:
		return held()
	}
	role := "origin"
	ownCase := t.CaseNumber
	if r.Issuer == t.Receiver {
		role, ownCase = "receiver", t.NewCaseNumber
	}
	sameCase := func(s string) error {
		if !sameCaseNumber(s, ownCase) {
			return fmt.Errorf("%s %s by %s names case %s, not its case %s in the transfer: %w", r.Kind, r.Transfer, r.Issuer, s, ownCase, court.ErrInvalid)
		}
		return nil
	}
	switch b := r.PB.GetBody().(type) {
	case *pb.Record_FundsEntry:
		return applyFunds(t, n, r, b.FundsEntry, sameCase, held, conflict)
	case *pb.Record_Sanction:
		s := b.Sanction
		if err := sameCase(s.GetCaseNumber()); err != nil {
			return nil, err
		}
		n.Sanctions = slices.Clone(t.Sanctions)
		i := slices.IndexFunc(n.Sanctions, func(x SanctionState) bool { return x.ID == s.GetSanctionId() })
		switch s.GetAction() {
		case SanctionInForce:
			if role != "origin" {
				return nil, fmt.Errorf("sanction %s in %s: only the origin %s declares the sanctions in force: %w", s.GetSanctionId(), r.Transfer, t.Origin, court.ErrInvalid)
			}
			if i >= 0 {
				return conflict("sanction %s was already declared", s.GetSanctionId())
			}
			by := court.DateOf(t.HandedOverAt).AddDate(0, 0, SanctionReissueDays)
			n.Sanctions = append(n.Sanctions, SanctionState{ID: s.GetSanctionId(), Kind: s.GetKind(), Until: s.GetUntil(), DeclaredOn: s.GetOn(), ReissueBy: by.String()})
		case SanctionReissued:
			switch {
			case role != "receiver":
				return nil, fmt.Errorf("sanction %s in %s: only the receiver %s re-issues: %w", s.GetSanctionId(), r.Transfer, t.Receiver, court.ErrInvalid)
			case i < 0:
				return held() // the origin's declaration has not arrived yet
			case n.Sanctions[i].ReissuedOn != "":
				return conflict("sanction %s was already re-issued on %s: the debtor would be listed twice", s.GetSanctionId(), n.Sanctions[i].ReissuedOn)
			case n.Sanctions[i].Kind != s.GetKind():
				return nil, fmt.Errorf("sanction %s in %s is a %s, not a %s: %w", s.GetSanctionId(), r.Transfer, n.Sanctions[i].Kind, s.GetKind(), court.ErrInvalid)
			}
			n.Sanctions[i].ReissuedOn, n.Sanctions[i].NewCase = s.GetOn(), t.NewCaseNumber
		case SanctionLifted:
			switch {
			case role != "origin":
				return nil, fmt.Errorf("sanction %s in %s: only the origin %s lifts its own sanction: %w", s.GetSanctionId(), r.Transfer, t.Origin, court.ErrInvalid)
			case i < 0:
				return nil, fmt.Errorf("sanction %s in %s was never declared: %w", s.GetSanctionId(), r.Transfer, court.ErrInvalid)
			case n.Sanctions[i].LiftedOn != "":
				return nil, fmt.Errorf("sanction %s in %s already lifted on %s: %w", s.GetSanctionId(), r.Transfer, n.Sanctions[i].LiftedOn, court.ErrStale)
			case n.Sanctions[i].ReissuedOn == "":
				return conflict("sanction %s is not re-issued by %s yet: lifting it now would free the debtor in between", s.GetSanctionId(), t.Receiver)
			}
			n.Sanctions[i].LiftedOn = s.GetOn()
		}
	case *pb.Record_AssistNotice:
		a := b.AssistNotice
		if role != "receiver" {
			return nil, fmt.Errorf("notice for measure %s in %s: only the receiver %s tells the assisting bodies: %w", a.GetMeasureId(), r.Transfer, t.Receiver, court.ErrInvalid)
		}
		if err := sameCase(a.GetCaseNumber()); err != nil {
			return nil, err
		}
		n.Notices = slices.Clone(t.Notices)
		i := slices.IndexFunc(n.Notices, func(x NoticeState) bool { return x.Measure == a.GetMeasureId() })
		step := slices.Index(NoticeStatuses, a.GetStatus())
		switch {
		case i < 0 && step != 0:
			return conflict("notice for measure %s is %s before it was drafted", a.GetMeasureId(), a.GetStatus())
		case i < 0:
			n.Notices = append(n.Notices, NoticeState{Measure: a.GetMeasureId(), BodyKind: a.GetBodyKind(), Status: a.GetStatus(), DraftedOn: a.GetOn(), MeasureExpiry: a.GetMeasureExpiry()})
		case slices.Index(NoticeStatuses, n.Notices[i].Status) >= step:
			return nil, fmt.Errorf("notice for measure %s in %s is already %s: %w", a.GetMeasureId(), r.Transfer, n.Notices[i].Status, court.ErrStale)
		case slices.Index(NoticeStatuses, n.Notices[i].Status)+1 != step:
			return conflict("notice for measure %s is %s; it must be sent before it is acknowledged", a.GetMeasureId(), n.Notices[i].Status)
		default:
			n.Notices[i].Status = a.GetStatus()
			if step == 1 {
				n.Notices[i].SentOn = a.GetOn()
			} else {
				n.Notices[i].AcknowledgeOn = a.GetOn()
			}
			if e := a.GetMeasureExpiry(); e != "" {
				n.Notices[i].MeasureExpiry = e
			}
		}
	case *pb.Record_DossierItems:
		if role != "origin" {
			return nil, fmt.Errorf("dossier items of %s by %s; only the origin %s hands the dossier over: %w", r.Transfer, r.Issuer, t.Origin, court.ErrInvalid)
		}
		n.DossierItems = slices.Clone(b.DossierItems.GetItems())
		n.DossierItemsSet = true
	}
	return n, nil
}

func applyFunds(t, n *Transfer, r *Record, f *pb.FundsEntry, sameCase func(string) error, held func() (*Transfer, error), conflict func(string, ...any) (*Transfer, error)) (*Transfer, error) {
	if err := sameCase(f.GetCaseNumber()); err != nil {
		return nil, err
	}
	var l Ledger
	if t.Ledger != nil {
		l = *t.Ledger
		l.Entries = slices.Clone(t.Ledger.Entries)
	}
	next := uint64(1)
	for _, e := range l.Entries {
		if e.Court == r.Issuer {
			next++
		}
	}
	switch {
	case f.GetNumber() < next:
		return nil, fmt.Errorf("funds entry %d of %s in %s was already recorded: %w", f.GetNumber(), r.Issuer, r.Transfer, court.ErrStale)
	case f.GetNumber() > next:
		return held()
	}
	other := t.Receiver
	if r.Issuer == t.Receiver {
		other = t.Origin
	}
	e := LedgerEntry{Court: r.Issuer, Number: f.GetNumber(), Kind: f.GetKind(), AmountFen: f.GetAmountFen(), On: f.GetOn(),
		Source: f.GetSource(), ForwardNumber: f.GetForwardNumber(), Digest: f.GetReferenceDigest(), Record: r.HashHex()}
	switch f.GetKind() {
	case FundsReceived:
		if len(e.Digest) == 32 {
			if j := slices.IndexFunc(l.Entries, func(x LedgerEntry) bool { return string(x.Digest) == string(e.Digest) }); j >= 0 {
				return conflict("double counting: the same payment is already entry %d of %s", l.Entries[j].Number, l.Entries[j].Court)
			}
		}
		if e.Source == "forward" {
			j := slices.IndexFunc(l.Entries, func(x LedgerEntry) bool {
				return x.Court == other && x.Kind == FundsForwarded && x.Number == e.ForwardNumber
			})
			switch {
			case j < 0:
				return held() // the forward's record has not arrived yet
			case l.Entries[j].Answered:
				return conflict("double counting: forward %d of %s was already recorded received", e.ForwardNumber, other)
			case l.Entries[j].AmountFen != e.AmountFen:
				return conflict("forward %d of %s was %d fen, not %d", e.ForwardNumber, other, l.Entries[j].AmountFen, e.AmountFen)
			}
			l.Entries[j].Answered = true
			l.InTransitFen -= e.AmountFen
		} else {
			l.RecoveredFen += e.AmountFen
		}
	case FundsPaidOut, FundsForwarded:
		if h := l.Held(r.Issuer); e.AmountFen > h {
			return conflict("%s %d fen is more than the %d fen %s holds in this case", e.Kind, e.AmountFen, h, r.Issuer)
		}
		if e.Kind == FundsForwarded {
			l.InTransitFen += e.AmountFen
		} else {
			l.PaidOutFen += e.AmountFen
		}
	}
	before := l.Held(t.Origin)
	l.Entries = append(l.Entries, e)
	l.OriginHeldFen, l.ReceiverHeldFen = l.Held(t.Origin), l.Held(t.Receiver)
	switch {
	case l.OriginHeldFen <= 0:
		l.OriginHeldSince = ""
	case before <= 0:
		l.OriginHeldSince = e.On
	}
	n.Ledger = &l
	return n, nil
}

// sameCaseNumber compares case numbers as parsed (full-width or ASCII
// parentheses alike).
func sameCaseNumber(a, b string) bool {
	x, err1 := court.ParseCaseNumber(a)
	y, err2 := court.ParseCaseNumber(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return x == y
}

// MissingDossierItems lists the required dossier items
// (DossierItemsRequired) the handover did not name (nil if the origin
// named none yet: unknown).
func (t *Transfer) MissingDossierItems() []string {
	if !t.DossierItemsSet {
		return nil
	}
	out := []string{}
	for _, it := range DossierItemsRequired {
		if !slices.Contains(t.DossierItems, it) {
			out = append(out, it)
		}
	}
	return out
}
