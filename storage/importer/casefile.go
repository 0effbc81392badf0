package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/storage"
)

// Format is the value of case.json's "format" field this importer reads.
const Format = "courtmesh-case/1"

// CaseFile is the wire form of case.json (see case.schema.json). It is
// separate from the stored model: identity and account numbers arrive here
// in clear and leave only sealed. Dates are YYYY-MM-DD strings; the
// generator writes this type and the importer reads it.
type CaseFile struct {
	Format     string         `json:"format"`
	CaseNumber string         `json:"case_number"`
	Court      string         `json:"court"`
	Status     string         `json:"status"`
	Filed      string         `json:"filed"`
	Applied    string         `json:"applied"`
	Noticed    string         `json:"noticed,omitempty"`
	ClaimFen   int64          `json:"claim_fen"`
	Title      TitleFile      `json:"title"`
	Parties    []PartyFile    `json:"parties"`
	Assets     []AssetFile    `json:"assets"`
	Measures   []MeasureFile  `json:"measures"`
	Searches   []SearchFile   `json:"searches,omitempty"`
	Documents  []DocumentFile `json:"documents"`
}

// SearchFile is a property search in case.json.
type SearchFile struct {
	On     string `json:"on"`
	Source string `json:"source"`
	Court  string `json:"court,omitempty"` // the court that searched; default: the case's court
}

// TitleFile is the enforceable title in case.json.
type TitleFile struct {
	Kind       string `json:"kind"`
	CaseNumber string `json:"case_number"`
	Issuer     string `json:"issuer"`
	Effective  string `json:"effective"`
}

// PartyFile is a party in case.json.
type PartyFile struct {
	ID       string `json:"id"`
	Role     string `json:"role"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	IDType   string `json:"id_type,omitempty"`
	IDNumber string `json:"id_number,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Region   string `json:"region,omitempty"` // division code of the domicile: 110105
}

// AssetFile is an asset in case.json.
type AssetFile struct {
	ID          string `json:"id"`
	Class       string `json:"class"`
	Description string `json:"description"`
	Owner       string `json:"owner"`
	Source      string `json:"source"`
	Account     string `json:"account,omitempty"`
	ValueFen    int64  `json:"value_fen,omitempty"`
	Region      string `json:"region,omitempty"`     // division code where it lies: 110105
	FirstSeen   string `json:"first_seen,omitempty"` // earliest day known to be the debtor's
	// Nature, for class other only: movable (动产, measures up to 2
	// years) or property_right (其他财产权, up to 3); absent: not known
	// (up to 1 year).
	Nature string `json:"nature,omitempty"`
}

// MeasureFile is a measure in case.json.
type MeasureFile struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Asset     string `json:"asset"`
	Effective string `json:"effective"`
	Expiry    string `json:"expiry,omitempty"`
	Renews    string `json:"renews,omitempty"`
	Releases  string `json:"releases,omitempty"`
	Rank      int    `json:"rank,omitempty"`
	Status    string `json:"status"`
	Court     string `json:"court,omitempty"`
	Document  string `json:"document,omitempty"`
}

// DocumentFile is a document entry in case.json.
type DocumentFile struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Title string `json:"title"`
	File  string `json:"file"`
}

