package court

// CaseStatus is the state of an enforcement case in this court.
type CaseStatus string

// The case statuses.
const (
	StatusActive      CaseStatus = "active"      // 在执: being enforced
	StatusTerminated  CaseStatus = "terminated"  // 终本: current procedure concluded, debtor without property
	StatusConcluded   CaseStatus = "concluded"   // 执行完毕 / 结案
	StatusTransferred CaseStatus = "transferred" // 销案: handed to another court
)

// Valid reports whether s is a defined status.
func (s CaseStatus) Valid() bool {
	switch s {
	case StatusActive, StatusTerminated, StatusConcluded, StatusTransferred:
		return true
	}
	return false
}

// PartyRole is a party's position in the enforcement case.
type PartyRole string

// The party roles.
const (
	RoleApplicant  PartyRole = "applicant"  // 申请执行人
	RoleRespondent PartyRole = "respondent" // 被执行人
)

// PartyKind says what kind of person a party is.
type PartyKind string

// The party kinds.
const (
	PartyNatural PartyKind = "natural" // 自然人
	PartyLegal   PartyKind = "legal"   // 法人
	PartyOther   PartyKind = "other"   // 非法人组织
)

// IDType is the kind of identity number a party carries.
type IDType string

// The identity number types.
const (
	IDResident   IDType = "resident_id" // 居民身份证号码 (GB 11643)
	IDCreditCode IDType = "uscc"        // 统一社会信用代码 (GB 32100)
	IDOtherType  IDType = "other"       // passport or other, not checked
)

// MeasureStatus is the state of a measure.
type MeasureStatus string

// The measure statuses.
const (
	MeasureActive   MeasureStatus = "active"   // in force
	MeasureRenewed  MeasureStatus = "renewed"  // superseded by its renewal (续行), which carries the term on
	MeasureReleased MeasureStatus = "released" // 解除
	MeasureLapsed   MeasureStatus = "lapsed"   // expired unrenewed
	MeasureExecuted MeasureStatus = "executed" // carried out (扣划, or superseded by disposal)
)

// Valid reports whether s is a defined status.
func (s MeasureStatus) Valid() bool {
	switch s {
	case MeasureActive, MeasureRenewed, MeasureReleased, MeasureLapsed, MeasureExecuted:
		return true
	}
	return false
}

// Party is a party to the case: display data only, the identity number
// masked, and sealed (by the caller, under the dossier's data key) in
// IDSealed. The JSON field names are a stored format: do not change them.
type Party struct {
	ID       string     `json:"id"`
	Role     PartyRole  `json:"role"`
	Kind     PartyKind  `json:"kind"`
	Name     string     `json:"name"`                // as published judgments anonymise it: 张某甲
	IDType   IDType     `json:"id_type,omitempty"`   //
	IDMasked string     `json:"id_masked,omitempty"` // 110***********1234
	IDSealed []byte     `json:"id_sealed,omitempty"` // sealed under the dossier's data key, label party/<ID>/id_number
	Phone    string     `json:"phone,omitempty"`     // masked: 138****0000
	Region   RegionCode `json:"region,omitempty"`    // division code of the domicile (district or city), never the address
}

// Title is the enforceable title (执行依据).
type Title struct {
	Kind       string     `json:"kind"` // judgment, ruling, mediation, arbitral_award, notarial_deed, other
	CaseNumber CaseNumber `json:"case_number"`
	Issuer     string     `json:"issuer"`
	Effective  Date       `json:"effective"`
}

