package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// Asset updates after a handover.
//
// A change to a transferred case's assets and measures (a new search
// result, a renewal, a release, a disposal, a lapse) is planned against
// the case's current version (PlanAssetChange) as an AssetDelta: every
// asset and measure it touches, before and after. ApplyAssetDelta writes
// a delta in place into the current version and into the asset, measure
// and expiry-index records, in one transaction. Documents are not touched:
// the dossier's chunks and Merkle root stay as handed over.
//
// The delta is also what travels (sealed) to the other court, which
// applies it to its own copy. Applying compares each item's before state
// with what the store holds: an item already in its after state is left
// alone (applying twice changes nothing), and if any item is in neither
// state (the copy moved on, or was changed locally) nothing of the delta
// is written and the items are reported as conflicts: a copy is never
// overwritten, nor changed by half a delta.
//
// Updates received from another court wait at
// xu/<transfer>/<issuer court>/<number, 8 bytes big-endian> until they
// are applied in number order; xn/<transfer>/<issuer court> holds the
// number of the last one applied (or skipped as unreadable).
const (
	prefixAssetPending = "xu/"
	prefixAssetApplied = "xn/"
	// xo/<transfer>/<number, 8 bytes big-endian>: an update this court
	// applied to its own copy and has not yet seen issued as a record
	// (written with the change, removed once the record is out).
	prefixAssetOutbox = "xo/"
	// AssetDeltaVersion is the version of the AssetDelta encoding.
	AssetDeltaVersion = 1
)

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
	MeasureKind court.MeasureKind // search_result, other: the measure taken
	Asset       *Asset            // search_result: the asset found
	AssetID     string            // other: the asset the new measure is on
	// Effective is the date the new measure takes effect; zero means
	// today, and for a renewal the day after the renewed measure's expiry
	// (the term runs on without a gap).
	Effective court.Date
	// Expiry is the new measure's last day; zero means the legal maximum
	// (court.LegalExpiry). It is checked with court.CheckExpiry.
	Expiry court.Date
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

// EarliestExpiry is the earliest expiry of the active measures with a
// term, zero if there is none.
func EarliestExpiry(ms []Measure) court.Date {
	var e court.Date
	for _, m := range ms {
		if indexed(m) && (e.IsZero() || m.Expiry.Before(e)) {
			e = m.Expiry
		}
	}
	return e
}

