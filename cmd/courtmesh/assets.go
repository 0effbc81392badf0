package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
)

func init() {
	register(&command{name: "assets", summary: "follow and change the assets and measures of transferred cases", subs: []*command{
		{name: "list", summary: "list a transferred case's measures by days to expiry (no TRANSFER: all transferred cases' measures expiring soon)", run: runAssetsList},
		{name: "show", summary: "show a transferred case's assets and measures as this court holds them", run: runAssetsShow},
		{name: "watch", summary: "print a transferred case's measures, then every change, until Ctrl-C", run: runAssetsWatch},
		{name: "update", summary: "record a change (search result, renewal, release, disposal, lapse) and send it to the other court", run: runAssetsUpdate},
	}})
}

func assetsGet(ctx context.Context, data, id, what, asOf string) (api.TransferAssets, error) {
	var res api.TransferAssets
	cl, err := client(data)
	if err != nil {
		return res, err
	}
	path := "/v1/transfers/" + url.PathEscape(id) + "/" + what
	if asOf != "" {
		path += "?as_of=" + url.QueryEscape(asOf)
	}
	return res, cl.Do(ctx, "GET", path, nil, &res)
}

func runAssetsList(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "assets list")
	within := fs.Int("within", 30, "without TRANSFER: days ahead to look")
	asOf := fs.String("today", "", "reference date (YYYY-MM-DD; default today in China time)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
		return listAlerts(ctx, c, *data, *within, *asOf, *asJSON)
	case 1:
	default:
		return usagef("usage: courtmesh assets list --data DIR [--within DAYS] [TRANSFER]")
	}
	res, err := assetsGet(ctx, *data, fs.Arg(0), "measures", *asOf)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, res)
	}
	fprintf(c.stdout, "Case %s (%s of transfer %s), as of %s\n", res.Case, res.Role, res.Transfer, res.AsOf)
	return printMeasures(c.stdout, res.Measures)
}

func listAlerts(ctx context.Context, c *cli, data string, within int, asOf string, asJSON bool) error {
	cl, err := client(data)
	if err != nil {
		return err
	}
	q := url.Values{"within": {strconv.Itoa(within)}}
	if asOf != "" {
		q.Set("as_of", asOf)
	}
	var res api.MeasureAlerts
	if err := cl.Do(ctx, "GET", "/v1/alerts/measures?"+q.Encode(), nil, &res); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c.stdout, res)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fprintln(tw, "DAYS LEFT\tEXPIRY\tTRANSFER\tROLE\tCASE\tMEASURE\tKIND\tASSET CLASS")
	for _, m := range res.Measures {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.DaysLeft, m.Expiry, m.Transfer, m.Role, m.Case, m.Measure, m.KindLabel, m.AssetClassLabel)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fprintf(c.stderr, "%d active measure(s) of transferred cases expire by %s\n", len(res.Measures), res.Until)
	return nil
}

func printMeasures(w io.Writer, ms []api.MeasureInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fprintln(tw, "DAYS LEFT\tEXPIRY\tMEASURE\tKIND\tASSET\tSTATUS\tCOURT\tLINK")
	for _, m := range ms {
		left := "-"
		if m.DaysLeft != nil {
			left = strconv.Itoa(*m.DaysLeft)
		}
		link := ""
		switch {
		case m.Renews != "":
			link = sprintf("renews %s", m.Renews)
		case m.Releases != "":
			link = sprintf("releases %s", m.Releases)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", left, orDash(m.Expiry), m.ID, m.KindLabel, m.Asset, m.Status, m.Court, link)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printAssets(w io.Writer, res api.TransferAssets) error {
	fprintf(w, "Case %s (%s of transfer %s), as of %s\n", res.Case, res.Role, res.Transfer, res.AsOf)
	fprintf(w, "Asset updates: %d sent, %d received and applied, %d waiting\n\n", res.Issued, res.Applied, res.Pending)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fprintln(tw, "ASSET\tCLASS\tSOURCE\tACCOUNT\tVALUE\tDESCRIPTION")
	for _, a := range res.Assets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.ClassLabel, a.Source, orDash(a.AccountMasked), yuan(a.ValueFen), a.Description)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return printMeasures(w, res.Measures)
}

func runAssetsShow(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "assets show")
	asOf := fs.String("today", "", "reference date (YYYY-MM-DD; default today in China time)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("usage: courtmesh assets show --data DIR TRANSFER")
	}
	res, err := assetsGet(ctx, *data, fs.Arg(0), "assets", *asOf)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, res)
	}
	return printAssets(c.stdout, res)
}