// Asset is a piece of the debtor's property. Its account number is kept
// masked, and sealed (by the caller) in AccountSealed.
type Asset struct {
	ID            string     `json:"id"`
	Class         AssetClass `json:"class"`
	Description   string     `json:"description"`
	Owner         string     `json:"owner"`  // party id
	Source        string     `json:"source"` // national_search, local_link, debtor_report, applicant_lead, other
	AccountMasked string     `json:"account_masked,omitempty"`
	AccountSealed []byte     `json:"account_sealed,omitempty"` // sealed under the dossier's data key, label asset/<ID>/account
	ValueFen      int64      `json:"value_fen,omitempty"`      // estimated value in fen (分)
	Region        RegionCode `json:"region,omitempty"`         // where it lies or is registered: district or city division code
	// FirstSeen is the earliest day the asset is known to have been the
	// debtor's (an account's opening, a registration), as the search
	// that found it reports; zero if unknown. A check back on the origin
	// (倒查) compares it with the origin's searches (Case.Searches).
	FirstSeen Date `json:"first_seen,omitzero"`
	// Nature is, for class other (其他), what kind of property it is,
	// which sets the longest term of a measure on it (民诉法解释 art. 485):
	// NatureMovable (动产, 2 years) or NatureRight (其他财产权, 3 years);
	// empty: not known (1 year, the shortest). Empty for the other classes.
	Nature AssetNature `json:"nature,omitempty"`
}

// Search is one property search (财产查询) a court ran in the case: when,
// through which channel, and which court ran it. The case keeps them
// (Case.Searches) so that the court that receives the case can tell
// whether what it finds existed when the origin searched (倒查).
type Search struct {
	On     Date      `json:"on"`
	Source string    `json:"source"` // national_search, local_link, debtor_report, applicant_lead, other
	Court  CourtCode `json:"court"`
}

// LastSearch is the latest day court c searched among ss, zero if never;
// n counts c's searches.
func LastSearch(ss []Search, c CourtCode) (last Date, n int) {
	for _, s := range ss {
		if s.Court != c {
			continue
		}
		n++
		if last.IsZero() || s.On.After(last) {
			last = s.On
		}
	}
	return last, n
}

// Measure is an enforcement measure on an asset.
type Measure struct {
	ID        string        `json:"id"`
	Kind      MeasureKind   `json:"kind"`
	Asset     string        `json:"asset"`
	Effective Date          `json:"effective"`
	Expiry    Date          `json:"expiry,omitzero"` // zero for kinds without a term
	Renews    string        `json:"renews,omitempty"`
	Releases  string        `json:"releases,omitempty"`
	Rank      int           `json:"rank,omitempty"` // 轮候 order, 1 = first in the waiting line
	Status    MeasureStatus `json:"status"`
	Court     CourtCode     `json:"court"` // the court that holds it
	Document  string        `json:"document,omitempty"`
}

// Running reports whether m is in force with a term that runs out (an
// active seal, freeze, detention or renewal with an expiry): the measures
// that lapse unless renewed, and whose expiry must be watched.
func (m Measure) Running() bool {
	return m.Status == MeasureActive && m.Kind.HasTerm() && !m.Expiry.IsZero()
}

// RenewableBy reports whether court c can renew m (续行): its own
// measure, or one that names no holder (data from before holders were
// recorded). Another court's measure (the first seizure ahead of c in a
// waiting line, a third court's) only that court renews.
func (m Measure) RenewableBy(c CourtCode) bool {
	return m.Court == "" || m.Court == c
}

// EarliestExpiry is the earliest expiry of the running measures (see
// [Measure.Running]), zero if there is none.
func EarliestExpiry(ms []Measure) Date {
	var e Date
	for _, m := range ms {
		if m.Running() && (e.IsZero() || m.Expiry.Before(e)) {
			e = m.Expiry
		}
	}
	return e
}

// Case is an enforcement case as the rules see it: who the parties are,
// what is claimed, and the assets and measures held. It is one version of
// the case without its documents (storage.CaseVersion adds those, and is
// what is stored).
type Case struct {
	Number   CaseNumber
	Court    CourtCode
	Status   CaseStatus
	Filed    Date
	Applied  Date
	Noticed  Date // zero if no enforcement notice yet
	ClaimFen int64
	Title    Title
	Parties  []Party
	Assets   []Asset
	Measures []Measure
	Searches []Search
}

// Measure returns the measure of c with the given id.
func (c Case) Measure(id string) (Measure, bool) {
	for _, m := range c.Measures {
		if m.ID == id {
			return m, true
		}
	}
	return Measure{}, false
}

// Asset returns the asset of c with the given id.
func (c Case) Asset(id string) (Asset, bool) {
	for _, a := range c.Assets {
		if a.ID == id {
			return a, true
		}
	}
	return Asset{}, false
}
