package court

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Changes to a case's assets and measures.
//
// A change (a new search result, a renewal, a release, a disposal, a
// lapse) is planned against the case as it stands (PlanAssetChange) as an
// AssetDelta: every asset and measure it touches, before and after. The
// delta is what a store applies in place and what travels (sealed) to the
// other court of a transfer, which applies it to its own copy; applying is
// the store's business, planning is the law's.

// AssetDeltaVersion is the version of the AssetDelta encoding.
const AssetDeltaVersion = 1

// AssetChangeKind is the kind of a change to a case's assets and measures.
type AssetChangeKind string

// The change kinds (the values of the AssetUpdate record's kind field).
const (
	ChangeSearchResult AssetChangeKind = "search_result" // a new asset found (总对总, 点对点, report, lead), perhaps with a measure on it
	ChangeRenewal      AssetChangeKind = "renewal"       // 续行: a new term for an active measure before it expires
	ChangeRelease      AssetChangeKind = "release"       // 解除
	ChangeDisposal     AssetChangeKind = "disposal"      // 扣划 or auction: the measure is carried out
	ChangeLapse        AssetChangeKind = "lapse"         // a measure expired unrenewed
	ChangeOther        AssetChangeKind = "other"         // a new measure on an asset already held
)

// Valid reports whether k is a defined change kind.
func (k AssetChangeKind) Valid() bool {
	switch k {
	case ChangeSearchResult, ChangeRenewal, ChangeRelease, ChangeDisposal, ChangeLapse, ChangeOther:
		return true
	}
	return false
}

// AssetChange is a change a court makes to a case's assets and measures.
// Which fields a kind needs:
//
//   - search_result: Asset (a new asset, masked, account sealed by the
//     caller); MeasureKind if a measure was taken on it at once.
//   - renewal, release, disposal, lapse: Measure, the measure concerned.
//   - other: AssetID (an asset of the case) and MeasureKind.
type AssetChange struct {
	Kind    AssetChangeKind
	Measure string // the measure renewed, released, carried out or lapsed
	// NewMeasure is the id of the measure the change creates (renewal,
	// release, deduction, a new measure); empty picks the next free mN.
	NewMeasure  string
	MeasureKind MeasureKind // search_result, other: the measure taken
	Asset       *Asset      // search_result: the asset found
	AssetID     string      // other: the asset the new measure is on
	// Effective is the date the new measure takes effect; zero means
	// today, and for a renewal the day after the renewed measure's expiry
	// (the term runs on without a gap).
	Effective Date
	// Expiry is the new measure's last day; zero means the legal maximum
	// (LegalExpiry). It is checked with CheckExpiry.
	Expiry Date
	Rank   int // a waiting-line seizure's place (1 = next)
}

// AssetEdit is one asset a delta adds or changes (Before nil: added).
type AssetEdit struct {
	Before *Asset `json:"before,omitempty"`
	After  Asset  `json:"after"`
}

// MeasureEdit is one measure a delta adds or changes (Before nil: added).
type MeasureEdit struct {
	Before *Measure `json:"before,omitempty"`
	After  Measure  `json:"after"`
}

// AssetDelta is what a change does to a case's assets and measures. It
// carries masked and sealed forms only, like the stored records.
type AssetDelta struct {
	V        int             `json:"v"`
	Kind     AssetChangeKind `json:"kind"`
	Assets   []AssetEdit     `json:"assets,omitempty"`
	Measures []MeasureEdit   `json:"measures,omitempty"`
}

// Summary describes a delta for logs and the audit log: kinds, ids,
// statuses and dates; no descriptions or account numbers.
func (d AssetDelta) Summary() string {
	var parts []string
	for _, e := range d.Assets {
		if e.Before == nil {
			parts = append(parts, fmt.Sprintf("new asset %s (%s)", e.After.ID, e.After.Class))
		}
	}
	for _, e := range d.Measures {
		m := e.After
		switch {
		case e.Before == nil && !m.Expiry.IsZero():
			parts = append(parts, fmt.Sprintf("new %s %s on %s, %s to %s", m.Kind, m.ID, m.Asset, m.Effective, m.Expiry))
		case e.Before == nil:
			parts = append(parts, fmt.Sprintf("new %s %s on %s, %s", m.Kind, m.ID, m.Asset, m.Effective))
		case e.Before.Status != m.Status:
			parts = append(parts, fmt.Sprintf("%s %s -> %s", m.ID, e.Before.Status, m.Status))
		default:
			parts = append(parts, fmt.Sprintf("%s changed", m.ID))
		}
	}
	return string(d.Kind) + ": " + strings.Join(parts, "; ")
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func checkID(what, id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: %s id %q: want 1 to 64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)", ErrInvalid, what, id)
	}
	return nil
}

