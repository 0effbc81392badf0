package cases

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/importer"
)

// Service is the case service: import, listing, display, verification,
// export, the expiry watch and backup of a court's store, answered in the
// local API's wire types. The node serves it over the API
// (api.RegisterCases); the command line uses it directly when the node is
// stopped, so that both give the same answers. It is safe for concurrent
// use, as the store is.
//
// Errors carry court's kinds (court.ErrNotFound, court.ErrInvalid with
// *importer.ValidationError, court.ErrConflict, ...), each naming the
// case; the API maps them with api.WriteError.
type Service struct {
	court    court.CourtCode
	courtErr error
	db       *storage.DB
	now      func() time.Time
	log      *slog.Logger
	audit    Auditor
	exports  exportRule
	actor    string
}

// Auditor is the audit policy the case room writes through
// (*audit.Service implements it; see node/audit's package comment).
type Auditor interface {
	// Before writes the entry of an action not yet done; an error means
	// the action must not be done.
	Before(e storage.AuditEntry) error
	// After writes the entry of an action done; an error is counted and
	// logged by the auditor.
	After(e storage.AuditEntry) error
}

var _ Auditor = (*audit.Service)(nil)

var _ api.CaseService = (*Service)(nil)

// Deps is what the case service is built from.
type Deps struct {
	// Store is the court's store (required).
	Store *storage.DB
	// Court is the court whose store this is; Import then refuses another
	// court's case. Zero: not known (an uncertified data directory), and
	// any court's case is imported.
	Court court.CourtCode
	// CourtErr, if not nil, says why the court should be known but is
	// not: Import then refuses rather than import unchecked (the other
	// methods work).
	CourtErr error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives the service's events; nil discards them. No personal
	// data is logged.
	Log *slog.Logger
	// Audit receives the audit entries of imports, exports and shows of
	// a case (case.imported, case.exported, case.shown). Nil: an
	// audit.Service over Store, without metrics.
	Audit Auditor
	// DataDir is the node's data directory: nothing is ever exported
	// inside it (the store is encrypted; a plaintext dossier must not sit
	// beside it). Zero: only the other checks apply.
	DataDir string
	// ExportsDir is the only folder exports may be written under
	// (config key exports_dir). Zero: exports are refused, unless
	// AnyExportFolder.
	ExportsDir string
	// AnyExportFolder lets an export go to any folder outside DataDir:
	// the offline command line, which writes with its own user's rights
	// to the folder that user names.
	AnyExportFolder bool
	// Actor names who calls when the request's context does not
	// (api.ActorFrom): for the offline command line "offline cli (uid
	// N)". Zero: "unknown".
	Actor string
}

// New returns the case service over d.Store.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Audit == nil {
		a, _ := audit.New(audit.Deps{Store: d.Store, Log: d.Log}) // fails only when registering a counter
		d.Audit = a
	}
	if d.Actor == "" {
		d.Actor = "unknown"
	}
	return &Service{court: d.Court, courtErr: d.CourtErr, db: d.Store, now: d.Now, log: d.Log, audit: d.Audit,
		exports: exportRule{dataDir: d.DataDir, exportsDir: d.ExportsDir, anyFolder: d.AnyExportFolder}, actor: d.Actor}
}

// who names the caller of ctx for the audit log.
func (c *Service) who(ctx context.Context) string {
	if a := api.ActorFrom(ctx); a != "" {
		return a
	}
	return c.actor
}

// Today is the service's reference date: today in China time.
func (c *Service) Today() court.Date { return court.DateOf(c.now()) }

// checkAbs refuses a path that is empty or relative: the node resolves
// paths itself, in its own working directory, which is not the caller's.
func checkAbs(field, path string) error {
	if path == "" {
		return court.Errorf(court.ErrInvalid, "%s is required: an absolute path on the node's machine", field)
	}
	if !filepath.IsAbs(path) {
		return court.Errorf(court.ErrInvalid, "%s %q is not an absolute path; give the full path (the node does not share your working directory)", field, path)
	}
	return nil
}

