package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/cases"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/importer"
)

func init() {
	register(&command{name: "case", summary: "import, list, show and export enforcement cases in the local store", subs: []*command{
		{name: "import", summary: "import a case folder or .zip (case.json + documents)", run: runCaseImport},
		{name: "list", summary: "list the cases in the store", run: runCaseList},
		{name: "show", summary: "show one case (personal data masked; --reveal --purpose WHY unmasks it, audited)", run: runCaseShow},
		{name: "export", summary: "write a case back out as a folder, documents verified", run: runCaseExport},
		{name: "codes", summary: "issue the parties' query codes (查询码) for the party service, printed once", run: runCaseCodes},
	}})
}

// newFlags returns a flag set writing its usage to c.stderr, with the
// --data flag every store command takes.
func newFlags(c *cli, name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("courtmesh "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	localFlags(fs)
	data := fs.String("data", "", "the node's data directory (holds enc.key, store.key and store/)")
	return fs, data
}

// errHelp is returned by parseFlags after -h or --help printed a
// command's flags: the caller must stop, and main exits 0.
var errHelp = errors.New("help shown")

// parseFlags parses args into fs. It returns errHelp after -h (usage
// printed), errUsage after a bad flag (message and usage printed), and
// nil otherwise; callers return any error unchanged.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return errUsage
	}
	return nil
}

// openStore opens the store of a data directory with the node's
// encryption key (optional when needKey is false). Only for a stopped
// node: see openCases.
func openStore(data string, needKey bool) (*storage.DB, error) {
	if data == "" {
		return nil, errorf("--data is required: the node's data directory")
	}
	var dec crypto.Decrypter
	k, err := crypto.LoadDecrypter(filepath.Join(data, crypto.EncKeyFile))
	switch {
	case err == nil:
		dec = k
	case needKey:
		return nil, errorf("%w (run courtmesh init first)", err)
	}
	suite, err := datadir.Dir(data).Suite()
	if err != nil {
		return nil, err
	}
	o := storage.Options{Decrypter: dec, Suite: suite, Reserve: diskReserve(data)}
	if cfg, err := config.Load(datadir.Dir(data).Path(datadir.ConfigFile)); err == nil {
		if o.Chunks, err = cfg.ChunkStore.Open(suite); err != nil {
			return nil, err
		}
	}
	if free, err := storage.FreeSpace(data); err == nil && free >= 0 && free < max(o.Reserve, 0) && fileExists(filepath.Join(data, storage.StoreDir)) {
		// A store opened for writing on a full disk dies inside Badger
		// (SIGBUS on its memory-mapped files): read what can be read.
		o.ReadOnly = true
		fprintf(os.Stderr, "courtmesh: only %s free on the disk of %s (reserve %s): the store is opened read-only; commands that write are refused until space is freed\n",
			storage.HumanBytes(free), data, storage.HumanBytes(o.Reserve))
	}
	db, err := storage.Open(data, o)
	if errors.Is(err, storage.ErrInUse) {
		return nil, errorf("%w\nAnother process holds the store: if the node of %s is starting, wait until `courtmesh status --data %s` answers and run the command again (it then goes through the node)", err, data, data)
	}
	return db, err
}

// diskReserve is the data directory's disk_reserve (the default if its
// config cannot be read), as storage.Options.Reserve takes it.
func diskReserve(data string) int64 {
	cfg, err := config.Load(datadir.Dir(data).Path(datadir.ConfigFile))
	if err != nil {
		return 0
	}
	if cfg.DiskReserve.N == 0 {
		return -1
	}
	return cfg.DiskReserve.N
}

