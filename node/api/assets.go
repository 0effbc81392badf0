package api

// The asset endpoints: changes to a transferred case's assets and
// measures after the handover, and the measures of transferred cases by
// days to expiry. A change is applied to this court's own copy of the case
// (the origin's case number on the origin, the new case number on the
// receiver), sealed with the dossier's data key and sent to the other
// court as a signed record.
//
//	POST /v1/transfers/{id}/assets                 AssetChange -> Transfer
//	GET  /v1/transfers/{id}/assets?as_of=D         -> TransferAssets
//	GET  /v1/transfers/{id}/measures?as_of=D       -> TransferAssets (measures only, by days to expiry)
//	GET  /v1/alerts/measures?within=N&as_of=D      -> MeasureAlerts
//
// Nothing here carries personal data in the clear: an account number
// given with a new asset is sealed at once and shown masked.

// AssetChange is the body of POST /v1/transfers/{id}/assets.
type AssetChange struct {
	// Kind is search_result, renewal (续行), release (解除), disposal
	// (扣划 or auction), lapse, or other (a new measure on an asset
	// already held). Required.
	Kind string `json:"kind"`
	// Measure is the measure renewed, released, carried out or lapsed
	// (renewal, release, disposal, lapse).
	Measure string `json:"measure,omitempty"`
	// NewMeasure is the id of the measure the change creates; empty gives
	// one scoped to this court's role and the update's number (m-o3, m-r1),
	// which the other court cannot create at the same time.
	NewMeasure string `json:"new_measure,omitempty"`
	// MeasureKind is the measure taken (seal, detain, freeze, waiting):
	// required for other, optional for search_result.
	MeasureKind string `json:"measure_kind,omitempty"`
	// Asset is the asset found (search_result).
	Asset *NewAsset `json:"asset,omitempty"`
	// AssetID is the asset the new measure is on (other).
	AssetID string `json:"asset_id,omitempty"`
	// Effective (YYYY-MM-DD) is when the new measure takes effect;
	// empty means today, or for a renewal the day after the renewed
	// measure's expiry.
	Effective string `json:"effective,omitempty"`
	// Expiry (YYYY-MM-DD) is the new measure's last day; empty means the
	// legal maximum for the asset's class.
	Expiry string `json:"expiry,omitempty"`
	// Rank is a waiting-line seizure's place (1 = next).
	Rank int `json:"rank,omitempty"`
}

// NewAsset is an asset found after the handover.
type NewAsset struct {
	ID          string `json:"id,omitempty"` // empty: scoped like NewMeasure (a-o3)
	Class       string `json:"class"`        // deposit, real_estate, ... or 银行存款, 不动产, ...
	Description string `json:"description"`
	Owner       string `json:"owner,omitempty"` // party id
	Source      string `json:"source"`          // national_search, local_link, debtor_report, applicant_lead, other
	// Account is the account or certificate number in full; the node
	// seals it with the dossier's data key and keeps only a masked form
	// in view.
	Account  string `json:"account,omitempty"`
	ValueFen int64  `json:"value_fen,omitempty"`
	// FirstSeen (YYYY-MM-DD) is the earliest day the asset is known to
	// have been the debtor's (an account's opening, a registration), as
	// the search reports it; a receiver's search result with one on or
	// before the origin's last search is reported for a check back on
	// the origin (倒查).
	FirstSeen string `json:"first_seen,omitempty"`
}

// TransferAssets is a transferred case's assets and measures as this node
// holds them, masked, with days to expiry, and where the asset updates
// stand.
type TransferAssets struct {
	Transfer string        `json:"transfer"`
	Role     string        `json:"role"` // origin | receiver
	Case     string        `json:"case"` // this court's case number for it
	AsOf     string        `json:"as_of"`
	Assets   []AssetInfo   `json:"assets"`
	Measures []MeasureInfo `json:"measures"` // active measures with a term first, soonest expiry first
	// Earliest is the earliest expiry of an active measure, if any.
	Earliest string `json:"earliest_expiry,omitempty"`
	// Issued is the number of asset updates this court sent in the
	// transfer; Applied the number of the other court's applied here;
	// Pending those received but waiting (for their predecessor, or for
	// the dossier to be filed).
	Issued  int    `json:"updates_issued"`
	Applied uint64 `json:"updates_applied"`
	Pending int    `json:"updates_pending"`
}

// MeasureAlert is an active measure of a transferred case nearing its
// expiry.
type MeasureAlert struct {
	Transfer        string `json:"transfer"`
	Role            string `json:"role"`
	Case            string `json:"case"`
	Measure         string `json:"measure"`
	Kind            string `json:"kind"`
	KindLabel       string `json:"kind_label"`
	Asset           string `json:"asset"`
	AssetClass      string `json:"asset_class"`
	AssetClassLabel string `json:"asset_class_label"`
	Expiry          string `json:"expiry"`
	DaysLeft        int    `json:"days_left"` // negative once past: it may have lapsed
	Court           string `json:"court"`
}

// MeasureAlerts answers GET /v1/alerts/measures.
type MeasureAlerts struct {
	AsOf     string         `json:"as_of"`
	Within   int            `json:"within"`
	Until    string         `json:"until"`
	Measures []MeasureAlert `json:"measures"` // soonest first
}
