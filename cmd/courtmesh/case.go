package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/importer"
)

func init() {
	register(&command{name: "case", summary: "import, list, show and export enforcement cases in the local store", subs: []*command{
		{name: "import", summary: "import a case folder or .zip (case.json + documents)", run: runCaseImport},
		{name: "list", summary: "list the cases in the store", run: runCaseList},
		{name: "show", summary: "show one case (personal data masked)", run: runCaseShow},
		{name: "export", summary: "write a case back out as a folder, documents verified", run: runCaseExport},
	}})
}

// newFlags returns a flag set writing its usage to c.stderr, with the
// --data flag every store command takes.
func newFlags(c *cli, name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("courtmesh "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	data := fs.String("data", "", "the node's data directory (holds enc.key, store.key and store/)")
	return fs, data
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	return nil
}

// openStore opens the store of a data directory with the node's
// encryption key (optional when needKey is false).
func openStore(data string, needKey bool) (*storage.DB, error) {
	if data == "" {
		return nil, fmt.Errorf("--data is required: the node's data directory")
	}
	var dec crypto.Decrypter
	k, err := crypto.LoadEncKey(filepath.Join(data, crypto.EncKeyFile))
	switch {
	case err == nil:
		dec = k
	case needKey:
		return nil, fmt.Errorf("%w (run courtmesh init first)", err)
	}
	return storage.Open(data, storage.Options{Decrypter: dec})
}

func runCaseImport(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "case import")
	maxDoc := fs.Int64("max-doc-size", importer.DefaultMaxDocumentSize, "largest document accepted, in bytes")
	if err := parseFlags(fs, args); err != nil || fs.NArg() != 1 {
		if err == nil {
			fmt.Fprintln(c.stderr, "usage: courtmesh case import --data DIR PATH")
			err = errUsage
		}
		return err
	}
	db, err := openStore(*data, true)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := importer.Import(ctx, db, fs.Arg(0), importer.Options{MaxDocumentSize: *maxDoc})
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(c.stderr, "warning:", w)
	}
	if res.Unchanged {
		fmt.Fprintf(c.stdout, "%s unchanged (version %d); nothing imported\n", res.Number, res.Version)
		return nil
	}
	fmt.Fprintf(c.stdout, "%s imported as version %d: %d documents, %d bytes, %d chunks (%d new)\n",
		res.Number, res.Version, res.Documents, res.Bytes, res.Chunks, res.NewChunks)
	return nil
}

func runCaseList(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "case list")
	status := fs.String("status", "", "only cases in this status (active, terminated, concluded, transferred)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *status != "" && !storage.CaseStatus(*status).Valid() {
		return fmt.Errorf("--status %q: want active, terminated, concluded or transferred", *status)
	}
	db, err := openStore(*data, false)
	if err != nil {
		return err
	}
	defer db.Close()
	cases, err := db.Cases(ctx, storage.CaseStatus(*status))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tSTATUS\tVERSION\tRESPONDENTS\tUPDATED")
	for _, h := range cases {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", h.Number, h.Status, h.Version, strings.Join(h.Respondents, "、"), h.Updated)
	}
	return tw.Flush()
}

func runCaseShow(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "case show")
	asOf := fs.String("today", "", "reference date for days to expiry (YYYY-MM-DD; default today in China time)")
	if err := parseFlags(fs, args); err != nil || fs.NArg() != 1 {
		if err == nil {
			fmt.Fprintln(c.stderr, "usage: courtmesh case show --data DIR CASE-NUMBER")
			err = errUsage
		}
		return err
	}
	n, err := court.ParseCaseNumber(fs.Arg(0))
	if err != nil {
		return err
	}
	today, err := refDate(*asOf)
	if err != nil {
		return err
	}
	db, err := openStore(*data, false)
	if err != nil {
		return err
	}
	defer db.Close()
	head, v, err := db.Case(n)
	if err != nil {
		return err
	}
	w := c.stdout
	name, _ := court.KnownCourtName(v.Court)
	fmt.Fprintf(w, "案号 %s   court %s %s   status %s   version %d (imported %s)\n", v.Number, v.Court, name, v.Status, head.Version, v.Imported)
	fmt.Fprintf(w, "filed %s  applied %s  noticed %s  claim %d.%02d yuan\n", v.Filed, v.Applied, v.Noticed, v.ClaimFen/100, v.ClaimFen%100)
	fmt.Fprintf(w, "title: %s %s by %s, effective %s\n", v.Title.Kind, v.Title.CaseNumber, v.Title.Issuer, v.Title.Effective)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPARTY\tROLE\tKIND\tNAME\tID (masked)\tPHONE")
	for _, p := range v.Parties {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Role, p.Kind, p.Name, p.IDMasked, p.Phone)
	}
	fmt.Fprintln(tw, "\nASSET\tCLASS\tDESCRIPTION\tACCOUNT (masked)\tOWNER")
	for _, a := range v.Assets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.Class.Label(), a.Description, a.AccountMasked, a.Owner)
	}
	fmt.Fprintln(tw, "\nMEASURE\tKIND\tASSET\tEFFECTIVE\tEXPIRY\tDAYS LEFT\tSTATUS\tCOURT\tRANK\tRENEWS")
	for _, m := range v.Measures {
		exp, left := "-", "-"
		if !m.Expiry.IsZero() {
			exp = m.Expiry.String()
			if m.Status == storage.MeasureActive {
				left = fmt.Sprint(today.DaysUntil(m.Expiry))
			}
		}
		rank := ""
		if m.Rank > 0 {
			rank = fmt.Sprint(m.Rank)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Kind.Label(), m.Asset, m.Effective, exp, left, m.Status, m.Court, rank, m.Renews)
	}
	fmt.Fprintln(tw, "\nDOCUMENT\tKIND\tTITLE\tFILE\tBYTES\tCHUNKS")
	for _, d := range v.Documents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", d.ID, d.Kind, d.Title, d.File, d.Size, len(d.Chunks))
	}
	return tw.Flush()
}

func runCaseExport(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "case export")
	out := fs.String("out", "", "directory to write the case folder to (must be empty or absent)")
	if err := parseFlags(fs, args); err != nil || fs.NArg() != 1 || *out == "" {
		if err == nil {
			fmt.Fprintln(c.stderr, "usage: courtmesh case export --data DIR --out FOLDER CASE-NUMBER")
			err = errUsage
		}
		return err
	}
	n, err := court.ParseCaseNumber(fs.Arg(0))
	if err != nil {
		return err
	}
	db, err := openStore(*data, true)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := db.ExportCase(ctx, n, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s exported to %s: %d files, %d bytes, %d chunks verified\n", n, *out, rep.Documents, rep.Bytes, rep.Chunks)
	return nil
}