// FieldError is one problem with the input, located by its JSON path
// (measures[2].expiry) or, for archive problems, by "zip:" and the entry
// name.
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// ValidationError lists every problem found in an import. It wraps
// court.ErrInvalid.
type ValidationError struct {
	Source string // the folder or zip imported
	Errs   []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not a valid case (%d problem(s)); nothing was imported:", e.Source, len(e.Errs))
	for _, fe := range e.Errs {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, court.ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return court.ErrInvalid }

// Parsed is a case.json that passed the schema and every rule that does
// not need the document files.
type Parsed struct {
	Version       storage.CaseVersion // documents without size, hash or chunks
	PartyIDs      map[string]string
	AssetAccounts map[string]string
	Warnings      []string
}

// checker collects errors while checking one case.json.
type checker struct {
	errs     []FieldError
	warnings []string
}

func (c *checker) add(path, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// reason strips the court package's "invalid ..." framing down to its
// explanation where possible, keeping messages short.
func reason(err error) string { return err.Error() }

func (c *checker) date(path, s string, required bool) court.Date {
	if s == "" {
		if required {
			c.add(path, "required date is missing")
		}
		return court.Date{}
	}
	d, err := court.ParseDate(s)
	if err != nil {
		c.add(path, "%s", reason(err))
	}
	return d
}

// ParseCase decodes and checks a case.json. It returns every problem it
// finds: all schema violations (and then a nil Parsed) or, if there are
// none, all semantic ones (with the Parsed as far as it could be built, so
// that the caller can still check the document files). The case is
// valid only if no errors are returned. Document files are not looked at.
func ParseCase(data []byte) (*Parsed, []FieldError) {
	root, err := loadSchema()
	if err != nil {
		return nil, []FieldError{{Path: "(schema)", Msg: err.Error()}}
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, []FieldError{{Path: "(root)", Msg: "not valid JSON: " + jsonErr(data, err)}}
	}
	if dec.More() {
		return nil, []FieldError{{Path: "(root)", Msg: "extra data after the JSON object"}}
	}
	var errs []FieldError
	root.validate(root, "", generic, &errs)
	if len(errs) > 0 {
		for i := range errs {
			if errs[i].Path == "" {
				errs[i].Path = "(root)"
			}
		}
		return nil, errs
	}
	// The schema passed; strict decoding is a second guard that the
	// struct and the schema agree.
	var f CaseFile
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, []FieldError{{Path: "(root)", Msg: "does not decode: " + err.Error()}}
	}
	c := &checker{}
	p := c.check(&f)
	p.Warnings = c.warnings
	return p, c.errs
}

func jsonErr(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Sprintf("%v (line %d)", err, line)
	}
	return err.Error()
}

