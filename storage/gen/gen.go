// Package gen writes synthetic enforcement cases for demos and tests,
// following the rules of DOMAIN.md "Synthetic data": real court codes,
// parties named the way published judgments anonymise them (张某甲,
// 某某科技有限公司), identity numbers and credit codes with valid check
// digits but the unassigned region prefix 99 (so they can never match a
// real person or company), bank accounts starting 9999, masked phone
// numbers, dates in the legal order, and documents as real (small) PDF
// files.
//
// Output is a function of the options alone: the same seed, reference
// date and sizes give byte-identical files.
//
// Scenarios built in, at fixed positions so that a test or a demo can
// drive them (Case.Scenario names them; courtmesh gen prints them, one
// line each, or with --json case by case): a deposit freeze 20 days from expiry (case 1), a
// waiting-line chain across three courts (case 2), up to 12 cases
// against one debtor (cases 3..14), a resumed case (执恢) after 终本
// (case 16 and every 23rd: 24, 47, ...), and a handover the receiver
// will return as incomplete (case 17 and every 29th after it: 46, 75,
// ...; a resumed case stays only that). Besides: renewal chains for
// measures older than their term, and expiries spread so that some fall
// within 30 days of the reference date.
//
// The handover returned incomplete: the case folder is the case as the
// origin holds it at the handover, its dossier lacking the papers of the
// kinds in ReturnedMissing (the order to report assets and the online
// search results; each a kind a return names, protocol.DossierItems, and
// each a required dossier item, protocol.DossierItemsRequired). Its
// subfolder supplement/ is the same case with those papers found: the
// origin imports it after the return and supplements the handover. No
// measure of that case expires within 40 days of the reference date, so
// its handover is never held back by the 30-day guard.
package gen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/storage/importer"
)

// Options configures Generate. Zero fields take the defaults noted.
type Options struct {
	Cases   int             // number of cases; 0 means 10
	Seed    uint64          // the random seed
	Court   court.CourtCode // court holding the cases; "" means 京0105
	DocSize int64           // pad every document to about this many bytes; 0 leaves them a few KB
	RefDate court.Date      // the "today" of the data; zero means today in China time
}

// Case describes one generated case.
type Case struct {
	Dir       string // the case folder, ready for importer.Import
	Number    court.CaseNumber
	Documents int   // the documents of the case folder's case.json
	Bytes     int64 // total bytes of those documents
	Scenario  Scenario
	// Missing lists, for ScenarioReturned, the kinds of document
	// (case.json "kind") the case folder's dossier lacks: the dossier
	// item kinds the receiver's return names.
	Missing []string
	// Supplement is, for ScenarioReturned, a folder holding the same
	// case with the missing papers (Dir/supplement), ready for
	// importer.Import after the return.
	Supplement string
}

// Scenario names what a generated case is built to show ("" for none).
type Scenario string

// The scenarios, in the order of the cases that carry them.
const (
	ScenarioNearExpiry  Scenario = "near_expiry"         // case 1: a deposit freeze 20 days from expiry
	ScenarioWaitingLine Scenario = "waiting_line"        // case 2: a waiting-line chain across three courts
	ScenarioGathered    Scenario = "one_debtor"          // cases 3..14: one debtor's cases, for 集中执行
	ScenarioResumed     Scenario = "resumed"             // case 16, every 23rd: 执恢 after 终本
	ScenarioReturned    Scenario = "returned_incomplete" // case 17, every 29th after it: a handover returned incomplete
)

// Scenarios lists every scenario in order.
var Scenarios = []Scenario{ScenarioNearExpiry, ScenarioWaitingLine, ScenarioGathered, ScenarioResumed, ScenarioReturned}

// ReturnedMissing are the kinds of document (case.json "kind") a case of
// ScenarioReturned lacks at the handover: the order to report assets
// (报告财产令) and the online search results (网络查控结果).
var ReturnedMissing = []string{"report_order", "search_result"}

// SupplementDir is the subfolder of a ScenarioReturned case holding the
// case with its missing papers.
const SupplementDir = "supplement"

// scenarioOf is the scenario case i (from 0) carries.
func scenarioOf(i int) Scenario {
	switch {
	case i == 0:
		return ScenarioNearExpiry
	case i == 1:
		return ScenarioWaitingLine
	case i >= 2 && i < 14:
		return ScenarioGathered
	case i == 15 || (i > 0 && i%23 == 0):
		return ScenarioResumed
	case i >= 16 && i%29 == 16:
		return ScenarioReturned
	}
	return ""
}