func runAssetsWatch(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "assets watch")
	every := fs.Duration("every", 5*time.Second, "how often to ask the node")
	once := fs.Bool("once", false, "print the current state and stop")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("usage: courtmesh assets watch --data DIR [--every 5s] [--once] TRANSFER")
	}
	if *every < time.Second {
		return errorf("--every %v: at least 1s", *every)
	}
	res, err := assetsGet(ctx, *data, fs.Arg(0), "assets", "")
	if err != nil {
		return err
	}
	if err := printAssets(c.stdout, res); err != nil || *once {
		return err
	}
	t := time.NewTicker(*every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil // Ctrl-C
		case <-t.C:
		}
		next, err := assetsGet(ctx, *data, fs.Arg(0), "assets", "")
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fprintf(c.stderr, "%s  %v (retrying)\n", time.Now().Format(time.TimeOnly), err)
			continue
		}
		for _, line := range assetChanges(res, next) {
			fmt.Fprintf(c.stdout, "%s  %s\n", time.Now().Format(time.TimeOnly), line)
		}
		res = next
	}
}

// assetChanges describes what changed between two views of a case.
func assetChanges(prev, next api.TransferAssets) []string {
	var out []string
	had := map[string]api.AssetInfo{}
	for _, a := range prev.Assets {
		had[a.ID] = a
	}
	for _, a := range next.Assets {
		if _, ok := had[a.ID]; !ok {
			out = append(out, sprintf("new asset %s: %s, %s (source %s)", a.ID, a.ClassLabel, a.Description, a.Source))
		}
	}
	was := map[string]api.MeasureInfo{}
	for _, m := range prev.Measures {
		was[m.ID] = m
	}
	for _, m := range next.Measures {
		o, ok := was[m.ID]
		switch {
		case !ok && m.Expiry != "":
			out = append(out, sprintf("new measure %s: %s on %s, %s to %s, %s", m.ID, m.KindLabel, m.Asset, m.Effective, m.Expiry, m.Status))
		case !ok:
			out = append(out, sprintf("new measure %s: %s on %s, %s, %s", m.ID, m.KindLabel, m.Asset, m.Effective, m.Status))
		case o.Status != m.Status || o.Expiry != m.Expiry || o.Court != m.Court:
			out = append(out, sprintf("measure %s (%s on %s): %s -> %s, expiry %s -> %s", m.ID, m.KindLabel, m.Asset, o.Status, m.Status, orDash(o.Expiry), orDash(m.Expiry)))
		}
	}
	if prev.Applied != next.Applied || prev.Pending != next.Pending || prev.Issued != next.Issued {
		out = append(out, sprintf("asset updates: %d sent, %d received and applied, %d waiting", next.Issued, next.Applied, next.Pending))
	}
	return out
}