// PlanAssetChange works out what change c does to case v as of
// today, for a change made by court holder (the court recorded as
// holding the new measures). It checks the change against the case and
// the law (terms per CheckExpiry; a renewal before the expiry; a
// lapse only after it) and returns the delta, or an error wrapping
// ErrInvalid, ErrNotFound or ErrConflict that says what to correct.
//
// It is long on purpose: one branch per kind of change (search result,
// renewal, release, disposal, waiting line), kept in one place so that
// the rules read as DOMAIN.md states them.
func PlanAssetChange(v Case, c AssetChange, today Date, holder CourtCode) (AssetDelta, error) {
	d := AssetDelta{V: AssetDeltaVersion, Kind: c.Kind}
	n := v.Number
	findM := func(id string) (Measure, error) {
		if id == "" {
			return Measure{}, fmt.Errorf("%w: a %s names the measure it concerns (measure id)", ErrInvalid, c.Kind)
		}
		if m, ok := v.Measure(id); ok {
			return m, nil
		}
		return Measure{}, fmt.Errorf("case %s has no measure %q: %w; list them with courtmesh assets show", n, id, ErrNotFound)
	}
	findA := v.Asset
	active := func(m Measure) error {
		if m.Status != MeasureActive {
			return fmt.Errorf("%w: measure %s of case %s is %s, not active", ErrConflict, m.ID, n, m.Status)
		}
		return nil
	}
	newID := func() (string, error) {
		if c.NewMeasure != "" {
			if err := checkID("new measure", c.NewMeasure); err != nil {
				return "", err
			}
			if _, err := findM(c.NewMeasure); err == nil {
				return "", fmt.Errorf("%w: case %s already has a measure %s; choose another id", ErrConflict, n, c.NewMeasure)
			}
			return c.NewMeasure, nil
		}
		top := 0
		for _, m := range v.Measures {
			if k, err := strconv.Atoi(strings.TrimPrefix(m.ID, "m")); err == nil && strings.HasPrefix(m.ID, "m") && k > top {
				top = k
			}
		}
		return fmt.Sprintf("m%d", top+1), nil
	}
	effective := func(def Date) Date {
		if !c.Effective.IsZero() {
			return c.Effective
		}
		return def
	}
	// term returns the checked expiry of a new measure with a term.
	term := func(a Asset, eff Date) (Date, error) {
		exp := c.Expiry
		if exp.IsZero() {
			exp = a.LegalExpiry(eff)
		}
		if err := a.CheckExpiry(eff, exp); err != nil {
			return Date{}, err
		}
		return exp, nil
	}
	// newMeasure builds a new measure of kind k on asset a.
	newMeasure := func(k MeasureKind, a Asset) (Measure, error) {
		if !k.Valid() || !k.HasTerm() || k == MeasureRenewal {
			return Measure{}, fmt.Errorf("%w: measure kind %q: want seal, detain, freeze or waiting (a renewal is its own change)", ErrInvalid, k)
		}
		if err := Applies(k, a.Class); err != nil {
			return Measure{}, err
		}
		id, err := newID()
		if err != nil {
			return Measure{}, err
		}
		m := Measure{ID: id, Kind: k, Asset: a.ID, Effective: effective(today), Status: MeasureActive, Court: holder}
		if k == MeasureWaiting {
			// Its term runs from the day it takes effect (the seizure
			// ahead of it ends), not from its registration.
			if !c.Expiry.IsZero() {
				return Measure{}, fmt.Errorf("%w: a waiting-line seizure (轮候) has no term until it takes effect; give no expiry", ErrInvalid)
			}
		} else if m.Expiry, err = term(a, m.Effective); err != nil {
			return Measure{}, err
		}
		if k == MeasureWaiting {
			if c.Rank <= 0 {
				return Measure{}, fmt.Errorf("%w: a waiting-line seizure (轮候) needs its rank in the line (1 = next)", ErrInvalid)
			}
			// Priority follows the time of service: a seizure registered
			// now queues behind every one already waiting here.
			for _, o := range v.Measures {
				if o.Asset == a.ID && o.Rank >= c.Rank && o.Status == MeasureActive && o.Kind == MeasureWaiting {
					return Measure{}, fmt.Errorf("%w: rank %d on asset %s: measure %s already waits at rank %d, and a seizure registered later queues behind it", ErrConflict, c.Rank, a.ID, o.ID, o.Rank)
				}
			}
			m.Rank = c.Rank
		} else if c.Rank != 0 {
			return Measure{}, fmt.Errorf("%w: only a waiting-line seizure (轮候) has a rank", ErrInvalid)
		}
		return m, nil
	}
	change := func(m Measure, s MeasureStatus) MeasureEdit {
		before := m
		m.Status = s
		return MeasureEdit{Before: &before, After: m}
	}
	// rootKind is the kind of seizure a measure is, through its renewals.
	rootKind := func(m Measure) MeasureKind {
		for range len(v.Measures) {
			if m.Kind != MeasureRenewal {
				break
			}
			prev, err := findM(m.Renews)
			if err != nil {
				break
			}
			m = prev
		}
		return m.Kind
	}
	// waitingLine moves the line on asset ended.Asset once ended (a
	// seizure with a term) stops on day end, if no other seizure on the
	// asset is still in force: the first waiting seizure (轮候) takes
	// effect that day as the seizure it waited to be, with its own term
	// from then, and every other one moves up a place.
	waitingLine := func(ended Measure, end Date) {
		if ended.Kind == MeasureWaiting {
			// A waiting seizure withdrawn: those behind it move up.
			for _, m := range v.Measures {
				if m.Asset == ended.Asset && m.ID != ended.ID && m.Status == MeasureActive && m.Kind == MeasureWaiting && m.Rank > ended.Rank {
					before := m
					m.Rank--
					d.Measures = append(d.Measures, MeasureEdit{Before: &before, After: m})
				}
			}
			return
		}
		if !ended.Kind.HasTerm() {
			return
		}
		var line []Measure
		for _, m := range v.Measures {
			if m.Asset != ended.Asset || m.ID == ended.ID || m.Status != MeasureActive {
				continue
			}
			if m.Kind == MeasureWaiting {
				line = append(line, m)
			} else if m.Kind.HasTerm() && rootKind(m) != MeasureWaiting {
				return // another seizure still holds the asset (a "renewal" of a waiting one, from older data, does not)
			}
		}
		if len(line) == 0 {
			return
		}
		a, ok := findA(ended.Asset)
		if !ok {
			return
		}
		slices.SortFunc(line, func(x, y Measure) int { return x.Rank - y.Rank })
		kind := rootKind(ended)
		if Applies(kind, a.Class) != nil {
			kind = MeasureSeal
			if Applies(MeasureFreeze, a.Class) == nil {
				kind = MeasureFreeze
			}
		}
		for i, m := range line {
			before := m
			if i == 0 {
				m.Kind, m.Effective, m.Expiry, m.Rank = kind, end, a.LegalExpiry(end), 0
			} else {
				m.Rank = max(m.Rank-1, 1)
			}
			d.Measures = append(d.Measures, MeasureEdit{Before: &before, After: m})
		}
	}

	switch c.Kind {
	case ChangeRenewal:
		old, err := findM(c.Measure)
		if err != nil {
			return d, err
		}
		if err := active(old); err != nil {
			return d, err
		}
		if !old.Kind.HasTerm() || old.Expiry.IsZero() {
			return d, fmt.Errorf("%w: measure %s is a %s (%s), which has no term to renew", ErrInvalid, old.ID, old.Kind.Label(), old.Kind)
		}
		if rootKind(old) == MeasureWaiting {
			return d, fmt.Errorf("%w: measure %s is a waiting-line seizure (轮候): it has no term to renew until it takes effect", ErrInvalid, old.ID)
		}
		if today.After(old.Expiry) {
			return d, fmt.Errorf("%w: measure %s of case %s expired on %s; a lapsed measure cannot be renewed (续行): record the lapse and take a new measure", ErrConflict, old.ID, n, old.Expiry)
		}
		a, ok := findA(old.Asset)
		if !ok {
			return d, fmt.Errorf("%w: measure %s is on asset %s, which case %s does not hold", ErrCorrupt, old.ID, old.Asset, n)
		}
		eff := effective(old.Expiry.AddDate(0, 0, 1))
		if eff.After(old.Expiry.AddDate(0, 0, 1)) {
			return d, fmt.Errorf("%w: renewal effective %s is after measure %s lapses on %s; the term must run on without a gap", ErrInvalid, eff, old.ID, old.Expiry)
		}
		if eff.Before(old.Effective) {
			return d, fmt.Errorf("%w: renewal effective %s is before measure %s took effect (%s)", ErrInvalid, eff, old.ID, old.Effective)
		}
		exp, err := term(a, eff)
		if err != nil {
			return d, err
		}
		if !exp.After(old.Expiry) {
			return d, fmt.Errorf("%w: renewal expiring %s adds no time to measure %s, which runs to %s; a renewal (续行) must end later", ErrInvalid, exp, old.ID, old.Expiry)
		}
		id, err := newID()
		if err != nil {
			return d, err
		}
		// The renewal keeps the renewed measure's place in the waiting line.
		r := Measure{ID: id, Kind: MeasureRenewal, Asset: old.Asset, Effective: eff, Expiry: exp, Renews: old.ID, Rank: old.Rank, Status: MeasureActive, Court: holder}
		d.Measures = append(d.Measures, change(old, MeasureRenewed), MeasureEdit{After: r})
	case ChangeRelease:
		old, err := findM(c.Measure)
		if err != nil {
			return d, err
		}
		if err := active(old); err != nil {
			return d, err
		}
		if !old.Kind.HasTerm() {
			return d, fmt.Errorf("%w: measure %s is a %s (%s), a one-off act that cannot be released", ErrInvalid, old.ID, old.Kind.Label(), old.Kind)
		}
		id, err := newID()
		if err != nil {
			return d, err
		}
		r := Measure{ID: id, Kind: MeasureRelease, Asset: old.Asset, Effective: effective(today), Releases: old.ID, Status: MeasureExecuted, Court: holder}
		d.Measures = append(d.Measures, change(old, MeasureReleased), MeasureEdit{After: r})
		waitingLine(old, r.Effective)
	case ChangeDisposal:
		old, err := findM(c.Measure)
		if err != nil {
			return d, err
		}
		if err := active(old); err != nil {
			return d, err
		}
		d.Measures = append(d.Measures, change(old, MeasureExecuted))
		// The seizure is carried out and ends: the first waiting seizure
		// takes effect on what remains (the balance of the account, the
		// proceeds left after the sale), and the line moves up.
		waitingLine(old, effective(today))
		// Funds are deducted (扣划), recorded as a measure of its own;
		// other property is sold, which carries the seizure out.
		if a, ok := findA(old.Asset); ok && Applies(MeasureDeduct, a.Class) == nil {
			id, err := newID()
			if err != nil {
				return d, err
			}
			d.Measures = append(d.Measures, MeasureEdit{After: Measure{ID: id, Kind: MeasureDeduct, Asset: a.ID, Effective: effective(today), Status: MeasureExecuted, Court: holder}})
		}
	case ChangeLapse:
		old, err := findM(c.Measure)
		if err != nil {
			return d, err
		}
		if err := active(old); err != nil {
			return d, err
		}
		if old.Expiry.IsZero() || !today.After(old.Expiry) {
			return d, fmt.Errorf("%w: measure %s of case %s runs until %s; it has not lapsed (renew it before then)", ErrConflict, old.ID, n, dateText(old.Expiry))
		}
		d.Measures = append(d.Measures, change(old, MeasureLapsed))
		waitingLine(old, old.Expiry.AddDate(0, 0, 1))
	case ChangeSearchResult:
		if c.Asset == nil {
			return d, fmt.Errorf("%w: a search result names the asset found", ErrInvalid)
		}
		a := *c.Asset
		if err := checkID("asset", a.ID); err != nil {
			return d, err
		}
		if _, dup := findA(a.ID); dup {
			return d, fmt.Errorf("%w: case %s already has an asset %s; choose another id", ErrConflict, n, a.ID)
		}
		if !a.Class.Valid() {
			_, err := ParseAssetClass(string(a.Class))
			return d, err
		}
		switch a.Source {
		case "national_search", "local_link", "debtor_report", "applicant_lead", "other":
		default:
			return d, fmt.Errorf("%w: asset source %q: want national_search, local_link, debtor_report, applicant_lead or other", ErrInvalid, a.Source)
		}
		if a.Owner != "" && !slices.ContainsFunc(v.Parties, func(p Party) bool { return p.ID == a.Owner }) {
			return d, fmt.Errorf("%w: case %s has no party %q to own the asset", ErrNotFound, n, a.Owner)
		}
		if a.ValueFen < 0 {
			return d, fmt.Errorf("%w: asset value %d fen is negative", ErrInvalid, a.ValueFen)
		}
		d.Assets = append(d.Assets, AssetEdit{After: a})
		if c.MeasureKind != "" {
			m, err := newMeasure(c.MeasureKind, a)
			if err != nil {
				return d, err
			}
			d.Measures = append(d.Measures, MeasureEdit{After: m})
		}
	case ChangeOther:
		a, ok := findA(c.AssetID)
		if !ok {
			return d, fmt.Errorf("case %s has no asset %q: %w", n, c.AssetID, ErrNotFound)
		}
		m, err := newMeasure(c.MeasureKind, a)
		if err != nil {
			return d, err
		}
		d.Measures = append(d.Measures, MeasureEdit{After: m})
	default:
		return d, fmt.Errorf("%w: change kind %q: want search_result, renewal, release, disposal, lapse or other", ErrInvalid, c.Kind)
	}
	return d, nil
}

