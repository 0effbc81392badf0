package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/importer"
)

// Cases is the case service: import, listing, display, verification,
// export, the expiry watch and backup of a court's store, answered in the
// local API's wire types. The node serves it over the API; the command
// line uses it directly when the node is stopped, so that both give the
// same answers. It is safe for concurrent use, as the store is.
//
// Errors are the store's and the importer's (storage.ErrNotFound,
// storage.ErrInvalid with *importer.ValidationError, storage.ErrConflict,
// ...), each naming the case; the API maps them with apiError.
type Cases struct {
	// court is the court whose store this is ("" when not known: an
	// uncertified data directory); it imports only its own cases.
	court    court.CourtCode
	courtErr error // why the court is not known, when it should be: imports are refused
	db       *storage.DB
	now      func() time.Time
	log      *slog.Logger
}

// NewCases returns the case service over db. now is the clock (nil:
// time.Now) and log receives the service's events (nil: discarded); no
// personal data is logged.
func NewCases(db *storage.DB, now func() time.Time, log *slog.Logger) *Cases {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cases{db: db, now: now, log: log}
}

// OfCourt sets the court whose store this is: Import then refuses
// another court's case. It returns c.
func (c *Cases) OfCourt(code court.CourtCode) *Cases {
	c.court = code
	return c
}

// CourtUnknown records that this store's court should be known but is
// not (why: err): Import then refuses rather than import unchecked. It
// returns c.
func (c *Cases) CourtUnknown(err error) *Cases {
	c.courtErr = err
	return c
}

// Today is the service's reference date: today in China time.
func (c *Cases) Today() court.Date { return court.DateOf(c.now()) }

// checkAbs refuses a path that is empty or relative: the node resolves
// paths itself, in its own working directory, which is not the caller's.
func checkAbs(field, path string) error {
	if path == "" {
		return court.Errorf(storage.ErrInvalid, "%s is required: an absolute path on the node's machine", field)
	}
	if !filepath.IsAbs(path) {
		return court.Errorf(storage.ErrInvalid, "%s %q is not an absolute path; give the full path (the node does not share your working directory)", field, path)
	}
	return nil
}