// nodeRunning reports whether the node of the data directory answers on
// its API socket.
func nodeRunning(data string) bool {
	conn, err := net.DialTimeout("unix", datadir.Dir(data).Path(datadir.SocketFile), 2*time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// caseStore is how a store command reaches the court's store: through the
// running node's local API (Badger allows one process per store, and the
// node holds it), or, with the node stopped, by opening the store here.
// Both give the same answers and the same errors (cases.Service serves
// both); Close releases the store or the client.
type caseStore interface {
	Import(ctx context.Context, path string, maxDoc int64) (api.ImportResult, error)
	List(ctx context.Context, q api.CaseQuery) ([]api.CaseSummary, string, error)
	Show(ctx context.Context, n court.CaseNumber, asOf court.Date, purpose string, reveal bool) (api.CaseDetail, error)
	Export(ctx context.Context, n court.CaseNumber, out, purpose string) (api.ExportResult, error)
	Expiring(ctx context.Context, asOf court.Date, within int) (api.ExpiringResult, error)
	Backup(ctx context.Context, out string) (api.BackupResult, error)
	Close() error
}

// openCases returns the API of the node of data if it runs, else the
// store opened directly (with the encryption key if needKey).
func openCases(data string, needKey bool) (caseStore, error) {
	if data == "" {
		return nil, errorf("--data is required: the node's data directory")
	}
	if nodeRunning(data) {
		cl, err := client(data)
		if err != nil {
			return nil, err
		}
		return remoteCases{cl}, nil
	}
	db, err := openStore(data, needKey)
	if err != nil {
		return nil, err
	}
	// The offline command line writes an export with its own user's
	// rights where that user names, never inside the data directory; the
	// audit log names that user.
	deps := cases.Deps{Store: db, DataDir: data, AnyExportFolder: true, Actor: fmt.Sprintf("offline cli (uid %d)", os.Getuid())}
	d := datadir.Dir(data)
	code, err := d.Court()
	switch {
	case err == nil:
		deps.Court = code
	case fileExists(d.Path(datadir.BundleFile)):
		// Certified once, but its court cannot be read now: imports are
		// refused rather than left unchecked (other commands work).
		deps.CourtErr = errorf("%s: %w; check it with `courtmesh doctor --data %s`", d.Path(datadir.BundleFile), err, data)
	}
	// Not certified yet: there is no court to hold imports to.
	return localCases{cases.New(deps), db}, nil
}

// localCases is the store opened in this process.
type localCases struct {
	*cases.Service
	db *storage.DB
}

func (l localCases) Close() error { return l.db.Close() }

// remoteCases is the running node's API.
type remoteCases struct{ cl *api.Client }

func (r remoteCases) do(ctx context.Context, method, path string, body, out any) error {
	return fromAPI(r.cl.Do(ctx, method, path, body, out))
}

func (r remoteCases) Import(ctx context.Context, path string, maxDoc int64) (api.ImportResult, error) {
	var res api.ImportResult
	err := r.do(ctx, "POST", "/v1/cases/import", api.ImportRequest{Path: path, MaxDocumentSize: maxDoc}, &res)
	return res, err
}

func (r remoteCases) List(ctx context.Context, q api.CaseQuery) ([]api.CaseSummary, string, error) {
	var res []api.CaseSummary
	next, err := r.cl.Page(ctx, "/v1/cases"+pageQuery(url.Values{"status": {string(q.Status)}}, q.Cursor, q.Limit), &res)
	return res, next, fromAPI(err)
}

func (r remoteCases) Show(ctx context.Context, n court.CaseNumber, asOf court.Date, purpose string, reveal bool) (api.CaseDetail, error) {
	var res api.CaseDetail
	q := url.Values{"as_of": {asOf.String()}}
	if purpose != "" {
		q.Set("purpose", purpose)
	}
	if reveal {
		q.Set("reveal", "1")
	}
	err := r.do(ctx, "GET", "/v1/cases/"+url.PathEscape(n.String())+"?"+q.Encode(), nil, &res)
	return res, err
}

func (r remoteCases) Export(ctx context.Context, n court.CaseNumber, out, purpose string) (api.ExportResult, error) {
	var res api.ExportResult
	err := r.do(ctx, "POST", "/v1/cases/"+url.PathEscape(n.String())+"/export", api.ExportRequest{Out: out, Purpose: purpose}, &res)
	return res, err
}

func (r remoteCases) Expiring(ctx context.Context, asOf court.Date, within int) (api.ExpiringResult, error) {
	var res api.ExpiringResult
	q := url.Values{"as_of": {asOf.String()}, "within": {fmt.Sprint(within)}}
	err := r.do(ctx, "GET", "/v1/measures/expiring?"+q.Encode(), nil, &res)
	return res, err
}

func (r remoteCases) Backup(ctx context.Context, out string) (api.BackupResult, error) {
	var res api.BackupResult
	err := r.do(ctx, "POST", "/v1/backup", api.BackupRequest{Out: out}, &res)
	return res, err
}

func (r remoteCases) Close() error { return nil }

// remoteError is an API error as the command line reports it: the
// node's message, which is the text the store gives when opened here,
// and the store's error kind, so that errors.Is works alike either way.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// fromAPI turns an *api.Error into a remoteError; other errors pass.
func fromAPI(err error) error {
	var ae *api.Error
	if !errors.As(err, &ae) {
		return err
	}
	var kind error
	switch ae.Code {
	case api.CodeNotFound:
		kind = court.ErrNotFound
	case api.CodeInvalid:
		kind = court.ErrInvalid
	case api.CodeConflict:
		kind = court.ErrConflict
	case api.CodeUnavailable:
		kind = court.ErrUnavailable
	case api.CodeForbidden:
		kind = court.ErrPermission
	default: // a specific code (disk_full, ...): its kind
		kind = court.KindOf(ae)
	}
	return &remoteError{msg: ae.Message, kind: kind}
}

// absPath makes a path flag absolute: the node, which may be the one
// reading or writing it, does not share this working directory.
func absPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	return filepath.Abs(p)
}

func runCaseImport(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "case import")
	maxDoc := fs.Int64("max-doc-size", importer.DefaultMaxDocumentSize, "largest document accepted, in bytes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fprintln(c.stderr, "usage: courtmesh case import --data DIR PATH")
		return errUsage
	}
	path, err := absPath(fs.Arg(0))
	if err != nil {
		return err
	}
	st, err := openCases(*data, true)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.Import(ctx, path, *maxDoc)
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fprintf(c.stderr, "warning: %s\n", w)
	}
	if res.Unchanged {
		fprintf(c.stdout, "%s unchanged (version %d); nothing imported\n", res.Case, res.Version)
		return nil
	}
	fprintf(c.stdout, "%s imported as version %d: %d documents, %d bytes, %d chunks (%d new)\n",
		res.Case, res.Version, res.Documents, res.Bytes, res.Chunks, res.NewChunks)
	return nil
}

