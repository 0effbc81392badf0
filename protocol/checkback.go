package protocol

import (
	"fmt"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// Checking back on the origin (倒查): when a receiver quickly finds what
// the origin never did, or concludes at once a case the origin held for
// years, the origin's superior looks at how the origin enforced it.
//
// The facts come from signed records. The days the origin held the case
// before the offer, and how fast the receiver concluded it, are in the
// offer (filed_on), the acceptance and the closure that every node holds.
// What only the sealed dossier shows (the origin's property searches and
// lapsed measures in the case record its handover commits to, and the
// first-seen dates of the assets the receiver found, in the receiver's
// sealed asset updates) the receiver reports in an OriginCheck record:
// dates, counts and asset classes, never a person, an account or a
// description. The decider, which holds the dossier's key, can open the
// asset updates the report names.
//
// Whether a transfer is flagged for 倒查 is a rule of the node that reads
// it (CheckBackRule, from its configuration); the origin's superior
// answers a flag with a review marked check_back (finding no_fault,
// negligence or interference).

// KindOriginCheck is the receiver's report for a check back on the origin.
const KindOriginCheck Kind = "origin_check"

// MaxEarlierAssets bounds the assets one OriginCheck names.
const MaxEarlierAssets = 64

// CheckBackFindings are the findings a check-back review may record.
var CheckBackFindings = []string{"no_fault", "negligence", "interference"}

// OriginCheck is the receiver's latest report as every node holds it on
// the transfer.
type OriginCheck struct {
	Hash             string         `json:"hash"`
	IssuedAt         time.Time      `json:"issued_at"`
	OriginLastSearch string         `json:"origin_last_search,omitempty"` // YYYY-MM-DD
	OriginSearches   int            `json:"origin_searches"`
	MeasuresLapsed   int            `json:"measures_lapsed_before_offer"`
	Assets           []EarlierAsset `json:"assets,omitempty"`
}

// EarlierAsset is an asset the receiver found that the debtor held when
// the origin last searched.
type EarlierAsset struct {
	AssetUpdate uint64 `json:"asset_update"`
	Class       string `json:"asset_class"`
	FirstSeen   string `json:"first_seen"`
	FoundOn     string `json:"found_on"`
}

// checkOriginCheck checks an OriginCheck's body without state.
func checkOriginCheck(r *Record) error {
	o := r.PB.GetOriginCheck()
	last, err := optDate("origin_last_search", o.GetOriginLastSearch())
	if err != nil {
		return err
	}
	if o.GetOriginSearches() > 10000 || o.GetMeasuresLapsedBeforeOffer() > 10000 {
		return invalid("origin check: counts above 10000")
	}
	if last.IsZero() != (o.GetOriginSearches() == 0) {
		return invalid("origin check: a last search date goes with at least one search, and none without")
	}
	as := o.GetAssets()
	if len(as) > MaxEarlierAssets {
		return invalid("origin check names %d assets, at most %d", len(as), MaxEarlierAssets)
	}
	if len(as) > 0 && last.IsZero() {
		return invalid("origin check: an asset found earlier than the origin's last search needs that search's date")
	}
	today := court.DateOf(r.IssuedAt)
	for i, a := range as {
		if a.GetAssetUpdate() == 0 {
			return invalid("origin check asset %d: asset_update names the receiver's update (from 1)", i)
		}
		if _, err := court.ParseAssetClass(a.GetAssetClass()); err != nil {
			return invalid("origin check asset %d: %v", i, err)
		}
		first, err := optDate("first_seen", a.GetFirstSeen())
		if err != nil {
			return err
		}
		found, err := optDate("found_on", a.GetFoundOn())
		if err != nil {
			return err
		}
		switch {
		case first.IsZero() || found.IsZero():
			return invalid("origin check asset %d: first_seen and found_on are required", i)
		case first.After(last):
			return invalid("origin check asset %d: first seen %s, after the origin's last search %s: not an asset the origin could have found", i, first, last)
		case found.After(today) || first.After(found):
			return invalid("origin check asset %d: dates out of order (first seen %s, found %s, reported %s)", i, first, found, today)
		}
	}
	return nil
}

// applyOriginCheck records the receiver's report on the transfer: only
// the receiver reports, once the dossier was handed over (held before).
func applyOriginCheck(t *Transfer, n *Transfer, r *Record) error {
	if r.Issuer != t.Receiver {
		return fmt.Errorf("origin check %s: %s is not the receiver %s: %w", r.Transfer, r.Issuer, t.Receiver, court.ErrInvalid)
	}
	if t.HandedOverAt.IsZero() {
		return fmt.Errorf("origin check %s before the handover: %w", r.Transfer, ErrHeld)
	}
	if t.OriginCheck != nil && !r.IssuedAt.After(t.OriginCheck.IssuedAt) {
		return fmt.Errorf("origin check %s: not newer than the report of %s: %w", r.Transfer, t.OriginCheck.IssuedAt.Format(time.RFC3339), court.ErrStale)
	}
	o := r.PB.GetOriginCheck()
	c := &OriginCheck{Hash: r.HashHex(), IssuedAt: r.IssuedAt, OriginLastSearch: o.GetOriginLastSearch(), OriginSearches: int(o.GetOriginSearches()),
		MeasuresLapsed: int(o.GetMeasuresLapsedBeforeOffer())}
	for _, a := range o.GetAssets() {
		c.Assets = append(c.Assets, EarlierAsset{AssetUpdate: a.GetAssetUpdate(), Class: a.GetAssetClass(), FirstSeen: a.GetFirstSeen(), FoundOn: a.GetFoundOn()})
	}
	n.OriginCheck = c
	return nil
}

// OriginCheckProto is the record body of a report.
func OriginCheckProto(lastSearch court.Date, searches, lapsed int, assets []EarlierAsset) *pb.Record {
	o := &pb.OriginCheck{OriginSearches: uint32(searches), MeasuresLapsedBeforeOffer: uint32(lapsed)}
	if !lastSearch.IsZero() {
		o.OriginLastSearch = lastSearch.String()
	}
	for _, a := range assets {
		o.Assets = append(o.Assets, &pb.EarlierAsset{AssetUpdate: a.AssetUpdate, AssetClass: a.Class, FirstSeen: a.FirstSeen, FoundOn: a.FoundOn})
	}
	return &pb.Record{Body: &pb.Record_OriginCheck{OriginCheck: o}}
}

// CheckBackRule says when a transfer is flagged for a check back on its
// origin (倒查). Each ground is off at 0.
type CheckBackRule struct {
	// FoundDays: an asset the receiver found within this many days of
	// filing (its acceptance) that the debtor held when the origin last
	// searched. The rule: 30.
	FoundDays int `json:"found_days"`
	// HeldDays and ConcludedMonths: the origin held the case more than
	// HeldDays before the offer, and the receiver concluded it (执行完毕
	// or settled) within ConcludedMonths of filing. Default: 365 and 3.
	HeldDays        int `json:"held_days"`
	ConcludedMonths int `json:"concluded_months"`
	// LapsedMeasures: at least this many measures lapsed before the
	// offer. Default: 1.
	LapsedMeasures int `json:"lapsed_measures"`
}

// DefaultCheckBackRule is the rule of a node that configures none.
var DefaultCheckBackRule = CheckBackRule{FoundDays: 30, HeldDays: 365, ConcludedMonths: 3, LapsedMeasures: 1}

// The outer bounds of CheckBackRule (the candidates the dashboard's
// statistics index, CheckBackCandidate): a rule beyond them is refused.
const (
	MaxCheckBackFoundDays       = 90
	MinCheckBackHeldDays        = 180
	MaxCheckBackConcludedMonths = 12
)

// Validate checks the rule against the outer bounds.
func (r CheckBackRule) Validate() error {
	switch {
	case r.FoundDays < 0 || r.FoundDays > MaxCheckBackFoundDays:
		return court.Errorf(court.ErrInvalid, "check-back found_days %d: want 0 (off) to %d", r.FoundDays, MaxCheckBackFoundDays)
	case r.HeldDays != 0 && r.HeldDays < MinCheckBackHeldDays:
		return court.Errorf(court.ErrInvalid, "check-back held_days %d: want 0 (off) or at least %d", r.HeldDays, MinCheckBackHeldDays)
	case r.ConcludedMonths < 0 || r.ConcludedMonths > MaxCheckBackConcludedMonths:
		return court.Errorf(court.ErrInvalid, "check-back concluded_months %d: want 0 (off) to %d", r.ConcludedMonths, MaxCheckBackConcludedMonths)
	case (r.HeldDays == 0) != (r.ConcludedMonths == 0):
		return court.Errorf(court.ErrInvalid, "check-back held_days and concluded_months go together (both 0: that ground is off)")
	case r.LapsedMeasures < 0:
		return court.Errorf(court.ErrInvalid, "check-back lapsed_measures %d is negative", r.LapsedMeasures)
	}
	return nil
}

// The grounds of a flag.
const (
	CheckBackAssetFound     = "asset_found_early"        // the receiver soon found what the debtor held when the origin searched
	CheckBackConcludedFast  = "held_long_concluded_fast" // the origin held it long, the receiver concluded it fast
	CheckBackMeasuresLapsed = "measures_lapsed"          // measures lapsed in the origin's hands
)

// CheckBack is what a transfer shows about its origin: the indicators of
// a check back and, under a rule, the grounds it is flagged on.
type CheckBack struct {
	// DaysHeld is the days from the origin's filing to its offer; -1 when
	// the offer did not say when the case was filed.
	DaysHeld int `json:"days_held"`
	// MeasuresLapsed counts the measures that lapsed before the offer
	// (the receiver's report; 0 without one).
	MeasuresLapsed int `json:"measures_lapsed_before_offer"`
	// EarlierAssets counts the assets the receiver found within the rule's
	// FoundDays of filing that the debtor held when the origin last
	// searched (the receiver's report).
	EarlierAssets int `json:"earlier_assets"`
	// ConcludedDays is the days from the receiver's filing (acceptance) to
	// its conclusion (执行完毕 or settled); -1 if not concluded so.
	ConcludedDays int `json:"concluded_days"`
	// Reasons are the grounds flagged (CheckBackAssetFound, ...); empty:
	// not flagged.
	Reasons []string `json:"reasons"`
	// Reviewed is the check-back review, if the origin's superior made one.
	Reviewed *Review `json:"reviewed,omitempty"`
}

// concluded reports whether t's receiver concluded the case (执行完毕,
// or settled under older builds).
func concluded(t *Transfer) bool {
	if t.State != StateClosed {
		return false
	}
	if t.ClosureKind != "" {
		return t.ClosureKind == ClosureFulfilled
	}
	return t.Outcome == "concluded" || t.Outcome == "settled"
}

// CheckBackOf computes t's check-back indicators and, under rule, the
// grounds it is flagged on.
func CheckBackOf(t *Transfer, rule CheckBackRule) CheckBack {
	cb := CheckBack{DaysHeld: -1, ConcludedDays: -1, Reasons: []string{}}
	if filed, err := court.ParseDate(t.FiledOn); err == nil && !t.OfferedAt.IsZero() {
		cb.DaysHeld = filed.DaysUntil(court.DateOf(t.OfferedAt))
	}
	if concluded(t) && !t.AcceptedAt.IsZero() {
		cb.ConcludedDays = court.DateOf(t.AcceptedAt).DaysUntil(court.DateOf(t.ClosedAt))
	}
	if o := t.OriginCheck; o != nil {
		cb.MeasuresLapsed = o.MeasuresLapsed
		for _, a := range o.Assets {
			found, err := court.ParseDate(a.FoundOn)
			if err == nil && !t.AcceptedAt.IsZero() && court.DateOf(t.AcceptedAt).DaysUntil(found) <= rule.FoundDays {
				cb.EarlierAssets++
			}
		}
	}
	if rule.FoundDays > 0 && cb.EarlierAssets > 0 {
		cb.Reasons = append(cb.Reasons, CheckBackAssetFound)
	}
	if rule.HeldDays > 0 && cb.DaysHeld > rule.HeldDays && cb.ConcludedDays >= 0 &&
		!court.DateOf(t.ClosedAt).After(court.DateOf(t.AcceptedAt).AddDate(0, rule.ConcludedMonths, 0)) {
		cb.Reasons = append(cb.Reasons, CheckBackConcludedFast)
	}
	if rule.LapsedMeasures > 0 && cb.MeasuresLapsed >= rule.LapsedMeasures {
		cb.Reasons = append(cb.Reasons, CheckBackMeasuresLapsed)
	}
	for i := range t.Reviews {
		if t.Reviews[i].CheckBack {
			rv := t.Reviews[i]
			cb.Reviewed = &rv
		}
	}
	return cb
}

// CheckBackCandidate reports whether some rule within the outer bounds
// could flag t: the receiver reported on the origin, or the origin held
// the case at least MinCheckBackHeldDays and the receiver concluded it
// within MaxCheckBackConcludedMonths. The dashboard's statistics index
// the candidates not yet reviewed, so that a superior's listing reads
// only them.
func CheckBackCandidate(t *Transfer) bool {
	if t.OriginCheck != nil {
		return true
	}
	cb := CheckBackOf(t, CheckBackRule{HeldDays: MinCheckBackHeldDays, ConcludedMonths: MaxCheckBackConcludedMonths})
	return len(cb.Reasons) > 0
}
