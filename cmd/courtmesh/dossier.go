package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"courtmesh.dev/courtmesh/node/api"
)

func init() {
	register(&command{name: "dossier", summary: "fetch and verify transferred dossiers", subs: []*command{
		{name: "fetch", summary: "fetch a handed-over dossier (resumes; several sources; progress bar)", run: runDossierFetch},
		{name: "status", summary: "show the progress of a fetch", run: runDossierStatus},
		{name: "verify", summary: "verify every chunk and document of a stored case", run: runDossierVerify},
		{name: "revoke", summary: "revoke a court's grant to fetch a dossier (origin court)", run: runDossierRevoke},
		{name: "items", summary: "show the standard dossier items a handover carried and those missing", run: runDossierItems},
	}})
}

func runDossierFetch(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "dossier fetch")
	detach := fs.Bool("detach", false, "start the fetch and return; the node keeps fetching")
	asJSON := fs.Bool("json", false, "print the final progress as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "dossier fetch --data DIR TRANSFER")
	if err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var p api.FetchProgress
	if err := cl.Do(ctx, "POST", "/v1/transfers/"+id+"/fetch", struct{}{}, &p); err != nil {
		return err
	}
	if *detach {
		fprintf(c.stdout, "Fetch of %s started; follow it with `courtmesh dossier status --data %s %s`.\n", id, *data, id)
		return nil
	}
	var bar *progressbar.ProgressBar
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			// Ctrl-C: stop the fetch; what is verified stays.
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			cl.Do(dctx, "DELETE", "/v1/transfers/"+id+"/fetch", nil, &p)
			cancel()
			fprintf(c.stderr, "\nFetch cancelled with %d of %d chunks verified; run the same command to resume.\n", p.Verified, p.Chunks)
			return ctx.Err()
		case <-tick.C:
		}
		if err := cl.Do(ctx, "GET", "/v1/transfers/"+id+"/fetch", nil, &p); err != nil {
			if errors.Is(err, context.Canceled) {
				continue
			}
			return err
		}
		if bar == nil && p.Chunks > 0 && !*asJSON {
			bar = progressbar.NewOptions64(int64(p.Chunks),
				progressbar.OptionSetWriter(c.stderr),
				progressbar.OptionSetDescription("fetching"),
				progressbar.OptionShowCount(),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(c.stderr) }),
			)
		}
		if bar != nil {
			var srcs []string
			for court, n := range p.Sources {
				srcs = append(srcs, fmt.Sprintf("%s:%d", court, n))
			}
			bar.Describe(sprintf("%s, %.1f MB/s, sources %s", humanBytes(p.Bytes), p.BytesPerS/1e6, strings.Join(srcs, " ")))
			bar.Set64(int64(p.Verified))
		}
		if p.State != "running" && p.State != "verifying" {
			break
		}
	}
	if *asJSON {
		return printJSON(c.stdout, p)
	}
	if p.State != "done" {
		printFailures(c.stderr, p)
		msg := sprintf("fetch %s: %s: %s", p.Transfer, p.State, p.Error)
		if p.Resumable {
			msg += sprintf(" (%d of %d chunks verified; run the same command to resume)", p.Verified, p.Chunks)
		}
		// The node's error code keeps its kind (and the exit status).
		status := http.StatusServiceUnavailable
		if p.Code == api.CodeInternal {
			status = http.StatusInternalServerError
		}
		return &api.Error{Status: status, Code: p.Code, Message: msg}
	}
	fprintf(c.stdout, "Dossier of %s verified: %d chunks (%d fetched now, %d already verified before), %s in %s",
		p.Transfer, p.Chunks, p.Fetched, p.Resumed, humanBytes(p.Bytes), p.Finished.Sub(p.Started).Round(time.Millisecond))
	if p.Rejected > 0 {
		fprintf(c.stdout, "; %d bad chunk(s) rejected and fetched again from another source", p.Rejected)
	}
	fmt.Fprintln(c.stdout, ".")
	if p.NewCase != "" {
		fprintf(c.stdout, "Filed as %s; the receipt has been published.\n", p.NewCase)
	}
	return nil
}

// printFailures lists why chunk requests of a fetch failed, one line per
// source and reason.
func printFailures(w io.Writer, p api.FetchProgress) {
	for _, fl := range p.Failures {
		fprintf(w, "  %s %s: %d chunk request(s); last: %s\n", fl.Court, fl.Reason, fl.Chunks, fl.Last)
	}
}

func humanBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func runDossierStatus(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "dossier status")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "dossier status --data DIR TRANSFER")
	if err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var p api.FetchProgress
	if err := cl.Do(ctx, "GET", "/v1/transfers/"+id+"/fetch", nil, &p); err != nil {
		return err
	}
	return printJSON(c.stdout, p)
}

func runDossierVerify(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "dossier verify")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("usage: courtmesh dossier verify --data DIR CASE_NUMBER")
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var v api.VerifyResult
	if err := cl.Do(ctx, "GET", "/v1/cases/"+url.PathEscape(fs.Arg(0))+"/verify", nil, &v); err != nil {
		return err
	}
	fprintf(c.stdout, "%s version %d verified: %d documents, %d chunks, %s; every chunk's content address, seal and every document hash check out.\n",
		v.Case, v.Version, v.Documents, v.Chunks, humanBytes(v.Bytes))
	return nil
}

func runDossierRevoke(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "dossier revoke")
	courtCode := fs.String("court", "", "the court whose grant ends")
	reason := fs.String("reason", "", "why (broadcast: no personal data)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "dossier revoke --data DIR --court COURT --reason TEXT TRANSFER")
	if err != nil {
		return err
	}
	if *courtCode == "" || *reason == "" {
		return errorf("--court and --reason are required")
	}
	if err := transferCall(ctx, c, *data, "/v1/transfers/"+id+"/grants/"+url.PathEscape(*courtCode)+"/revoke", api.ReasonRequest{Reason: *reason}, false); err != nil {
		return err
	}
	fprintf(c.stdout, "\nThe grant of %s is revoked: every node refuses its further fetches. What it already fetched stays fetched.\n", *courtCode)
	return nil
}