// Generate writes o.Cases case folders (case-0001, ...) under out, which
// must be empty or absent; it writes nothing else there, so that every
// entry of out is a case folder.
func Generate(out string, o Options) ([]Case, error) {
	if o.Cases == 0 {
		o.Cases = 10
	}
	if o.Cases < 0 || o.Cases > 1000000 {
		return nil, fmt.Errorf("gen: %w: %d cases", court.ErrInvalid, o.Cases)
	}
	if o.Court == "" {
		o.Court = "京0105"
	}
	if err := o.Court.Validate(); err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	if o.RefDate.IsZero() {
		o.RefDate = court.DateOf(time.Now())
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("gen: %s is not empty; choose a new directory", out)
	}
	g := &generator{
		r:      rand.New(rand.NewPCG(o.Seed, 0x636f7572746d6573)),
		o:      o,
		seq:    map[int]int{},
		others: otherCourts(o.Court),
	}
	// One debtor for the gathered cases.
	g.debtor = g.legalParty("p2", court.RoleRespondent)
	var out2 []Case
	for i := range o.Cases {
		c, err := g.writeCase(out, i)
		if err != nil {
			return nil, err
		}
		out2 = append(out2, c)
	}
	return out2, nil
}

type generator struct {
	r      *rand.Rand
	o      Options
	seq    map[int]int // next case sequence per year
	others []court.CourtCode
	debtor importer.PartyFile
}

func otherCourts(self court.CourtCode) []court.CourtCode {
	var out []court.CourtCode
	for _, c := range court.KnownCourts() {
		if c != self && c.Level() == court.LevelBasic {
			out = append(out, c)
		}
	}
	if len(out) < 2 {
		out = append(out, "京0101", "京0102")
	}
	return out
}

func (g *generator) between(a, b int) int { return a + g.r.IntN(b-a+1) }

var (
	surnames  = []string{"张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"}
	ordinals  = []string{"甲", "乙", "丙", "丁", "戊", "己", "庚", "辛", "壬", "癸"}
	trades    = []string{"科技", "贸易", "建设", "实业", "物流", "投资", "商贸", "置业", "餐饮", "文化传媒"}
	assetMix  = []court.AssetClass{court.AssetDeposit, court.AssetDeposit, court.AssetDeposit, court.AssetRealEstate, court.AssetVehicle, court.AssetEquity, court.AssetSecurities, court.AssetOnlinePayment, court.AssetReceivable, court.AssetIP, court.AssetVessel}
	bankNames = []string{"某某银行北京分行", "某某商业银行朝阳支行", "某某农村商业银行", "某某银行股份有限公司"}
)

func (g *generator) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

// residentID returns an 18-digit resident ID with region prefix 99 (not
// assigned to any place) and a valid GB 11643 check digit.
func (g *generator) residentID() string {
	birth := court.Date{Year: g.between(1955, 2000), Month: time.Month(g.between(1, 12)), Day: g.between(1, 28)}
	body := fmt.Sprintf("99%s%04d%02d%02d%s", g.digits(4), birth.Year, int(birth.Month), birth.Day, g.digits(3))
	return body + string(court.ResidentIDCheck(body))
}