func runCaseList(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "case list")
	status := fs.String("status", "", "only cases in this status (active, terminated, concluded, transferred)")
	limit := fs.Int("limit", 0, "cases a page (1 to 1000), in case number order; 0: every case, page after page")
	cursor := fs.String("cursor", "", "continue a listing where the previous page ended (printed after it)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *status != "" && !court.CaseStatus(*status).Valid() {
		return errorf("--status %q: want active, terminated, concluded or transferred", *status)
	}
	if err := checkPageFlag(*limit); err != nil {
		return err
	}
	st, err := openCases(*data, false)
	if err != nil {
		return err
	}
	defer st.Close()
	q := api.CaseQuery{Status: court.CaseStatus(*status), Cursor: *cursor, Limit: *limit}
	cases, next, err := allPages(q.Cursor, *limit, func(cur string, n int) ([]api.CaseSummary, string, error) {
		q.Cursor, q.Limit = cur, n
		return st.List(ctx, q)
	})
	if err != nil {
		return err
	}
	if next != "" {
		// After the page, on stderr: a script reading the JSON on stdout
		// still gets one array.
		defer fprintf(c.stderr, "More cases: add --cursor %s\n", next)
	}
	if *asJSON {
		return printJSON(c.stdout, cases)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fprintln(tw, "CASE\tSTATUS\tVERSION\tRESPONDENTS (masked)\tUPDATED")
	for _, h := range cases {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", h.Case, h.Status, h.Version, strings.Join(h.Respondents, "、"), h.Updated)
	}
	return tw.Flush()
}

func runCaseShow(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "case show")
	asOf := fs.String("today", "", "reference date for days to expiry (YYYY-MM-DD; default today in China time)")
	asJSON := fs.Bool("json", false, "print JSON")
	purpose := fs.String("purpose", "", "why the case is looked at, for the audit log (every show is audited; required with --reveal)")
	reveal := fs.Bool("reveal", false, "show the parties' names, identity and account numbers and the assets' whereabouts unmasked (needs --purpose; audited as case.shown with the purpose)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fprintln(c.stderr, "usage: courtmesh case show --data DIR [--reveal --purpose WHY] CASE-NUMBER")
		return errUsage
	}
	if *reveal && strings.TrimSpace(*purpose) == "" {
		fprintln(c.stderr, "case show --reveal needs --purpose WHY: unmasked personal data is shown only for a stated purpose, which the audit log keeps")
		return errUsage
	}
	n, err := court.ParseCaseNumber(fs.Arg(0))
	if err != nil {
		return err
	}
	today, err := refDate(*asOf)
	if err != nil {
		return err
	}
	// Revealing unseals identity and account numbers: the store needs
	// the node's encryption key.
	st, err := openCases(*data, *reveal)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := st.Show(ctx, n, today, *purpose, *reveal)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, d)
	}
	return printCase(c.stdout, d)
}