// Import validates the case folder or .zip at path and stores it whole,
// or nothing (see importer.Import). maxDoc is the largest document
// accepted (0: the importer's default). If the store fails after writing
// chunks, they are collected at once rather than at the next start.
func (c *Service) Import(ctx context.Context, path string, maxDoc int64) (api.ImportResult, error) {
	if err := checkAbs("path", path); err != nil {
		return api.ImportResult{}, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return api.ImportResult{}, court.Errorf(court.ErrNotFound, "import: %s does not exist on the node's machine; check the path of the case folder or .zip", path)
	}
	p, err := importer.Prepare(ctx, path, importer.Options{MaxDocumentSize: maxDoc, Suite: c.db.Suite()})
	if err != nil {
		return api.ImportResult{}, err
	}
	defer p.Close()
	if c.courtErr != nil {
		return api.ImportResult{}, court.Errorf(court.ErrUnavailable, "import %s: this node's court cannot be read, so it cannot check the case is this court's: %v; nothing was imported", path, c.courtErr)
	}
	if n := p.Case.Version.Number; c.court != "" && n.Court != c.court {
		return api.ImportResult{}, court.Errorf(court.ErrInvalid, "import %s: case %s is a case of %s and this is the store of %s: a court imports only its own cases. "+
			"A case transferred here arrives with `courtmesh dossier fetch TRANSFER` and is filed under the number given at acceptance; nothing was imported", path, n, n.Court, c.court)
	}
	if err := c.checkTransferred(ctx, p.Case); err != nil {
		return api.ImportResult{}, fmt.Errorf("import %s: %w", path, err)
	}
	res, err := c.db.PutCase(ctx, p.Case)
	if err != nil {
		n, gerr := c.db.CollectGarbage(context.WithoutCancel(ctx))
		if gerr != nil {
			c.log.Warn("collecting the chunks of a failed import failed; they go at the next start", "case", p.Case.Version.Number, "reason", gerr)
		} else {
			c.log.Info("removed the chunks of a failed import", "case", p.Case.Version.Number, "chunks", n)
		}
		return api.ImportResult{}, fmt.Errorf("import %s: %w", path, err)
	}
	c.log.Info("case imported", "case", res.Number, "version", res.Version, "unchanged", res.Unchanged, "bytes", res.Bytes)
	// The case is stored: its entry follows (a failure is counted and
	// logged by the auditor, and the import stands).
	_ = c.audit.After(storage.AuditEntry{Event: "case.imported", Outcome: "ok", Case: res.Number.String(),
		Detail: fmt.Sprintf("by %s: version %d (unchanged %t), %d documents", c.who(ctx), res.Version, res.Unchanged, res.Documents)})
	return api.ImportResult{
		Case: res.Number.String(), Version: res.Version, Unchanged: res.Unchanged,
		Documents: res.Documents, Bytes: res.Bytes, Chunks: res.Chunks, NewChunks: res.NewChunks,
		Warnings: p.Warnings,
	}, nil
}

// List returns a page of the cases in the store, all or those in one
// status, in case number order, and the cursor of the next page ("" at
// the end); it reads that page only. The respondents' names are masked
// (court.MaskName): a listing is for finding a case, and it is not
// audited; `case show --reveal` shows the names, audited.
func (c *Service) List(ctx context.Context, q api.CaseQuery) ([]api.CaseSummary, string, error) {
	if q.Status != "" && !q.Status.Valid() {
		return nil, "", court.Errorf(court.ErrInvalid, "status %q: want active, terminated, concluded or transferred", q.Status)
	}
	hs, next, err := c.db.CasesPage(ctx, storage.CaseQuery{Status: q.Status, Cursor: q.Cursor, Limit: q.Limit})
	if err != nil {
		return nil, "", err
	}
	out := make([]api.CaseSummary, 0, len(hs))
	for _, h := range hs {
		resp := make([]string, 0, len(h.Respondents))
		for _, r := range h.Respondents {
			// The kind is not in the index: MaskName keeps an
			// organisation's legal form and a person's surname alike.
			resp = append(resp, court.MaskName(r, court.PartyOther))
		}
		out = append(out, api.CaseSummary{
			Case: h.Number.String(), Court: string(h.Court), Status: string(h.Status), Version: h.Version,
			Respondents: resp, Created: h.Created, Updated: h.Updated,
		})
	}
	return out, next, nil
}

