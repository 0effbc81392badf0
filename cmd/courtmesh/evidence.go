package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/evidence"
)

func init() {
	register(&command{name: "evidence", summary: "export a transfer's evidence in one file, and verify such a file offline", subs: []*command{
		{name: "export", summary: "write a transfer's signed records, certificates, trust bundles and audit entries to one file", run: runEvidenceExport},
		{name: "verify", summary: "check an evidence file offline with the national root alone; names the first part that fails", run: runEvidenceVerify},
	}})
}

// parseInterleaved parses flags that may follow positional arguments
// (`export --data DIR TRANSFER --out FILE`) and returns the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

func runEvidenceExport(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "evidence export")
	out := fs.String("out", "", "the file to write (must not exist)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *data == "" || *out == "" || len(pos) != 1 {
		fprintln(c.stderr, "usage: courtmesh evidence export --data DIR TRANSFER --out FILE")
		return errUsage
	}
	id, err := court.ParseTransferID(pos[0])
	if err != nil {
		return err
	}
	path, err := absPath(*out)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return errorf("evidence export: %w (choose a new file)", err)
	}
	err = writeEvidence(ctx, *data, id, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return errorf("evidence export of %s: %w", id, err)
	}
	rf, err := os.Open(path)
	if err != nil {
		return err
	}
	defer rf.Close()
	ef, err := evidence.Read(bufio.NewReader(rf))
	if err != nil {
		return err
	}
	fprintf(c.stdout, "wrote the evidence of transfer %s to %s: %d records, %d certificates, %d trust bundles, audit entries %d..%d of %s\n",
		id, path, len(ef.Records), len(ef.Certificates), len(ef.Bundles), ef.Audit.Entries[0].Seq, ef.Audit.Entries[len(ef.Audit.Entries)-1].Seq, ef.Exporter.Court)
	fprintf(c.stdout, "check it with: courtmesh evidence verify %s --root %s\n", path, datadir.Dir(*data).Path(datadir.RootFile))
	return nil
}

// writeEvidence writes the file through the running node's API, or from
// the store opened here when the node is stopped.
func writeEvidence(ctx context.Context, data string, id court.TransferID, w io.Writer) error {
	if nodeRunning(data) {
		cl, err := client(data)
		if err != nil {
			return err
		}
		var raw json.RawMessage
		if err := cl.Do(ctx, "GET", "/v1/transfers/"+string(id)+"/evidence", nil, &raw); err != nil {
			return err
		}
		_, err = w.Write(append(raw, '\n'))
		return err
	}
	db, err := openStore(data, false)
	if err != nil {
		return err
	}
	defer db.Close()
	log, err := audit.New(audit.Deps{Store: db})
	if err != nil {
		return err
	}
	d := datadir.Dir(data)
	nk, _, err := d.Keys()
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if _, err := evidence.Export(bw, evidence.Deps{Store: db, Dir: d, Key: nk, Audit: log,
		Actor: fmt.Sprintf("offline cli (uid %d)", os.Getuid())}, id); err != nil {
		return err
	}
	return bw.Flush()
}

func runEvidenceVerify(ctx context.Context, c *cli, args []string) error {
	fs := flag.NewFlagSet("courtmesh evidence verify", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	localFlags(fs)
	rootF := fs.String("root", "", "the national root certificate (root.cert, as published); without it the file's own root is used and its fingerprint printed for comparison")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fprintln(c.stderr, "usage: courtmesh evidence verify FILE [--root ROOT.cert]")
		return errUsage
	}
	var rootRaw []byte
	if *rootF != "" {
		if rootRaw, err = os.ReadFile(*rootF); err != nil {
			return errorf("the national root: %w", err)
		}
	}
	fh, err := os.Open(pos[0])
	if err != nil {
		return errorf("evidence verify: %w", err)
	}
	defer fh.Close()
	f, err := evidence.Read(bufio.NewReader(fh))
	if err != nil {
		return errorf("evidence %s does not verify: %w", filepath.Base(pos[0]), err)
	}
	rep, err := evidence.Verify(f, rootRaw)
	if err != nil {
		return errorf("evidence %s does not verify: %w", filepath.Base(pos[0]), err)
	}
	fprintf(c.stdout, "evidence of transfer %s exported by %s: every part verifies\n", rep.Transfer, rep.Exporter)
	for i, r := range rep.Records {
		fprintf(c.stdout, "  record %d: %-16s by %-6s #%d of its log, signed %s under trust bundle %d\n", i+1, r.Kind, r.Issuer, r.Seq, r.IssuedAt.Format("2006-01-02T15:04:05Z"), r.Bundle)
	}
	fprintf(c.stdout, "  %d certificates, %d trust bundles, all chained to the national root\n", rep.Certificates, rep.Bundles)
	fprintf(c.stdout, "  audit entries %d..%d of %s (%d name the transfer), head signed by %s", rep.AuditFirst, rep.AuditLast, rep.Exporter, rep.Concerning, rep.Exporter)
	switch {
	case rep.Witnessed > 0 && rep.Compared > 0:
		fprintf(c.stdout, "; agrees at %d positions with the head of %d entries it published to the mesh", rep.Compared, rep.Witnessed)
	case rep.Witnessed > 0:
		fprintf(c.stdout, "; the head of %d entries it published to the mesh precedes the segment (compare it with GET /v1/mesh)", rep.Witnessed)
	}
	fmt.Fprintln(c.stdout)
	if rep.RootGiven {
		fprintf(c.stdout, "national root %s serial %d, SHA-256 %s (given)\n", rep.Root.Code, rep.Root.Serial, rep.Fingerprint)
	} else {
		fprintf(c.stdout, "national root %s serial %d, SHA-256 %s, taken from the file: compare this fingerprint with the published national root, or pass --root\n", rep.Root.Code, rep.Root.Serial, rep.Fingerprint)
	}
	return nil
}