func dateText(d Date) string {
	if d.IsZero() {
		return "no expiry"
	}
	return d.String()
}

// Check validates a delta's form (not its fit with a case): its version,
// kind, ids and statuses. Errors wrap ErrInvalid.
func (d AssetDelta) Check() error {
	if d.V != AssetDeltaVersion {
		return fmt.Errorf("%w: asset delta version %d", ErrInvalid, d.V)
	}
	if !d.Kind.Valid() {
		return fmt.Errorf("%w: asset delta kind %q", ErrInvalid, d.Kind)
	}
	if len(d.Assets)+len(d.Measures) == 0 {
		return fmt.Errorf("%w: asset delta changes nothing", ErrInvalid)
	}
	seen := map[string]bool{}
	for _, e := range d.Assets {
		if err := checkID("asset", e.After.ID); err != nil {
			return err
		}
		if e.Before != nil && e.Before.ID != e.After.ID {
			return fmt.Errorf("%w: asset edit changes id %s to %s", ErrInvalid, e.Before.ID, e.After.ID)
		}
		if !e.After.Class.Valid() || seen["a/"+e.After.ID] {
			return fmt.Errorf("%w: asset %s: bad class or listed twice", ErrInvalid, e.After.ID)
		}
		seen["a/"+e.After.ID] = true
	}
	for _, e := range d.Measures {
		m := e.After
		if err := checkID("measure", m.ID); err != nil {
			return err
		}
		if e.Before != nil && e.Before.ID != m.ID {
			return fmt.Errorf("%w: measure edit changes id %s to %s", ErrInvalid, e.Before.ID, m.ID)
		}
		if !m.Kind.Valid() || !m.Status.Valid() || seen["m/"+m.ID] {
			return fmt.Errorf("%w: measure %s: bad kind or status, or listed twice", ErrInvalid, m.ID)
		}
		if m.Kind.HasTerm() && m.Kind != MeasureWaiting && m.Status == MeasureActive && m.Expiry.IsZero() {
			return fmt.Errorf("%w: active measure %s has no expiry", ErrInvalid, m.ID)
		}
		seen["m/"+m.ID] = true
	}
	return nil
}

// Preview returns the measures of ms after d, without storing anything
// (for the earliest expiry an update announces).
func (d AssetDelta) Preview(ms []Measure) []Measure {
	out := slices.Clone(ms)
	for _, e := range d.Measures {
		if i := slices.IndexFunc(out, func(m Measure) bool { return m.ID == e.After.ID }); i >= 0 {
			out[i] = e.After
		} else {
			out = append(out, e.After)
		}
	}
	return out
}