// printCase prints a case for a clerk: personal data masked, unless the
// view was revealed.
func printCase(w io.Writer, d api.CaseDetail) error {
	if d.Revealed {
		fprintln(w, "personal data REVEALED (audited): do not copy it into other systems or messages")
	}
	fprintf(w, "案号 %s   court %s %s   status %s   version %d (imported %s)\n", d.Case, d.Court, d.CourtName, d.Status, d.Version, d.Imported)
	fprintf(w, "filed %s  applied %s  noticed %s  claim %d.%02d yuan\n", d.Filed, d.Applied, dash(d.Noticed), d.ClaimFen/100, d.ClaimFen%100)
	fprintf(w, "title: %s %s by %s, effective %s\n", d.Title.Kind, d.Title.CaseNumber, d.Title.Issuer, d.Title.Effective)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if d.Revealed {
		fprintln(tw, "\nPARTY\tROLE\tKIND\tNAME\tID\tPHONE (masked)")
		for _, p := range d.Parties {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Role, p.Kind, p.Name, orMasked(p.IDNumber, p.IDMasked), p.Phone)
		}
		fprintln(tw, "\nASSET\tCLASS\tDESCRIPTION\tACCOUNT\tOWNER")
		for _, a := range d.Assets {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.ClassLabel, a.Description, orMasked(a.Account, a.AccountMasked), a.Owner)
		}
	} else {
		fprintln(tw, "\nPARTY\tROLE\tKIND\tNAME (masked)\tID (masked)\tPHONE (masked)")
		for _, p := range d.Parties {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Role, p.Kind, p.Name, p.IDMasked, p.Phone)
		}
		fprintln(tw, "\nASSET\tCLASS\tDESCRIPTION (masked)\tACCOUNT (masked)\tOWNER")
		for _, a := range d.Assets {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.ClassLabel, a.Description, a.AccountMasked, a.Owner)
		}
	}
	fprintln(tw, "\nMEASURE\tKIND\tASSET\tEFFECTIVE\tEXPIRY\tDAYS LEFT\tSTATUS\tCOURT\tRANK\tRENEWS")
	for _, m := range d.Measures {
		left, rank := "-", ""
		if m.DaysLeft != nil {
			left = fmt.Sprint(*m.DaysLeft)
		}
		if m.Rank > 0 {
			rank = fmt.Sprint(m.Rank)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.KindLabel, m.Asset, m.Effective, dash(m.Expiry), left, m.Status, m.Court, rank, m.Renews)
	}
	fprintln(tw, "\nDOCUMENT\tKIND\tTITLE\tFILE\tBYTES\tCHUNKS")
	for _, doc := range d.Documents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", doc.ID, doc.Kind, doc.Title, doc.File, doc.Size, doc.Chunks)
	}
	return tw.Flush()
}

// orMasked is the revealed value, or the masked one where nothing is
// sealed (a received case keeps only the masked forms of some numbers).
func orMasked(clear, masked string) string {
	if clear != "" {
		return clear
	}
	return masked
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runCaseExport(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "case export")
	out := fs.String("out", "", "directory to write the case folder to (must be empty or absent; never inside the data directory; with the node running, inside its exports_dir)")
	purpose := fs.String("purpose", "", "why the case leaves the store, for the audit log (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *out == "" || *purpose == "" {
		fprintln(c.stderr, "usage: courtmesh case export --data DIR --out FOLDER --purpose WHY CASE-NUMBER")
		return errUsage
	}
	n, err := court.ParseCaseNumber(fs.Arg(0))
	if err != nil {
		return err
	}
	dir, err := absPath(*out)
	if err != nil {
		return err
	}
	st, err := openCases(*data, true)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.Export(ctx, n, dir, *purpose)
	if err != nil {
		return err
	}
	fprintf(c.stdout, "%s exported to %s: %d files, %d bytes, %d chunks verified\n", rep.Case, rep.Out, rep.Documents, rep.Bytes, rep.Chunks)
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