// Import validates the case folder or .zip at path and stores it whole,
// or nothing (see importer.Import). maxDoc is the largest document
// accepted (0: the importer's default). If the store fails after writing
// chunks, they are collected at once rather than at the next start.
func (c *Cases) Import(ctx context.Context, path string, maxDoc int64) (api.ImportResult, error) {
	if err := checkAbs("path", path); err != nil {
		return api.ImportResult{}, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return api.ImportResult{}, court.Errorf(storage.ErrNotFound, "import: %s does not exist on the node's machine; check the path of the case folder or .zip", path)
	}
	p, err := importer.Prepare(ctx, path, importer.Options{MaxDocumentSize: maxDoc})
	if err != nil {
		return api.ImportResult{}, err
	}
	defer p.Close()
	if c.courtErr != nil {
		return api.ImportResult{}, court.Errorf(storage.ErrUnavailable, "import %s: this node's court cannot be read, so it cannot check the case is this court's: %v; nothing was imported", path, c.courtErr)
	}
	if n := p.Case.Version.Number; c.court != "" && n.Court != c.court {
		return api.ImportResult{}, court.Errorf(storage.ErrInvalid, "import %s: case %s is a case of %s and this is the store of %s: a court imports only its own cases. "+
			"A case transferred here arrives with `courtmesh dossier fetch TRANSFER` and is filed under the number given at acceptance; nothing was imported", path, n, n.Court, c.court)
	}
	if err := c.checkTransferred(p.Case); err != nil {
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
	return api.ImportResult{
		Case: res.Number.String(), Version: res.Version, Unchanged: res.Unchanged,
		Documents: res.Documents, Bytes: res.Bytes, Chunks: res.Chunks, NewChunks: res.NewChunks,
		Warnings: p.Warnings,
	}, nil
}

// checkTransferred refuses a new version of a case that a transfer has
// taken out of this court's hands, or whose asset updates flow between
// two courts:
//
//   - at the origin, a case handed over (the transfer handed over,
//     received or closed): the receiver enforces it now. A new version
//     here would reach neither the dossier it fetched (fixed by the
//     handover's Merkle root) nor its copy of the assets, would drop the
//     asset updates already made, and would set the status back from
//     transferred (销案) to the file's;
//   - at the receiver, its filed copy while the transfer is received (not
//     yet closed), if the import would change the assets or measures:
//     those change only through asset updates (Node.UpdateAssets), which
//     reach the origin too. Documents and other fields may change.
//
// A re-import that changes nothing goes ahead (PutCase writes nothing).
// Account numbers are compared by their masked form (the sealed ones are
// randomised).
func (c *Cases) checkTransferred(in storage.NewCase) error {
	n := in.Version.Number
	head, cur, err := c.db.Case(n)
	if errors.Is(err, storage.ErrNotFound) {
		// A new case: its number must not be the one a transfer gives
		// the case it is bringing here.
		_, _, reserved, err := c.transfersOf(n)
		if err != nil || reserved == nil {
			return err
		}
		return court.Errorf(storage.ErrConflict, "case number %s is the number this court gave, accepting transfer %s (%s), to the case it brings from %s; "+
			"that case is filed by `courtmesh dossier fetch %s`. Import this case under another number; nothing was imported",
			n, reserved.ID, reserved.State, reserved.Origin, reserved.ID)
	}
	if err != nil {
		return err
	}
	hashes := make([]crypto.DocumentID, len(in.Sources))
	for i, src := range in.Sources {
		hashes[i] = src.Hash
	}
	if head.ContentHash == storage.ContentHash(in.CaseJSON, hashes) {
		return nil
	}
	out, in2, _, err := c.transfersOf(n)
	if err != nil {
		return err
	}
	if out != nil {
		return court.Errorf(storage.ErrConflict, "case %s was handed over to %s in transfer %s (%s): %s enforces it now, and a new version here would reach "+
			"neither the dossier it fetched nor its copy of the assets. Change the assets and measures with `courtmesh assets update %s`; nothing was imported",
			n, out.Receiver, out.ID, out.State, out.Receiver, out.ID)
	}
	if head.Status == court.StatusTransferred { // its transfer is closed
		return court.Errorf(storage.ErrConflict, "case %s was transferred to another court (销案): the court that received it enforces it now, "+
			"and a new version here would reach neither its dossier nor its copy of the assets; nothing was imported", n)
	}
	if in2 == nil {
		return nil
	}
	changed := assetChanges(cur.Assets, cur.Measures, in.Version.Assets, in.Version.Measures)
	if len(changed) == 0 {
		return nil
	}
	if len(changed) > 5 {
		changed = append(changed[:5], fmt.Sprintf("and %d more", len(changed)-5))
	}
	return court.Errorf(storage.ErrConflict, "case %s came from %s in transfer %s (%s): until the transfer is closed its assets and measures change only "+
		"through asset updates, which also reach %s, and this import would change them (%s). Record the changes with "+
		"`courtmesh assets update %s`, or import a case.json whose assets and measures match this court's copy (`courtmesh assets show %s`); nothing was imported",
		n, in2.Origin, in2.ID, in2.State, in2.Origin, strings.Join(changed, ", "), in2.ID, in2.ID)
}

// transfersOf finds the transfers in flight that concern case number n
// here: out handed it over from this court (handed over or received; once
// received, the case is also marked transferred); in brought it here and
// is not closed (handed over or received: the receiver may have filed it
// before its receipt); reserved gave n to a case still to come (accepted,
// or handed over and not yet filed). Only transfers in flight are read,
// so the cost does not grow with the court's history. Case numbers carry
// their court, so n is the origin's number of one and the receiver's of
// the others. Numbers are compared in their normal form (a record may
// carry ASCII brackets).
func (c *Cases) transfersOf(n court.CaseNumber) (out, in, reserved *cmproto.Transfer, err error) {
	same := func(s string) bool {
		m, err := court.ParseCaseNumber(s)
		return err == nil && m == n
	}
	for _, st := range []cmproto.State{cmproto.StateAccepted, cmproto.StateHandedOver, cmproto.StateReceived} {
		raws, err := c.db.Transfers(string(st))
		if err != nil {
			return nil, nil, nil, err
		}
		for _, b := range raws {
			var t cmproto.Transfer
			if err := json.Unmarshal(b, &t); err != nil {
				return nil, nil, nil, fmt.Errorf("a stored transfer: %w", storage.ErrCorrupt)
			}
			switch {
			case st != cmproto.StateAccepted && same(t.CaseNumber):
				out = &t
			case same(t.NewCaseNumber):
				if st != cmproto.StateAccepted {
					in = &t
				}
				reserved = &t
			}
		}
	}
	return out, in, reserved, nil
}

// assetChanges names the assets and measures that differ between the
// current copy (a) and an import (b): added, removed or changed.
func assetChanges(aAssets []court.Asset, aMeasures []court.Measure, bAssets []court.Asset, bMeasures []court.Measure) []string {
	bare := func(as []court.Asset) map[string]court.Asset {
		m := make(map[string]court.Asset, len(as))
		for _, a := range as {
			a.AccountSealed = nil
			m[a.ID] = a
		}
		return m
	}
	byID := func(ms []court.Measure) map[string]court.Measure {
		m := make(map[string]court.Measure, len(ms))
		for _, x := range ms {
			m[x.ID] = x
		}
		return m
	}
	var out []string
	diff := func(what string, inA, inB []string, same func(id string) bool) {
		for _, id := range inA {
			if !slices.Contains(inB, id) {
				out = append(out, fmt.Sprintf("%s %s missing", what, id))
			} else if !same(id) {
				out = append(out, fmt.Sprintf("%s %s changed", what, id))
			}
		}
		for _, id := range inB {
			if !slices.Contains(inA, id) {
				out = append(out, fmt.Sprintf("%s %s added", what, id))
			}
		}
	}
	aa, ba, am, bm := bare(aAssets), bare(bAssets), byID(aMeasures), byID(bMeasures)
	diff("asset", slices.Sorted(maps.Keys(aa)), slices.Sorted(maps.Keys(ba)), func(id string) bool { return reflect.DeepEqual(aa[id], ba[id]) })
	diff("measure", slices.Sorted(maps.Keys(am)), slices.Sorted(maps.Keys(bm)), func(id string) bool { return am[id] == bm[id] })
	return out
}

// List returns the cases in the store, all or those in one status.
func (c *Cases) List(ctx context.Context, status court.CaseStatus) ([]api.CaseSummary, error) {
	if status != "" && !status.Valid() {
		return nil, court.Errorf(storage.ErrInvalid, "status %q: want active, terminated, concluded or transferred", status)
	}
	hs, err := c.db.Cases(ctx, status)
	if err != nil {
		return nil, err
	}
	out := make([]api.CaseSummary, 0, len(hs))
	for _, h := range hs {
		out = append(out, api.CaseSummary{
			Case: h.Number.String(), Court: string(h.Court), Status: string(h.Status), Version: h.Version,
			Respondents: nonNil(h.Respondents), Created: h.Created, Updated: h.Updated,
		})
	}
	return out, nil
}

// Show returns the current version of case n with personal data masked;
// days to expiry are counted from asOf.
func (c *Cases) Show(n court.CaseNumber, asOf court.Date) (api.CaseDetail, error) {
	head, v, err := c.db.Case(n)
	if err != nil {
		return api.CaseDetail{}, err
	}
	name, _ := court.KnownCourtName(v.Court)
	d := api.CaseDetail{
		Case: v.Number.String(), Court: string(v.Court), CourtName: name, Status: string(v.Status),
		Version: head.Version, Imported: v.Imported,
		Filed: v.Filed.String(), Applied: v.Applied.String(), Noticed: dateOrEmpty(v.Noticed),
		ClaimFen: v.ClaimFen, AsOf: asOf.String(),
		Title:   api.TitleInfo{Kind: v.Title.Kind, CaseNumber: v.Title.CaseNumber.String(), Issuer: v.Title.Issuer, Effective: v.Title.Effective.String()},
		Parties: []api.PartyInfo{}, Assets: []api.AssetInfo{}, Measures: []api.MeasureInfo{}, Documents: []api.DocInfo{},
	}
	for _, p := range v.Parties {
		// Never IDSealed: the identity number stays sealed in the store.
		d.Parties = append(d.Parties, api.PartyInfo{
			ID: p.ID, Role: string(p.Role), Kind: string(p.Kind), Name: p.Name,
			IDType: string(p.IDType), IDMasked: p.IDMasked, Phone: p.Phone,
		})
	}
	for _, a := range v.Assets {
		d.Assets = append(d.Assets, api.AssetInfo{
			ID: a.ID, Class: string(a.Class), ClassLabel: a.Class.Label(), Description: a.Description,
			Owner: a.Owner, Source: a.Source, AccountMasked: a.AccountMasked, ValueFen: a.ValueFen,
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
			ID: doc.ID, Kind: doc.Kind, Title: doc.Title, File: doc.File, Size: doc.Size,
			Chunks: len(doc.Chunks), Hash: doc.Hash.String(),
		})
	}
	return d, nil
}

// Verify reads back every chunk of the current version of case n and
// checks it.
func (c *Cases) Verify(ctx context.Context, n court.CaseNumber) (api.VerifyResult, error) {
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

// Export writes the current version of case n to the folder out (absent
// or empty), every chunk verified.
func (c *Cases) Export(ctx context.Context, n court.CaseNumber, out string) (api.ExportResult, error) {
	if err := checkAbs("out", out); err != nil {
		return api.ExportResult{}, err
	}
	rep, err := c.db.ExportCase(ctx, n, out)
	if err != nil {
		return api.ExportResult{}, err
	}
	c.log.Info("case exported", "case", n, "documents", rep.Documents)
	return api.ExportResult{Case: n.String(), Out: out, Documents: rep.Documents, Chunks: rep.Chunks, Bytes: rep.Bytes}, nil
}

// MaxWithin bounds the look-ahead of the expiry watch: ten years, longer
// than any legal term.
const MaxWithin = 3660

// Expiring lists the active measures expiring within days of asOf (see
// storage.DB.ExpiringMeasures).
func (c *Cases) Expiring(ctx context.Context, asOf court.Date, within int) (api.ExpiringResult, error) {
	if within < 0 || within > MaxWithin {
		return api.ExpiringResult{}, court.Errorf(storage.ErrInvalid, "within %d: want 0 to %d days", within, MaxWithin)
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
func (c *Cases) Backup(ctx context.Context, out string) (api.BackupResult, error) {
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

func dateOrEmpty(d court.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// registerCaseAPI adds the case endpoints (see node/api/cases.go) to the
// local API.
func (n *Node) registerCaseAPI() {
	c := NewCases(n.db, n.now, n.log).OfCourt(n.court)
	n.api.Handle("POST /v1/cases/import", func(w http.ResponseWriter, r *http.Request) {
		var req api.ImportRequest
		if !api.DecodeBody(w, r, &req) {
			return
		}
		if req.MaxDocumentSize < 0 {
			api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "max_document_size %d: want a positive number of bytes, or 0 for the default", req.MaxDocumentSize))
			return
		}
		res, err := c.Import(r.Context(), req.Path, req.MaxDocumentSize)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		status := http.StatusCreated
		if res.Unchanged {
			status = http.StatusOK
		}
		api.WriteJSON(w, status, res)
	})
	n.api.Handle("GET /v1/cases", func(w http.ResponseWriter, r *http.Request) {
		if !api.CheckQuery(w, r, "status") {
			return
		}
		res, err := c.List(r.Context(), court.CaseStatus(r.URL.Query().Get("status")))
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, res)
	})
	n.api.Handle("GET /v1/cases/{number}", func(w http.ResponseWriter, r *http.Request) {
		num, ok := api.CaseNumberParam(w, r)
		if !ok || !api.CheckQuery(w, r, "as_of") {
			return
		}
		asOf, ok := api.DateParam(w, r, "as_of", c.Today())
		if !ok {
			return
		}
		res, err := c.Show(num, asOf)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, res)
	})
	n.api.Handle("GET /v1/cases/{number}/verify", func(w http.ResponseWriter, r *http.Request) {
		num, ok := api.CaseNumberParam(w, r)
		if !ok || !api.CheckQuery(w, r) {
			return
		}
		res, err := c.Verify(r.Context(), num)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, res)
	})
	n.api.Handle("POST /v1/cases/{number}/export", func(w http.ResponseWriter, r *http.Request) {
		num, ok := api.CaseNumberParam(w, r)
		if !ok {
			return
		}
		var req api.ExportRequest
		if !api.DecodeBody(w, r, &req) {
			return
		}
		res, err := c.Export(r.Context(), num, req.Out)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, res)
	})
	n.api.Handle("GET /v1/measures/expiring", func(w http.ResponseWriter, r *http.Request) {
		if !api.CheckQuery(w, r, "within", "as_of") {
			return
		}
		asOf, ok := api.DateParam(w, r, "as_of", c.Today())
		if !ok {
			return
		}
		within := 30
		if s := r.URL.Query().Get("within"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil {
				api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "query parameter within=%q: want a whole number of days (0 to %d)", s, MaxWithin))
				return
			}
			within = v
		}
		res, err := c.Expiring(r.Context(), asOf, within)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, res)
	})
	n.api.Handle("POST /v1/backup", func(w http.ResponseWriter, r *http.Request) {
		var req api.BackupRequest
		if !api.DecodeBody(w, r, &req) {
			return
		}
		res, err := c.Backup(r.Context(), req.Out)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusCreated, res)
	})
}