func runAssetsUpdate(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "assets update")
	var req api.AssetChange
	fs.StringVar(&req.Kind, "kind", "", "search_result, renewal (续行), release (解除), disposal (扣划/auction), lapse, or other (a new measure on an asset held)")
	fs.StringVar(&req.Measure, "measure", "", "the measure renewed, released, carried out or lapsed")
	fs.StringVar(&req.NewMeasure, "new-measure", "", "id of the measure the change creates (default: scoped to this court and the update, e.g. m-o3)")
	fs.StringVar(&req.MeasureKind, "measure-kind", "", "the measure taken: seal, detain, freeze, waiting (other; search_result optionally)")
	fs.StringVar(&req.AssetID, "asset", "", "other: the asset the new measure is on")
	fs.StringVar(&req.Effective, "effective", "", "YYYY-MM-DD the new measure takes effect (default today; renewal: the day after the old expiry)")
	fs.StringVar(&req.Expiry, "expiry", "", "YYYY-MM-DD the new measure's last day (default: the legal maximum)")
	fs.IntVar(&req.Rank, "rank", 0, "a waiting-line seizure's place (1 = next)")
	var na api.NewAsset
	fs.StringVar(&na.ID, "new-asset", "", "search_result: id of the asset found")
	fs.StringVar(&na.Class, "class", "", "search_result: asset class (deposit, real_estate, vehicle, ...)")
	fs.StringVar(&na.Description, "description", "", "search_result: what the asset is (no identity numbers)")
	fs.StringVar(&na.Owner, "owner", "", "search_result: the party id owning it")
	fs.StringVar(&na.Source, "source", "national_search", "search_result: national_search, local_link, debtor_report, applicant_lead, other")
	accountFile := fs.String("account-file", "", "search_result: a file holding the account or certificate number (sealed by the node, shown masked); - reads it from standard input")
	var refused refusedFlag
	fs.Var(&refused, "account", "not accepted: account numbers are never taken on the command line (use --account-file)")
	fs.Int64Var(&na.ValueFen, "value-fen", 0, "search_result: estimated value in fen")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if refused {
		// The value is not repeated: it is already in the shell's history.
		fprintln(c.stderr, "courtmesh assets update: --account is not accepted: an account number on the command line is kept in the shell history and shown in the process list. Put it in a file readable only by you and pass --account-file FILE (then delete the file), or pipe it: --account-file - (clear your shell history of the command you ran)")
		return errUsage
	}
	id, err := idArg(fs, "update --data DIR --kind renewal --measure m1 TRANSFER")
	if err != nil {
		return usagef("usage: courtmesh assets update --data DIR --kind KIND [--measure ID] ... TRANSFER")
	}
	if *accountFile != "" {
		if na.Account, err = readSecret(c, *accountFile, "account number"); err != nil {
			return err
		}
	}
	if req.Kind == "" {
		return errorf("--kind is required")
	}
	if na.ID != "" {
		req.Asset = &na
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/assets", req, *asJSON)
}

// refusedFlag is a flag that is still recognised but no longer accepted
// (it took a secret on the command line): Set records that it was given,
// never its value.
type refusedFlag bool

func (f *refusedFlag) String() string   { return "" }
func (f *refusedFlag) Set(string) error { *f = true; return nil }

// maxSecret bounds a secret read from a file or standard input: an
// account or certificate number, not a document.
const maxSecret = 256

// readSecret reads one value (an account number) from the file path, or
// from standard input for "-": one line, surrounding space trimmed. The
// value is never part of an error message.
func readSecret(c *cli, path, what string) (string, error) {
	var r io.Reader
	if path == "-" {
		if c.stdin == nil {
			return "", errorf("--account-file -: no standard input to read the %s from", what)
		}
		r = c.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", errorf("read the %s: %w", what, err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSecret+1))
	if err != nil {
		return "", errorf("read the %s from %s: %w", what, path, err)
	}
	if len(b) > maxSecret {
		return "", court.Errorf(court.ErrInvalid, "%s: more than %d bytes; the file must hold the %s alone, on one line", path, maxSecret, what)
	}
	v := strings.TrimSpace(string(b))
	switch {
	case v == "":
		return "", court.Errorf(court.ErrInvalid, "%s: empty; it must hold the %s on one line", path, what)
	case strings.ContainsAny(v, "\r\n"):
		return "", court.Errorf(court.ErrInvalid, "%s: more than one line; it must hold the %s alone, on one line", path, what)
	}
	return v, nil
}