// Show returns the current version of case n; days to expiry are counted
// from asOf. By default personal data is masked: the parties' names
// (court.MaskName), identity and account numbers and phones (their
// stored masked forms), and in asset descriptions and document titles
// names, plates, long numbers and, for property found at a place, the
// address below the district (court.MaskText). With reveal the names and
// descriptions are shown as stored and the identity and account numbers
// are unsealed (phones are stored masked only); reveal needs a purpose.
// Either view is shown only once its case.shown entry, naming the
// caller, the purpose (checked like free text, and refused if it names a
// party) and whether the view was revealed, is in the audit log.
func (c *Service) Show(ctx context.Context, n court.CaseNumber, asOf court.Date, purpose string, reveal bool) (api.CaseDetail, error) {
	if err := checkPurpose(purpose, reveal); err != nil {
		if reveal && strings.TrimSpace(purpose) == "" {
			return api.CaseDetail{}, court.Errorf(court.ErrInvalid, "purpose is required to reveal the personal data of case %s: say why (for example 核对被执行人身份, 办理扣划); it is written to the audit log", n)
		}
		return api.CaseDetail{}, err
	}
	head, v, err := c.db.Case(n)
	if err != nil {
		return api.CaseDetail{}, err
	}
	if err := checkPurposeNames(purpose, v.Parties, v.Assets); err != nil {
		return api.CaseDetail{}, err
	}
	var ids, accounts map[string]string
	if reveal {
		// Unsealed before the entry is written, so that a store that
		// cannot unseal (no enc.key) refuses without a false entry; shown
		// only after it.
		if ids, accounts, err = c.unseal(n, v.Parties, v.Assets); err != nil {
			return api.CaseDetail{}, err
		}
	}
	view := "masked view"
	if reveal {
		view = "revealed: parties' names, identity and account numbers, asset whereabouts"
	}
	if err := c.audit.Before(storage.AuditEntry{Event: "case.shown", Outcome: "ok", Case: n.String(),
		Detail: fmt.Sprintf("by %s, purpose %s: %s", c.who(ctx), quotePurpose(purpose), view)}); err != nil {
		return api.CaseDetail{}, fmt.Errorf("show %s: %w", n, err)
	}
	name, _ := court.KnownCourtName(v.Court)
	d := api.CaseDetail{
		Case: v.Number.String(), Court: string(v.Court), CourtName: name, Status: string(cmp.Or(head.Status, v.Status)), // the head: a closure or 销案 changes it in place
		Version: head.Version, Imported: v.Imported,
		Filed: v.Filed.String(), Applied: v.Applied.String(), Noticed: dateOrEmpty(v.Noticed),
		ClaimFen: v.ClaimFen, AsOf: asOf.String(), Revealed: reveal,
		Title:   api.TitleInfo{Kind: v.Title.Kind, CaseNumber: v.Title.CaseNumber.String(), Issuer: v.Title.Issuer, Effective: v.Title.Effective.String()},
		Parties: []api.PartyInfo{}, Assets: []api.AssetInfo{}, Measures: []api.MeasureInfo{}, Documents: []api.DocInfo{},
	}
	text := func(s string, whereabouts bool) string {
		if reveal {
			return s
		}
		return court.MaskText(s, v.Parties, whereabouts)
	}
	for _, p := range v.Parties {
		pi := api.PartyInfo{
			ID: p.ID, Role: string(p.Role), Kind: string(p.Kind), Name: court.MaskName(p.Name, p.Kind),
			IDType: string(p.IDType), IDMasked: p.IDMasked, Phone: p.Phone,
		}
		if reveal {
			pi.Name, pi.IDNumber = p.Name, ids[p.ID]
		}
		d.Parties = append(d.Parties, pi)
	}
	for _, a := range v.Assets {
		d.Assets = append(d.Assets, api.AssetInfo{
			ID: a.ID, Class: string(a.Class), ClassLabel: a.Class.Label(), Description: text(a.Description, a.Class.Whereabouts()),
			Owner: a.Owner, Source: a.Source, AccountMasked: a.AccountMasked, Account: accounts[a.ID], ValueFen: a.ValueFen,
		})
	}
	for _, m := range v.Measures {
		mi := api.MeasureInfo{
			ID: m.ID, Kind: string(m.Kind), KindLabel: m.Kind.Label(), Asset: m.Asset,
			Effective: m.Effective.String(), Expiry: dateOrEmpty(m.Expiry), Status: string(m.Status),
			Court: string(m.Court), Rank: m.Rank, Renews: m.Renews, Releases: m.Releases, Document: m.Document,
		}
		if !m.Expiry.IsZero() && m.Status == court.MeasureActive {
			left := asOf.DaysUntil(m.Expiry)
			mi.DaysLeft = &left
		}
		d.Measures = append(d.Measures, mi)
	}
	for _, doc := range v.Documents {
		d.Documents = append(d.Documents, api.DocInfo{
			ID: doc.ID, Kind: doc.Kind, Title: text(doc.Title, true), File: text(doc.File, false), Size: doc.Size,
			Chunks: len(doc.Chunks), Hash: doc.Hash.String(),
		})
	}
	return d, nil
}

// unseal opens the sealed identity numbers of parties and account
// numbers of assets of case n, by party and asset id. It needs the
// node's encryption key.
func (c *Service) unseal(n court.CaseNumber, parties []court.Party, assets []court.Asset) (ids, accounts map[string]string, err error) {
	ids, accounts = map[string]string{}, map[string]string{}
	for _, p := range parties {
		if len(p.IDSealed) == 0 {
			continue
		}
		if ids[p.ID], err = c.db.PartyID(n, p.ID); err != nil {
			return nil, nil, fmt.Errorf("reveal case %s: %w", n, err)
		}
	}
	for _, a := range assets {
		if len(a.AccountSealed) == 0 {
			continue
		}
		if accounts[a.ID], err = c.db.AssetAccount(n, a.ID); err != nil {
			return nil, nil, fmt.Errorf("reveal case %s: %w", n, err)
		}
	}
	return ids, accounts, nil
}