// PlanAssetChange works out what change c does to case version v as of
// today, for a change made by court holder (the court recorded as
// holding the new measures). It checks the change against the case and
// the law (terms per court.CheckExpiry; a renewal before the expiry; a
// lapse only after it) and returns the delta, or an error wrapping
// ErrInvalid, ErrNotFound or ErrConflict that says what to correct.
func PlanAssetChange(v CaseVersion, c AssetChange, today court.Date, holder court.CourtCode) (AssetDelta, error) {
	d := AssetDelta{V: AssetDeltaVersion, Kind: c.Kind}
	n := v.Number
	findM := func(id string) (Measure, error) {
		if id == "" {
			return Measure{}, fmt.Errorf("%w: a %s names the measure it concerns (measure id)", ErrInvalid, c.Kind)
		}
		for _, m := range v.Measures {
			if m.ID == id {
				return m, nil
			}
		}
		return Measure{}, fmt.Errorf("case %s has no measure %q: %w; list them with courtmesh assets show", n, id, ErrNotFound)
	}
	findA := func(id string) (Asset, bool) {
		for _, a := range v.Assets {
			if a.ID == id {
				return a, true
			}
		}
		return Asset{}, false
	}
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
	effective := func(def court.Date) court.Date {
		if !c.Effective.IsZero() {
			return c.Effective
		}
		return def
	}
	// term returns the checked expiry of a new measure with a term.
	term := func(class court.AssetClass, eff court.Date) (court.Date, error) {
		exp := c.Expiry
		if exp.IsZero() {
			exp = court.LegalExpiry(class, eff)
		}
		if err := court.CheckExpiry(class, eff, exp); err != nil {
			return court.Date{}, err
		}
		return exp, nil
	}
	// newMeasure builds a new measure of kind k on asset a.
	newMeasure := func(k court.MeasureKind, a Asset) (Measure, error) {
		if !k.Valid() || !k.HasTerm() || k == court.MeasureRenewal {
			return Measure{}, fmt.Errorf("%w: measure kind %q: want seal, detain, freeze or waiting (a renewal is its own change)", ErrInvalid, k)
		}
		if err := court.Applies(k, a.Class); err != nil {
			return Measure{}, err
		}
		id, err := newID()
		if err != nil {
			return Measure{}, err
		}
		m := Measure{ID: id, Kind: k, Asset: a.ID, Effective: effective(today), Status: MeasureActive, Court: holder}
		if k == court.MeasureWaiting {
			// Its term runs from the day it takes effect (the seizure
			// ahead of it ends), not from its registration.
			if !c.Expiry.IsZero() {
				return Measure{}, fmt.Errorf("%w: a waiting-line seizure (轮候) has no term until it takes effect; give no expiry", ErrInvalid)
			}
		} else if m.Expiry, err = term(a.Class, m.Effective); err != nil {
			return Measure{}, err
		}
		if k == court.MeasureWaiting {
			if c.Rank <= 0 {
				return Measure{}, fmt.Errorf("%w: a waiting-line seizure (轮候) needs its rank in the line (1 = next)", ErrInvalid)
			}
			// Priority follows the time of service: a seizure registered
			// now queues behind every one already waiting here.
			for _, o := range v.Measures {
				if o.Asset == a.ID && o.Rank >= c.Rank && o.Status == MeasureActive && o.Kind == court.MeasureWaiting {
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
	rootKind := func(m Measure) court.MeasureKind {
		for range len(v.Measures) {
			if m.Kind != court.MeasureRenewal {
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
	waitingLine := func(ended Measure, end court.Date) {
		if ended.Kind == court.MeasureWaiting {
			// A waiting seizure withdrawn: those behind it move up.
			for _, m := range v.Measures {
				if m.Asset == ended.Asset && m.ID != ended.ID && m.Status == MeasureActive && m.Kind == court.MeasureWaiting && m.Rank > ended.Rank {
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
			if m.Kind == court.MeasureWaiting {
				line = append(line, m)
			} else if m.Kind.HasTerm() && rootKind(m) != court.MeasureWaiting {
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
		if court.Applies(kind, a.Class) != nil {
			kind = court.MeasureSeal
			if court.Applies(court.MeasureFreeze, a.Class) == nil {
				kind = court.MeasureFreeze
			}
		}
		for i, m := range line {
			before := m
			if i == 0 {
				m.Kind, m.Effective, m.Expiry, m.Rank = kind, end, court.LegalExpiry(a.Class, end), 0
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
		if rootKind(old) == court.MeasureWaiting {
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
		exp, err := term(a.Class, eff)
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
		r := Measure{ID: id, Kind: court.MeasureRenewal, Asset: old.Asset, Effective: eff, Expiry: exp, Renews: old.ID, Rank: old.Rank, Status: MeasureActive, Court: holder}
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
		r := Measure{ID: id, Kind: court.MeasureRelease, Asset: old.Asset, Effective: effective(today), Releases: old.ID, Status: MeasureExecuted, Court: holder}
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
		if a, ok := findA(old.Asset); ok && court.Applies(court.MeasureDeduct, a.Class) == nil {
			id, err := newID()
			if err != nil {
				return d, err
			}
			d.Measures = append(d.Measures, MeasureEdit{After: Measure{ID: id, Kind: court.MeasureDeduct, Asset: a.ID, Effective: effective(today), Status: MeasureExecuted, Court: holder}})
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
			_, err := court.ParseAssetClass(string(a.Class))
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

func dateText(d court.Date) string {
	if d.IsZero() {
		return "no expiry"
	}
	return d.String()
}

// check validates a delta's form (not its fit with a case).
func (d AssetDelta) check() error {
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
		if m.Kind.HasTerm() && m.Kind != court.MeasureWaiting && m.Status == MeasureActive && m.Expiry.IsZero() {
			return fmt.Errorf("%w: active measure %s has no expiry", ErrInvalid, m.ID)
		}
		seen["m/"+m.ID] = true
	}
	return nil
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// sameMeasure compares two measures but for the court holding them
// (which the receiving court sets to itself when it files the case).
func sameMeasure(a, b Measure) bool {
	a.Court, b.Court = "", ""
	return sameJSON(a, b)
}

// AssetUpdateMark names a received update that a delta applies.
type AssetUpdateMark struct {
	Transfer string
	Issuer   court.CourtCode
	Number   uint64
}

// DeltaOptions says how ApplyAssetDelta treats items that do not match.
type DeltaOptions struct {
	// Strict returns ErrConflict if any item is neither in its before
	// nor in its after state; otherwise such items are reported in
	// DeltaResult.Conflicts. Either way nothing of the delta is written
	// then (but Mark is recorded: the update was dealt with).
	Strict bool
	// Holder, if set, becomes the court of every active measure written
	// that the issuing court (Mark.Issuer) held: the receiving court holds
	// the measures of a case it filed, not those of third courts.
	Holder court.CourtCode
	// Mark, if set, records update Mark.Number of its issuer as applied
	// (it must be the next one) and removes it from the pending updates,
	// in the same transaction.
	Mark *AssetUpdateMark
	// Outbox, if set, is this court's own update whose record is still
	// to be issued: kept with the change in the same transaction, so
	// that a crash before the record is out leaves it to be sent at the
	// next start (OutboxAssetUpdates) rather than a change no record
	// speaks for.
	Outbox *OutboxAssetUpdate
}

// OutboxAssetUpdate is an asset update this court applied to its copy
// whose record is not yet known to be issued. Record is the update as it
// goes out (the encoded AssetUpdate record body).
type OutboxAssetUpdate struct {
	Transfer string `json:"transfer"`
	Number   uint64 `json:"number"`
	Record   []byte `json:"record"`
}

func outboxKey(transfer string, number uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixAssetOutbox+transfer+"/"), number)
}

// OutboxAssetUpdates lists the updates still to be issued, by transfer
// and number.
func (db *DB) OutboxAssetUpdates() ([]OutboxAssetUpdate, error) {
	var out []OutboxAssetUpdate
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixAssetOutbox), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var o OutboxAssetUpdate
			if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &o) }); err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

// DoneOutboxAssetUpdate removes an update from the outbox: its record is
// issued.
func (db *DB) DoneOutboxAssetUpdate(transfer string, number uint64) error {
	return db.bdb.Update(func(txn *badger.Txn) error { return txn.Delete(outboxKey(transfer, number)) })
}

// DeltaResult says what ApplyAssetDelta did, by item id (assets as
// "asset a3", measures by their id).
type DeltaResult struct {
	Applied   []string // written
	Already   []string // already in the after state
	Conflicts []string // in neither state; if any, nothing was written
}

// ApplyAssetDelta applies d to the current version of case n in place,
// keeping the asset and measure records and the expiry index in step, in
// one transaction. Documents are not touched.
func (db *DB) ApplyAssetDelta(n court.CaseNumber, d AssetDelta, o DeltaOptions) (DeltaResult, error) {
	var res DeltaResult
	if err := d.check(); err != nil {
		return res, fmt.Errorf("asset update of case %s: %w", n, err)
	}
	err := db.bdb.Update(func(txn *badger.Txn) error {
		res = DeltaResult{}
		if o.Mark != nil {
			last, err := appliedNumber(txn, o.Mark.Transfer, o.Mark.Issuer)
			if err != nil {
				return err
			}
			if o.Mark.Number != last+1 {
				return fmt.Errorf("%w: update %d of %s in transfer %s is not the next (last applied %d)", ErrConflict, o.Mark.Number, o.Mark.Issuer, o.Mark.Transfer, last)
			}
		}
		var head CaseRecord
		if err := getJSON(txn, caseKey(n), &head); err != nil {
			return fmt.Errorf("case %s: %w", n, err)
		}
		var v CaseVersion
		if err := getJSON(txn, versionKey(n, head.Version), &v); err != nil {
			return fmt.Errorf("case %s version %d: %w", n, head.Version, err)
		}
		var writes []func() error
		for _, e := range d.Assets {
			i := slices.IndexFunc(v.Assets, func(a Asset) bool { return a.ID == e.After.ID })
			label := "asset " + e.After.ID
			switch {
			case i >= 0 && sameJSON(v.Assets[i], e.After):
				res.Already = append(res.Already, label)
				continue
			case i < 0 && e.Before == nil:
				v.Assets = append(v.Assets, e.After)
			case i >= 0 && e.Before != nil && sameJSON(v.Assets[i], *e.Before):
				v.Assets[i] = e.After
			default:
				res.Conflicts = append(res.Conflicts, label)
				continue
			}
			a := e.After
			writes = append(writes, func() error { return setJSON(txn, assetKey(n, a.ID), a) })
			res.Applied = append(res.Applied, label)
		}
		for _, e := range d.Measures {
			m := e.After
			// The receiving court holds what the issuing court held, not
			// the seizures of third courts in the waiting line.
			if o.Holder != "" && m.Status == MeasureActive && (o.Mark == nil || m.Court == o.Mark.Issuer || m.Court == "") {
				m.Court = o.Holder
			}
			i := slices.IndexFunc(v.Measures, func(x Measure) bool { return x.ID == m.ID })
			var old *Measure
			switch {
			case i >= 0 && sameMeasure(v.Measures[i], m):
				res.Already = append(res.Already, m.ID)
				continue
			case i < 0 && e.Before == nil:
				v.Measures = append(v.Measures, m)
			case i >= 0 && e.Before != nil && sameMeasure(v.Measures[i], *e.Before):
				prev := v.Measures[i]
				old = &prev
				v.Measures[i] = m
			default:
				res.Conflicts = append(res.Conflicts, m.ID)
				continue
			}
			if !slices.ContainsFunc(v.Assets, func(a Asset) bool { return a.ID == m.Asset }) {
				return fmt.Errorf("%w: measure %s is on asset %s, which case %s does not hold", ErrInvalid, m.ID, m.Asset, n)
			}
			writes = append(writes, func() error {
				if old != nil && indexed(*old) {
					if err := txn.Delete(measureExpiryKey(old.Expiry, n, old.ID)); err != nil {
						return err
					}
				}
				if err := setJSON(txn, measureKey(n, m.ID), m); err != nil {
					return err
				}
				if indexed(m) {
					return txn.Set(measureExpiryKey(m.Expiry, n, m.ID), nil)
				}
				return nil
			})
			res.Applied = append(res.Applied, m.ID)
		}
		if len(res.Conflicts) > 0 {
			if o.Strict {
				return fmt.Errorf("%w: case %s changed meanwhile (%s); look at it again and retry", ErrConflict, n, strings.Join(res.Conflicts, ", "))
			}
			res.Applied, writes = nil, nil
		}
		if len(writes) > 0 {
			for _, w := range writes {
				if err := w(); err != nil {
					return err
				}
			}
			if err := setJSON(txn, versionKey(n, head.Version), v); err != nil {
				return err
			}
			head.Updated = db.now().UTC().Format(time.RFC3339)
			head.Revision++
			if err := setJSON(txn, caseKey(n), head); err != nil {
				return err
			}
		}
		if o.Outbox != nil {
			if err := setJSON(txn, outboxKey(o.Outbox.Transfer, o.Outbox.Number), *o.Outbox); err != nil {
				return err
			}
		}
		if o.Mark != nil {
			return markApplied(txn, *o.Mark)
		}
		return nil
	})
	if errors.Is(err, badger.ErrConflict) {
		err = fmt.Errorf("%w: case %s was written concurrently; retry", ErrConflict, n)
	}
	if err != nil {
		return DeltaResult{}, fmt.Errorf("asset update of case %s: %w", n, err)
	}
	return res, nil
}

// PendingAssetUpdate is an asset update received from another court and
// not yet applied. Sealed is opened only when it is applied.
type PendingAssetUpdate struct {
	V              int             `json:"v"`
	Transfer       string          `json:"transfer"`
	Issuer         court.CourtCode `json:"issuer"`
	Number         uint64          `json:"number"`
	Kind           string          `json:"kind"`
	Sealed         []byte          `json:"sealed"`
	EarliestExpiry string          `json:"earliest_expiry,omitempty"`
	IssuedAt       time.Time       `json:"issued_at"`
	Record         string          `json:"record"` // hash of the record (hex)
}

func pendingPrefix(transfer string, issuer court.CourtCode) []byte {
	return []byte(prefixAssetPending + transfer + "/" + string(issuer) + "/")
}

func pendingKey(transfer string, issuer court.CourtCode, number uint64) []byte {
	return binary.BigEndian.AppendUint64(pendingPrefix(transfer, issuer), number)
}

func appliedKey(transfer string, issuer court.CourtCode) []byte {
	return []byte(prefixAssetApplied + transfer + "/" + string(issuer))
}

type appliedRecord struct {
	V      int    `json:"v"`
	Number uint64 `json:"number"`
}

func appliedNumber(txn *badger.Txn, transfer string, issuer court.CourtCode) (uint64, error) {
	var a appliedRecord
	err := getJSON(txn, appliedKey(transfer, issuer), &a)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	return a.Number, err
}

func markApplied(txn *badger.Txn, m AssetUpdateMark) error {
	if err := setJSON(txn, appliedKey(m.Transfer, m.Issuer), appliedRecord{V: RecordVersion, Number: m.Number}); err != nil {
		return err
	}
	return txn.Delete(pendingKey(m.Transfer, m.Issuer, m.Number))
}

// PutAssetUpdate keeps a received update until it is applied. It reports
// whether it was new: an update already applied, or already pending,
// is not stored again (the first one received stands).
func (db *DB) PutAssetUpdate(p PendingAssetUpdate) (bool, error) {
	if p.Number == 0 || p.Transfer == "" || p.Issuer == "" || strings.Contains(string(p.Issuer), "/") {
		return false, fmt.Errorf("%w: pending asset update %d of %q", ErrInvalid, p.Number, p.Issuer)
	}
	p.V = RecordVersion
	added := false
	err := db.bdb.Update(func(txn *badger.Txn) error {
		last, err := appliedNumber(txn, p.Transfer, p.Issuer)
		if err != nil || p.Number <= last {
			return err
		}
		k := pendingKey(p.Transfer, p.Issuer, p.Number)
		if _, err := txn.Get(k); err == nil {
			return nil
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		added = true
		return setJSON(txn, k, p)
	})
	return added, err
}

// PendingAssetUpdates lists the updates of a transfer ("" for every
// transfer) waiting to be applied, by transfer, issuer and number.
func (db *DB) PendingAssetUpdates(transfer string) ([]PendingAssetUpdate, error) {
	p := prefixAssetPending
	if transfer != "" {
		p += transfer + "/"
	}
	var out []PendingAssetUpdate
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(p), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var u PendingAssetUpdate
			if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &u) }); err != nil {
				return err
			}
			out = append(out, u)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Transfer != b.Transfer {
			return a.Transfer < b.Transfer
		}
		if a.Issuer != b.Issuer {
			return a.Issuer < b.Issuer
		}
		return a.Number < b.Number
	})
	return out, err
}

// AppliedAssetUpdates is the number of the last update of issuer in
// transfer that was applied (or skipped), 0 if none.
func (db *DB) AppliedAssetUpdates(transfer string, issuer court.CourtCode) (uint64, error) {
	var n uint64
	err := db.bdb.View(func(txn *badger.Txn) error {
		var err error
		n, err = appliedNumber(txn, transfer, issuer)
		return err
	})
	return n, err
}

// SkipAssetUpdate consumes the next update of its issuer without applying
// it (it does not open or does not fit): later updates are not held up
// by one that can never apply. The caller audits why.
func (db *DB) SkipAssetUpdate(m AssetUpdateMark) error {
	return db.bdb.Update(func(txn *badger.Txn) error {
		last, err := appliedNumber(txn, m.Transfer, m.Issuer)
		if err != nil {
			return err
		}
		if m.Number != last+1 {
			return fmt.Errorf("%w: update %d of %s in transfer %s is not the next (last applied %d)", ErrConflict, m.Number, m.Issuer, m.Transfer, last)
		}
		return markApplied(txn, m)
	})
}

// RevertAssetDelta undoes d on case n, which must hold every item of d in
// its after state (ErrConflict otherwise, nothing written): changed items
// go back to their before state, added ones are removed, and outbox (if
// set) leaves the outbox in the same transaction. The issuing court uses
// it when the update it applied could not be sent.
func (db *DB) RevertAssetDelta(n court.CaseNumber, d AssetDelta, outbox *OutboxAssetUpdate) error {
	if err := d.check(); err != nil {
		return fmt.Errorf("revert asset update of case %s: %w", n, err)
	}
	err := db.bdb.Update(func(txn *badger.Txn) error {
		if outbox != nil { // the update that will not go out leaves the outbox with its change
			if err := txn.Delete(outboxKey(outbox.Transfer, outbox.Number)); err != nil {
				return err
			}
		}
		var head CaseRecord
		if err := getJSON(txn, caseKey(n), &head); err != nil {
			return fmt.Errorf("case %s: %w", n, err)
		}
		var v CaseVersion
		if err := getJSON(txn, versionKey(n, head.Version), &v); err != nil {
			return fmt.Errorf("case %s version %d: %w", n, head.Version, err)
		}
		for _, e := range d.Measures {
			i := slices.IndexFunc(v.Measures, func(x Measure) bool { return x.ID == e.After.ID })
			if i < 0 || !sameMeasure(v.Measures[i], e.After) {
				return fmt.Errorf("%w: measure %s of case %s changed since", ErrConflict, e.After.ID, n)
			}
			cur := v.Measures[i]
			if indexed(cur) {
				if err := txn.Delete(measureExpiryKey(cur.Expiry, n, cur.ID)); err != nil {
					return err
				}
			}
			if e.Before == nil {
				v.Measures = slices.Delete(v.Measures, i, i+1)
				if err := txn.Delete(measureKey(n, cur.ID)); err != nil {
					return err
				}
				continue
			}
			b := *e.Before
			v.Measures[i] = b
			if err := setJSON(txn, measureKey(n, b.ID), b); err != nil {
				return err
			}
			if indexed(b) {
				if err := txn.Set(measureExpiryKey(b.Expiry, n, b.ID), nil); err != nil {
					return err
				}
			}
		}
		for _, e := range d.Assets {
			i := slices.IndexFunc(v.Assets, func(a Asset) bool { return a.ID == e.After.ID })
			if i < 0 || !sameJSON(v.Assets[i], e.After) {
				return fmt.Errorf("%w: asset %s of case %s changed since", ErrConflict, e.After.ID, n)
			}
			if e.Before == nil {
				if slices.ContainsFunc(v.Measures, func(m Measure) bool { return m.Asset == e.After.ID }) {
					return fmt.Errorf("%w: asset %s of case %s carries a measure since", ErrConflict, e.After.ID, n)
				}
				v.Assets = slices.Delete(v.Assets, i, i+1)
				if err := txn.Delete(assetKey(n, e.After.ID)); err != nil {
					return err
				}
				continue
			}
			v.Assets[i] = *e.Before
			if err := setJSON(txn, assetKey(n, e.Before.ID), *e.Before); err != nil {
				return err
			}
		}
		if err := setJSON(txn, versionKey(n, head.Version), v); err != nil {
			return err
		}
		head.Updated = db.now().UTC().Format(time.RFC3339)
		head.Revision++
		return setJSON(txn, caseKey(n), head)
	})
	if errors.Is(err, badger.ErrConflict) {
		err = fmt.Errorf("%w: case %s was written concurrently", ErrConflict, n)
	}
	if err != nil {
		return fmt.Errorf("revert asset update of case %s: %w", n, err)
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