// creditCode returns a unified social credit code whose division code
// starts with 99 and whose GB 32100 check character is valid.
func (g *generator) creditCode() string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	org := make([]byte, 9)
	for i := range org {
		org[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	body := "9199" + g.digits(4) + string(org)
	return body + string(court.CreditCodeCheck(body))
}

func (g *generator) phone() string {
	return fmt.Sprintf("13%d****%s", g.r.IntN(10), g.digits(4))
}

func (g *generator) naturalParty(id string, role court.PartyRole) importer.PartyFile {
	return importer.PartyFile{ID: id, Role: string(role), Kind: string(court.PartyNatural),
		Name:   surnames[g.r.IntN(len(surnames))] + "某" + ordinals[g.r.IntN(len(ordinals))],
		IDType: string(court.IDResident), IDNumber: g.residentID(), Phone: g.phone()}
}

func (g *generator) legalParty(id string, role court.PartyRole) importer.PartyFile {
	name := "某某" + trades[g.r.IntN(len(trades))] + "有限公司"
	if g.r.IntN(2) == 0 {
		name = "某某" + ordinals[g.r.IntN(len(ordinals))] + trades[g.r.IntN(len(trades))] + "有限公司"
	}
	return importer.PartyFile{ID: id, Role: string(role), Kind: string(court.PartyLegal),
		Name: name, IDType: string(court.IDCreditCode), IDNumber: g.creditCode()}
}

func (g *generator) party(id string, role court.PartyRole) importer.PartyFile {
	if g.r.IntN(5) < 3 {
		return g.naturalParty(id, role)
	}
	return g.legalParty(id, role)
}

// effectiveFor returns the effective date of a full-term measure on class
// c ending on expiry.
func effectiveFor(c court.AssetClass, expiry court.Date) court.Date {
	return expiry.AddDate(0, 0, 1).AddDate(-court.MaxMeasureDuration(c), 0, 0)
}

func primaryKind(c court.AssetClass) court.MeasureKind {
	switch c {
	case court.AssetRealEstate, court.AssetVehicle, court.AssetVessel, court.AssetOther:
		return court.MeasureSeal
	}
	return court.MeasureFreeze
}

type caseBuilder struct {
	g       *generator
	f       importer.CaseFile
	noticed court.Date
	docs    []docSpec
	nm      int
}

type docSpec struct {
	id, kind, title string
	lines           []string
}

func (b *caseBuilder) doc(kind, title string, lines ...string) string {
	id := fmt.Sprintf("d%d", len(b.docs)+1)
	b.docs = append(b.docs, docSpec{id: id, kind: kind, title: title, lines: lines})
	return id
}

func (b *caseBuilder) measureID() string {
	b.nm++
	return fmt.Sprintf("m%d", b.nm)
}

// addMeasures adds the measure chain on an asset so that the active
// measure expires on expiry: if a full term ending then would start
// before the enforcement notice, earlier measures renewed in turn lead up
// to it.
func (b *caseBuilder) addMeasures(a importer.AssetFile, class court.AssetClass, expiry court.Date, holder court.CourtCode) {
	type link struct{ eff, exp court.Date }
	chain := []link{{effectiveFor(class, expiry), expiry}}
	for chain[0].eff.Before(b.noticed) {
		exp := chain[0].eff.AddDate(0, 0, -1)
		eff := effectiveFor(class, exp)
		if eff.Before(b.noticed) {
			eff = b.noticed
		}
		if exp.Before(eff) {
			chain[0].eff = b.noticed
			break
		}
		chain = append([]link{{eff, exp}}, chain...)
	}
	prev := ""
	for i, l := range chain {
		kind := primaryKind(class)
		if i > 0 {
			kind = court.MeasureRenewal
		}
		status := court.MeasureActive
		if i < len(chain)-1 {
			status = court.MeasureRenewed
		}
		id := b.measureID()
		doc := b.doc("ruling", fmt.Sprintf("%s裁定书 (%s)", kind.Label(), a.Description),
			fmt.Sprintf("Ruling: %s of asset %s (%s)", kind, a.ID, class),
			fmt.Sprintf("Effective %s, expires %s", l.eff, l.exp))
		m := importer.MeasureFile{ID: id, Kind: string(kind), Asset: a.ID, Effective: l.eff.String(), Expiry: l.exp.String(),
			Renews: prev, Status: string(status), Court: string(holder), Document: doc}
		b.f.Measures = append(b.f.Measures, m)
		prev = id
	}
}

func (g *generator) writeCase(out string, i int) (Case, error) {
	ref := g.o.RefDate
	filed := ref.AddDate(0, 0, -g.between(190, 1000))
	applied := filed.AddDate(0, 0, -g.between(0, 7))
	titleEff := applied.AddDate(0, 0, -g.between(15, 700))
	noticed := filed.AddDate(0, 0, g.between(1, 10))
	sc := scenarioOf(i)
	typ := court.TypeEnforcement
	status := court.StatusActive
	if sc == ScenarioResumed {
		typ = court.TypeResumed // 终本 earlier, resumed now
	}
	g.seq[filed.Year]++
	n := court.CaseNumber{Year: filed.Year, Court: g.o.Court, Type: typ, Seq: g.seq[filed.Year]}
	issuer, ok := court.KnownCourtName(g.o.Court)
	if !ok {
		issuer = string(g.o.Court) + "人民法院"
	}
	titleNo := court.CaseNumber{Year: titleEff.Year, Court: g.o.Court, Type: court.TypeCivilFirst, Seq: g.between(1, 30000)}
	b := &caseBuilder{g: g, noticed: noticed}
	b.f = importer.CaseFile{
		Format: importer.Format, CaseNumber: n.String(), Court: string(g.o.Court), Status: string(status),
		Filed: filed.String(), Applied: applied.String(), Noticed: noticed.String(),
		ClaimFen: int64(g.between(5000, 50000000)) * 100,
		Title:    importer.TitleFile{Kind: "judgment", CaseNumber: titleNo.String(), Issuer: issuer, Effective: titleEff.String()},
	}
	// The property searches after the notice (no draw from the random
	// source: the rest of the case stays what it was before searches
	// were generated).
	for _, sr := range []struct {
		after  int
		source string
	}{{1, "national_search"}, {30, "local_link"}} {
		if on := noticed.AddDate(0, 0, sr.after); !on.After(ref) {
			b.f.Searches = append(b.f.Searches, importer.SearchFile{On: on.String(), Source: sr.source})
		}
	}
	asciiNo := fmt.Sprintf("(%d) %s enforcement no. %d", n.Year, g.o.Court.Province(), n.Seq)
	b.doc("title", "民事判决书", "SYNTHETIC TEST DOCUMENT - not a real judgment", "Civil judgment "+fmt.Sprint(titleNo.Year), "Effective "+titleEff.String())
	b.doc("application", "申请执行书", "Application for enforcement", asciiNo, "Applied "+applied.String())
	b.doc("notice", "执行通知书", "Enforcement notice", asciiNo, "Served "+noticed.String())
	b.doc("report_order", "报告财产令", "Order to report assets", asciiNo)
	b.doc("search_result", "网络查控结果", "Online asset search results (national search system)", asciiNo)
	if typ == court.TypeResumed {
		b.doc("conclusion", "终结本次执行程序裁定书", "Ruling concluding the current procedure", asciiNo)
		b.doc("resumption", "恢复执行立案通知", "Notice of resumed enforcement", asciiNo)
	}

	applicant := g.party("p1", court.RoleApplicant)
	debtor := g.party("p2", court.RoleRespondent)
	if sc == ScenarioGathered {
		debtor = g.debtor
	}
	b.f.Parties = []importer.PartyFile{applicant, debtor}
	if g.r.IntN(4) == 0 {
		b.f.Parties = append(b.f.Parties, g.naturalParty("p3", court.RoleRespondent))
	}

	nAssets := g.between(1, 3)
	for k := range nAssets {
		a, class := g.asset(i, k)
		b.f.Assets = append(b.f.Assets, a)
		g.measures(b, i, k, sc, a, class)
	}
	b.doc("assist_notice", "协助执行通知书", "Notice to assisting bodies", asciiNo)

	return g.writeCaseDir(b, out, i, n, sc, asciiNo)
}

// asset draws the k-th asset of case i (the first two cases get the
// scenario's deposit and real estate).
func (g *generator) asset(i, k int) (importer.AssetFile, court.AssetClass) {
	class := assetMix[g.r.IntN(len(assetMix))]
	if i == 0 && k == 0 {
		class = court.AssetDeposit
	}
	if i == 1 && k == 0 {
		class = court.AssetRealEstate
	}
	a := importer.AssetFile{ID: fmt.Sprintf("a%d", k+1), Class: string(class), Owner: "p2", Source: "national_search", ValueFen: int64(g.between(1000, 900000000)) * 100}
	switch class {
	case court.AssetDeposit:
		a.Description = bankNames[g.r.IntN(len(bankNames))] + "活期存款账户"
		a.Account = "9999" + g.digits(15)
	case court.AssetOnlinePayment:
		a.Description = "某某支付平台账户"
		a.Account = "9999" + g.digits(12)
	case court.AssetRealEstate:
		a.Description = "某某小区某号楼某单元住宅"
		a.Source = "local_link"
	case court.AssetVehicle:
		a.Description = "小型轿车一辆 (京A*****)"
	case court.AssetVessel:
		a.Description = "货船一艘"
	case court.AssetEquity:
		a.Description = "某某有限公司 20% 股权"
	case court.AssetSecurities:
		a.Description = "证券账户内股票"
		a.Account = "9999" + g.digits(8)
	case court.AssetReceivable:
		a.Description = "对某某公司的应收账款"
		a.Source = "applicant_lead"
	case court.AssetIP:
		a.Description = "注册商标专用权一项"
	}
	return a, class
}

// measures adds the measures on asset a, the k-th of case i: its own
// measure chain expiring at a drawn date, or for the second case's first
// asset a waiting-line chain across three courts.
func (g *generator) measures(b *caseBuilder, i, k int, sc Scenario, a importer.AssetFile, class court.AssetClass) {
	ref := g.o.RefDate
	term := court.LegalExpiry(class, ref)
	days := ref.DaysUntil(term)
	var d int
	switch {
	case i == 0 && k == 0:
		d = 20 // the scenario: a freeze 20 days from expiry
	case g.r.IntN(4) == 0:
		d = g.between(0, 30)
	default:
		d = g.between(31, days)
	}
	if sc == ScenarioReturned && d <= 40 {
		// Nothing holds this handover back (no draw: the cases
		// after it stay what they were).
		d += 45
	}
	expiry := ref.AddDate(0, 0, d)
	if i == 1 && k == 0 {
		// Waiting-line chain across three courts: another court holds
		// the first seizure, this court waits first, a third second.
		first, third := g.others[0], g.others[1]
		b.addMeasures(a, class, expiry, first)
		for rank, holder := range []court.CourtCode{g.o.Court, third} {
			eff := ref.AddDate(0, 0, -g.between(10, 150))
			id := b.measureID()
			doc := b.doc("ruling", "轮候查封裁定书", "Ruling: waiting-line seizure", fmt.Sprintf("Rank %d, held by %s", rank+1, holder))
			b.f.Measures = append(b.f.Measures, importer.MeasureFile{ID: id, Kind: string(court.MeasureWaiting), Asset: a.ID,
				Effective: eff.String(), Rank: rank + 1, Status: string(court.MeasureActive), Court: string(holder), Document: doc})
		}
		return
	}
	b.addMeasures(a, class, expiry, g.o.Court)
	if class == court.AssetDeposit && g.r.IntN(5) == 0 {
		eff := ref.AddDate(0, 0, -g.between(1, 60))
		doc := b.doc("ruling", "扣划裁定书", "Ruling: deduction of frozen funds")
		b.f.Measures = append(b.f.Measures, importer.MeasureFile{ID: b.measureID(), Kind: string(court.MeasureDeduct), Asset: a.ID,
			Effective: eff.String(), Status: string(court.MeasureExecuted), Document: doc})
	}
}

// writeCaseDir writes case i (number n) under out: its documents as
// PDFs and its case.json, and for a case returned incomplete its
// supplement folder.
func (g *generator) writeCaseDir(b *caseBuilder, out string, i int, n court.CaseNumber, sc Scenario, asciiNo string) (Case, error) {
	dir := filepath.Join(out, fmt.Sprintf("case-%04d", i+1))
	if err := os.MkdirAll(filepath.Join(dir, "docs"), 0o755); err != nil {
		return Case{}, fmt.Errorf("gen: %w", err)
	}
	c := Case{Dir: dir, Number: n, Scenario: sc}
	// A case returned incomplete: the case folder lacks the papers of
	// the missing kinds; the supplement folder holds them all (each
	// document written once, with the same draws as any other case, and
	// copied).
	full := b.f
	if sc == ScenarioReturned {
		c.Missing = slices.Clone(ReturnedMissing)
		c.Supplement = filepath.Join(dir, SupplementDir)
		if err := os.MkdirAll(filepath.Join(c.Supplement, "docs"), 0o755); err != nil {
			return Case{}, fmt.Errorf("gen: %w", err)
		}
	}
	for _, d := range b.docs {
		file := "docs/" + d.id + ".pdf"
		df := importer.DocumentFile{ID: d.id, Kind: d.kind, Title: d.title, File: file}
		full.Documents = append(full.Documents, df)
		missing := slices.Contains(c.Missing, d.kind)
		at := dir
		if c.Supplement != "" {
			at = c.Supplement
		}
		size, err := g.writePDF(filepath.Join(at, filepath.FromSlash(file)), append([]string{"courtmesh synthetic data", asciiNo, d.kind}, d.lines...))
		if err != nil {
			return Case{}, err
		}
		if missing {
			continue
		}
		if at != dir {
			if err := copyFile(filepath.Join(dir, filepath.FromSlash(file)), filepath.Join(at, filepath.FromSlash(file))); err != nil {
				return Case{}, err
			}
		}
		b.f.Documents = append(b.f.Documents, df)
		c.Documents++
		c.Bytes += size
	}
	if err := writeCaseFile(filepath.Join(dir, "case.json"), b.f); err != nil {
		return Case{}, err
	}
	if c.Supplement != "" {
		if err := writeCaseFile(filepath.Join(c.Supplement, "case.json"), full); err != nil {
			return Case{}, err
		}
	}
	return c, nil
}

func writeCaseFile(path string, f importer.CaseFile) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	return nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("gen: %s: %w", dst, err)
	}
	return nil
}

func (g *generator) writePDF(path string, lines []string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("gen: %w", err)
	}
	var seed [32]byte
	for i := range 4 {
		v := g.r.Uint64()
		for j := range 8 {
			seed[i*8+j] = byte(v >> (8 * j))
		}
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	n, err := WritePDF(bw, lines, g.o.DocSize, rand.NewChaCha8(seed))
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("gen: %s: %w", path, err)
	}
	return n, nil
}