// check: It is long on purpose: every field rule of the case file, in the
// order the file format lists them, so that each refusal names its field.
func (c *checker) check(f *CaseFile) *Parsed {
	p := &Parsed{PartyIDs: map[string]string{}, AssetAccounts: map[string]string{}}
	v := &p.Version

	n, err := court.ParseCaseNumber(f.CaseNumber)
	if err != nil {
		c.add("case_number", "%s", reason(err))
	} else if !n.Type.IsEnforcement() {
		c.add("case_number", "%s is a %s case, not an enforcement (执) case", n, n.Type.Label())
	}
	v.Number = n
	cc, err := court.ParseCourtCode(f.Court)
	if err != nil {
		c.add("court", "%s", reason(err))
	} else if !n.IsZero() && n.Court != cc {
		c.add("court", "%s does not match the court %s of the case number %s", cc, n.Court, n)
	}
	v.Court = cc
	v.Status = court.CaseStatus(f.Status)
	v.ClaimFen = f.ClaimFen

	v.Title.Kind = f.Title.Kind
	v.Title.Issuer = f.Title.Issuer
	if tn, err := court.ParseCaseNumber(f.Title.CaseNumber); err != nil {
		c.add("title.case_number", "%s", reason(err))
	} else {
		v.Title.CaseNumber = tn
	}
	titleEff := c.date("title.effective", f.Title.Effective, true)
	v.Title.Effective = titleEff
	v.Applied = c.date("applied", f.Applied, true)
	v.Filed = c.date("filed", f.Filed, true)
	v.Noticed = c.date("noticed", f.Noticed, false)
	order := func(path string, later, earlier court.Date, what string) {
		if !later.IsZero() && !earlier.IsZero() && later.Before(earlier) {
			c.add(path, "%s is before %s %s: dates out of order", later, what, earlier)
		}
	}
	order("applied", v.Applied, titleEff, "the title's effective date")
	order("filed", v.Filed, v.Applied, "the application date")
	order("noticed", v.Noticed, v.Filed, "the filing date")
	if !titleEff.IsZero() && !v.Applied.IsZero() && v.Applied.After(titleEff.AddDate(2, 0, 0)) {
		c.warnings = append(c.warnings, fmt.Sprintf("applied: %s is more than 2 years after the title took effect (%s); check that the limitation period was interrupted", v.Applied, titleEff))
	}
	if !v.Noticed.IsZero() && !v.Filed.IsZero() && v.Noticed.After(v.Filed.AddDate(0, 0, 10)) {
		c.warnings = append(c.warnings, fmt.Sprintf("noticed: %s is more than 10 days after filing (%s)", v.Noticed, v.Filed))
	}

	// Parties.
	parties := map[string]court.Party{}
	var applicants, respondents int
	for i, pf := range f.Parties {
		at := fmt.Sprintf("parties[%d]", i)
		if _, dup := parties[pf.ID]; dup {
			c.add(at+".id", "duplicate party id %q", pf.ID)
		}
		party := court.Party{ID: pf.ID, Role: court.PartyRole(pf.Role), Kind: court.PartyKind(pf.Kind), Name: strings.TrimSpace(pf.Name), IDType: court.IDType(pf.IDType)}
		if party.Name == "" {
			c.add(at+".name", "must not be blank")
		}
		switch party.Role {
		case court.RoleApplicant:
			applicants++
		case court.RoleRespondent:
			respondents++
		}
		switch {
		case pf.IDNumber != "" && pf.IDType == "":
			c.add(at+".id_type", "required when id_number is given (resident_id, uscc or other)")
		case pf.IDNumber == "" && pf.IDType != "":
			c.add(at+".id_number", "required when id_type is given")
		case pf.IDType == string(court.IDResident):
			if party.Kind != court.PartyNatural {
				c.add(at+".id_type", "resident_id is for natural persons; this party is %s", party.Kind)
			}
			if !court.ValidResidentID(pf.IDNumber) {
				c.add(at+".id_number", "%s is not a valid resident identity number (18 characters, a real birth date, GB 11643 check digit)", court.MaskNumber(pf.IDNumber))
			}
		case pf.IDType == string(court.IDCreditCode):
			if party.Kind == court.PartyNatural {
				c.add(at+".id_type", "uscc is for legal persons and organisations; this party is a natural person")
			}
			if !court.ValidCreditCode(pf.IDNumber) {
				c.add(at+".id_number", "%s is not a valid unified social credit code (18 characters, GB 32100 check character)", court.MaskNumber(pf.IDNumber))
			}
		}
		if pf.IDNumber != "" {
			party.IDMasked = court.MaskNumber(pf.IDNumber)
			p.PartyIDs[pf.ID] = pf.IDNumber
		}
		if pf.Phone != "" {
			party.Phone = court.MaskPhone(pf.Phone)
		}
		if pf.Region != "" {
			r, err := court.ParseRegionCode(pf.Region)
			if err != nil {
				c.add(at+".region", "%s", reason(err))
			}
			party.Region = r
		}
		parties[pf.ID] = party
		v.Parties = append(v.Parties, party)
	}
	if applicants == 0 {
		c.add("parties", "no applicant (申请执行人); at least one party must have role applicant")
	}
	if respondents == 0 {
		c.add("parties", "no respondent (被执行人); at least one party must have role respondent")
	}

	// Documents (files are checked by the importer).
	docs := map[string]bool{}
	files := map[string]string{}
	for i, df := range f.Documents {
		at := fmt.Sprintf("documents[%d]", i)
		if docs[df.ID] {
			c.add(at+".id", "duplicate document id %q", df.ID)
		}
		docs[df.ID] = true
		if msg := checkRelPath(df.File); msg != "" {
			c.add(at+".file", "%q %s", df.File, msg)
		} else if other, dup := files[df.File]; dup {
			c.add(at+".file", "%q is already the file of document %s", df.File, other)
		} else if df.File == "case.json" {
			c.add(at+".file", "case.json is the case file itself, not a document")
		}
		files[df.File] = df.ID
		v.Documents = append(v.Documents, storage.Document{ID: df.ID, Kind: df.Kind, Title: df.Title, File: df.File})
	}

	// Assets.
	assets := map[string]court.Asset{}
	for i, af := range f.Assets {
		at := fmt.Sprintf("assets[%d]", i)
		if _, dup := assets[af.ID]; dup {
			c.add(at+".id", "duplicate asset id %q", af.ID)
		}
		a := court.Asset{ID: af.ID, Description: af.Description, Owner: af.Owner, Source: af.Source, ValueFen: af.ValueFen}
		cl, err := court.ParseAssetClass(af.Class)
		if err != nil {
			c.add(at+".class", "unknown asset class %q: %s", af.Class, reason(err))
		}
		a.Class = cl
		if a.Nature, err = court.ParseAssetNature(cl, af.Nature); err != nil {
			c.add(at+".nature", "%s", reason(err))
		}
		if af.Region != "" {
			r, err := court.ParseRegionCode(af.Region)
			if err != nil {
				c.add(at+".region", "%s", reason(err))
			}
			a.Region = r
		}
		a.FirstSeen = c.date(at+".first_seen", af.FirstSeen, false)
		if owner, ok := parties[af.Owner]; !ok {
			c.add(at+".owner", "no party with id %q", af.Owner)
		} else if owner.Role != court.RoleRespondent {
			c.add(at+".owner", "party %q is the applicant; assets under enforcement belong to a respondent", af.Owner)
		}
		if af.Account != "" {
			a.AccountMasked = court.MaskNumber(af.Account)
			p.AssetAccounts[af.ID] = af.Account
		}
		assets[af.ID] = a
		v.Assets = append(v.Assets, a)
	}

	// Measures.
	measures := map[string]int{}
	for i, mf := range f.Measures {
		if _, dup := measures[mf.ID]; dup {
			c.add(fmt.Sprintf("measures[%d].id", i), "duplicate measure id %q", mf.ID)
			continue
		}
		measures[mf.ID] = i
	}
	ranks := map[string]string{}
	for i, mf := range f.Measures {
		at := fmt.Sprintf("measures[%d]", i)
		m := court.Measure{ID: mf.ID, Asset: mf.Asset, Renews: mf.Renews, Releases: mf.Releases, Rank: mf.Rank, Status: court.MeasureStatus(mf.Status), Document: mf.Document}
		kind, kerr := court.ParseMeasureKind(mf.Kind)
		if kerr != nil {
			c.add(at+".kind", "unknown measure kind %q: %s", mf.Kind, reason(kerr))
		}
		m.Kind = kind
		asset, aok := assets[mf.Asset]
		if !aok {
			c.add(at+".asset", "no asset with id %q", mf.Asset)
		} else if kerr == nil && asset.Class.Valid() {
			if err := court.Applies(kind, asset.Class); err != nil {
				c.add(at+".kind", "%s (%s) cannot be taken on asset %s, a %s (%s)", kind.Label(), kind, asset.ID, asset.Class.Label(), asset.Class)
			}
		}
		m.Effective = c.date(at+".effective", mf.Effective, true)
		if !m.Effective.IsZero() && !titleEff.IsZero() && m.Effective.Before(titleEff) && n.Type != court.TypePreservation {
			c.add(at+".effective", "%s is before the title took effect (%s): dates out of order", m.Effective, titleEff)
		}
		if mf.Court != "" {
			mc, err := court.ParseCourtCode(mf.Court)
			if err != nil {
				c.add(at+".court", "%s", reason(err))
			}
			m.Court = mc
		} else {
			m.Court = cc
		}
		if mf.Document != "" && !docs[mf.Document] {
			c.add(at+".document", "no document with id %q", mf.Document)
		}
		if kerr == nil {
			if kind == court.MeasureWaiting && m.Status == court.MeasureActive {
				// Its term runs from the day it takes effect, when the
				// seizure ahead of it ends; until then it has none.
				if mf.Expiry != "" {
					c.add(at+".expiry", "a waiting-line seizure (轮候) has no term until it takes effect; remove the expiry (record it as a seal or freeze once it does)")
				}
			} else if kind.HasTerm() {
				m.Expiry = c.expiry(at+".expiry", asset, aok, m.Effective, mf.Expiry)
			} else if mf.Expiry != "" {
				c.add(at+".expiry", "a %s (%s) has no term; remove the expiry", kind.Label(), kind)
			}
			if (kind == court.MeasureRelease || kind == court.MeasureDeduct) && m.Status == court.MeasureActive {
				c.add(at+".status", "a %s (%s) is a one-off act; its status is executed, not active", kind.Label(), kind)
			}
		}
		c.link(at, "renews", mf.Renews, kind == court.MeasureRenewal, kind, f.Measures, measures, mf)
		c.link(at, "releases", mf.Releases, kind == court.MeasureRelease, kind, f.Measures, measures, mf)
		if kind == court.MeasureRenewal && mf.Renews != "" {
			if j, ok := measures[mf.Renews]; ok && j != i {
				prev := c.date("", f.Measures[j].Effective, false)
				prevExp, _ := court.ParseDate(f.Measures[j].Expiry)
				if prevExp.IsZero() && aok && !prev.IsZero() {
					prevExp = asset.LegalExpiry(prev)
				}
				if !prevExp.IsZero() && !m.Effective.IsZero() && m.Effective.After(prevExp.AddDate(0, 0, 1)) {
					c.add(at+".effective", "renewal effective %s is after measure %s lapsed on %s; a lapsed measure cannot be renewed, take a new one", m.Effective, mf.Renews, prevExp)
				}
			}
		}
		if kind == court.MeasureWaiting {
			if mf.Rank == 0 {
				c.add(at+".rank", "a waiting-line seizure (轮候) needs its rank in the line (1 = next)")
			} else {
				key := fmt.Sprintf("%s/%d", mf.Asset, mf.Rank)
				if other, dup := ranks[key]; dup {
					c.add(at+".rank", "rank %d on asset %s is already held by measure %s", mf.Rank, mf.Asset, other)
				}
				ranks[key] = mf.ID
			}
		}
		v.Measures = append(v.Measures, m)
	}
	c.cycles(f.Measures, measures)

	// Searches.
	for i, sf := range f.Searches {
		at := fmt.Sprintf("searches[%d]", i)
		sr := court.Search{On: c.date(at+".on", sf.On, true), Source: sf.Source, Court: cc}
		if sf.Court != "" {
			sc, err := court.ParseCourtCode(sf.Court)
			if err != nil {
				c.add(at+".court", "%s", reason(err))
			}
			sr.Court = sc
		}
		if !sr.On.IsZero() && !v.Filed.IsZero() && sr.On.Before(v.Filed) && sr.Court == cc {
			c.add(at+".on", "%s is before the case was filed (%s): dates out of order", sr.On, v.Filed)
		}
		v.Searches = append(v.Searches, sr)
	}
	return p
}