// Verify reads back every chunk of the current version of case n and
// checks it.
func (c *Service) Verify(ctx context.Context, n court.CaseNumber) (api.VerifyResult, error) {
	head, _, err := c.db.Case(n)
	if err != nil {
		return api.VerifyResult{}, err
	}
	rep, err := c.db.VerifyCase(ctx, n)
	if err != nil {
		return api.VerifyResult{}, err
	}
	return api.VerifyResult{Case: n.String(), Version: head.Version, Documents: rep.Documents, Chunks: rep.Chunks, Bytes: rep.Bytes}, nil
}

// Export writes the current version of case n, unmasked, to the folder
// out (absent or empty), every chunk verified. out must be under the
// exports folder (or, for the offline command line, anywhere outside the
// data directory: see Deps), and purpose says why (required). Nothing is
// written unless the case.exported entry naming the caller, the case, the
// folder and the purpose is in the audit log first; a failed export
// follows with an entry of outcome failed.
func (c *Service) Export(ctx context.Context, n court.CaseNumber, out, purpose string) (api.ExportResult, error) {
	if err := checkAbs("out", out); err != nil {
		return api.ExportResult{}, err
	}
	if err := checkPurpose(purpose, true); err != nil {
		return api.ExportResult{}, err
	}
	out, err := c.exports.check(out)
	if err != nil {
		return api.ExportResult{}, fmt.Errorf("export %s: %w; nothing was written", n, err)
	}
	_, v, err := c.db.Case(n)
	if err != nil {
		return api.ExportResult{}, err
	}
	if err := checkPurposeNames(purpose, v.Parties, v.Assets); err != nil {
		return api.ExportResult{}, err
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return api.ExportResult{}, court.Errorf(court.ErrConflict, "export case %s: %s is not empty; export into a new or empty folder", n, out)
	}
	entry := storage.AuditEntry{Event: "case.exported", Outcome: "ok", Case: n.String(),
		Detail: fmt.Sprintf("by %s, purpose %s: to %s", c.who(ctx), quotePurpose(purpose), out)}
	if err := c.audit.Before(entry); err != nil {
		return api.ExportResult{}, fmt.Errorf("export %s: %w", n, err)
	}
	rep, err := c.db.ExportCase(ctx, n, out)
	if err != nil {
		entry.Outcome, entry.Detail = "failed", entry.Detail+": "+err.Error()
		_ = c.audit.After(entry)
		return api.ExportResult{}, err
	}
	c.log.Info("case exported", "case", n, "documents", rep.Documents)
	return api.ExportResult{Case: n.String(), Out: out, Documents: rep.Documents, Chunks: rep.Chunks, Bytes: rep.Bytes}, nil
}

// MaxWithin bounds the look-ahead of the expiry watch: ten years, longer
// than any legal term.
const MaxWithin = api.MaxWithin

// Expiring lists the active measures expiring within days of asOf (see
// storage.DB.ExpiringMeasures).
func (c *Service) Expiring(ctx context.Context, asOf court.Date, within int) (api.ExpiringResult, error) {
	if within < 0 || within > MaxWithin {
		return api.ExpiringResult{}, court.Errorf(court.ErrInvalid, "within %d: want 0 to %d days", within, MaxWithin)
	}
	ms, err := c.db.ExpiringMeasures(ctx, asOf, within)
	if err != nil {
		return api.ExpiringResult{}, err
	}
	out := api.ExpiringResult{AsOf: asOf.String(), Within: within, Until: asOf.AddDate(0, 0, within).String(), Measures: []api.ExpiringMeasure{}}
	for _, m := range ms {
		out.Measures = append(out.Measures, api.ExpiringMeasure{
			Case: m.Case.String(), Measure: m.Measure.ID, Kind: string(m.Measure.Kind), KindLabel: m.Measure.Kind.Label(),
			AssetClass: string(m.AssetClass), AssetClassLabel: m.AssetClass.Label(),
			Effective: m.Measure.Effective.String(), Expiry: m.Measure.Expiry.String(), DaysLeft: m.DaysLeft, Court: string(m.Measure.Court),
		})
	}
	return out, nil
}

// Backup writes a full backup of the store to the new file out.
func (c *Service) Backup(ctx context.Context, out string) (api.BackupResult, error) {
	if err := checkAbs("out", out); err != nil {
		return api.BackupResult{}, err
	}
	size, err := c.db.BackupFile(ctx, out)
	if err != nil {
		return api.BackupResult{}, err
	}
	c.log.Info("store backed up", "bytes", size)
	return api.BackupResult{Out: out, Bytes: size}, nil
}

// dateOrEmpty is d as YYYY-MM-DD, or "" for the zero date.
func dateOrEmpty(d court.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}