// expiry checks or computes a measure's last day.
func (c *checker) expiry(path string, asset court.Asset, aok bool, eff court.Date, s string) court.Date {
	if !aok || !asset.Class.Valid() || eff.IsZero() {
		if s != "" {
			return c.date(path, s, false)
		}
		return court.Date{}
	}
	limit := asset.LegalExpiry(eff)
	if s == "" {
		return limit
	}
	exp := c.date(path, s, false)
	if exp.IsZero() {
		return exp
	}
	switch {
	case exp.After(limit):
		c.add(path, "%s is beyond the legal limit of %d year(s) for %s (latest %s)", exp, asset.TermYears(), asset.Class.Label(), limit)
	case exp.Before(eff):
		c.add(path, "%s is before the effective date %s", exp, eff)
	default:
		if err := asset.CheckExpiry(eff, exp); err != nil {
			c.add(path, "%s", reason(err))
		}
	}
	return exp
}

// link checks a reference from one measure to another (renews, releases).
func (c *checker) link(at, field, target string, needed bool, kind court.MeasureKind, all []MeasureFile, ids map[string]int, self MeasureFile) {
	path := at + "." + field
	switch {
	case needed && target == "":
		c.add(path, "a %s (%s) must name the measure it %s", kind.Label(), kind, field)
		return
	case !needed && target != "":
		c.add(path, "only a %s measure may have %s", map[string]string{"renews": "renewal", "releases": "release"}[field], field)
		return
	case target == "":
		return
	}
	j, ok := ids[target]
	if !ok {
		c.add(path, "no measure with id %q", target)
		return
	}
	if target == self.ID {
		c.add(path, "a measure cannot %s itself", strings.TrimSuffix(field, "s"))
		return
	}
	prev := all[j]
	if prev.Asset != self.Asset {
		c.add(path, "measure %s is on asset %s, not on %s", target, prev.Asset, self.Asset)
	}
	if pk, err := court.ParseMeasureKind(prev.Kind); err == nil && !pk.HasTerm() {
		c.add(path, "measure %s is a %s (%s), which has no term to %s", target, pk.Label(), pk, strings.TrimSuffix(field, "s"))
	}
}

// cycles reports renewal chains that loop.
func (c *checker) cycles(all []MeasureFile, ids map[string]int) {
	for i, m := range all {
		if m.Renews == m.ID {
			continue // reported by link
		}
		seen := map[string]bool{m.ID: true}
		cur := m.Renews
		for steps := 0; cur != "" && steps <= len(all); steps++ {
			if seen[cur] {
				c.add(fmt.Sprintf("measures[%d].renews", i), "renewal chain from %s loops back to %s", m.ID, cur)
				break
			}
			seen[cur] = true
			j, ok := ids[cur]
			if !ok {
				break
			}
			cur = all[j].Renews
		}
	}
}

// checkRelPath returns "" if p is a safe relative '/'-separated path
// inside the case folder, or what is wrong with it.
func checkRelPath(p string) string {
	switch {
	case p == "":
		return "is empty"
	case strings.ContainsAny(p, "\\\x00"):
		return "contains a backslash or NUL; use '/'-separated paths"
	case strings.HasPrefix(p, "/"), len(p) >= 2 && p[1] == ':':
		return "is an absolute path; name files relative to case.json"
	case path.Clean(p) != p:
		return "is not a clean path (no ./, //, trailing /)"
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "leaves the case folder (..)"
		}
	}
	return ""
}
