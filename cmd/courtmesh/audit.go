package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/node/datadir"
)

func init() {
	register(&command{name: "audit", summary: "export and verify the hash-chained audit log", subs: []*command{
		{name: "export", summary: "write the audit log, or a time range of it, as JSON lines", run: runAuditExport},
		{name: "verify", summary: "check a node's audit log or an export offline; names the first broken entry", run: runAuditVerify},
	}})
}

func runAuditExport(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "audit export")
	from := fs.String("from", "", "first instant, RFC 3339 or a date (China time); default: the beginning")
	to := fs.String("to", "", "end instant (excluded), RFC 3339 or a date; default: now")
	out := fs.String("out", "", "file to write (JSON lines; must not exist)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" || *out == "" || fs.NArg() != 0 {
		fprintln(c.stderr, "usage: courtmesh audit export --data DIR [--from TIME] [--to TIME] --out FILE")
		return errUsage
	}
	var fromT, toT time.Time
	for _, b := range []struct {
		name string
		v    string
		t    *time.Time
	}{{"--from", *from, &fromT}, {"--to", *to, &toT}} {
		if b.v == "" {
			continue
		}
		t, err := audit.ParseTime(b.v)
		if err != nil {
			return fmt.Errorf("%s %q: %w", b.name, b.v, err)
		}
		*b.t = t
	}
	path, err := absPath(*out)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return errorf("audit export: %w (choose a new file)", err)
	}
	err = writeAuditExport(ctx, *data, fromT, toT, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return errorf("audit export: %w", err)
	}
	// Read back what was written: the summary, and a warning if the log
	// itself does not hold together (the export is kept as evidence).
	rf, err := os.Open(path)
	if err != nil {
		return err
	}
	defer rf.Close()
	var chk audit.Checker
	verr := audit.ReadExport(bufio.NewReader(rf), &chk)
	n, first, last, prev, head := chk.Result()
	if n == 0 && verr == nil {
		fprintf(c.stdout, "no audit entries in that range; %s is empty\n", path)
		return nil
	}
	fprintf(c.stdout, "exported audit entries %d..%d (%d) to %s\n", first, last, n, path)
	fprintf(c.stdout, "first entry links to %s\nhead %s\n", prevText(prev), head)
	if verr != nil {
		return errorf("the export is written but does not verify: %w", verr)
	}
	if first > 1 {
		fprintf(c.stdout, "check it with: courtmesh audit verify --file %s --prev %s\n", path, prev)
	}
	return nil
}

// writeAuditExport writes the export through the running node's API, or
// from the store opened here when the node is stopped.
func writeAuditExport(ctx context.Context, data string, from, to time.Time, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	if nodeRunning(data) {
		q := url.Values{}
		if !from.IsZero() {
			q.Set("from", from.Format(time.RFC3339Nano))
		}
		if !to.IsZero() {
			q.Set("to", to.Format(time.RFC3339Nano))
		}
		body, err := auditStream(ctx, data, q)
		if err != nil {
			return err
		}
		defer body.Close()
		if _, err := io.Copy(bw, body); err != nil {
			return errorf("the node broke off the export: %w", err)
		}
		return bw.Flush()
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
	res, err := log.ExportAudit(bw, from, to)
	if err != nil {
		return err
	}
	// Audited before the export is delivered: if the entry cannot be
	// written, the export is refused (the caller removes the file).
	if err := log.Before(audit.ExportedEntry(res, "from the stopped node's store")); err != nil {
		return err
	}
	return bw.Flush()
}

// auditStream GETs /v1/audit from the running node as a stream.
func auditStream(ctx context.Context, data string, q url.Values) (io.ReadCloser, error) {
	d := datadir.Dir(data)
	tok, err := os.ReadFile(d.Path(datadir.TokenFile))
	if err != nil {
		return nil, errorf("%w: no API token in %s", api.ErrNodeNotRunning, data)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", d.Path(datadir.SocketFile))
	}}}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://courtmesh/v1/audit?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", api.ErrNodeNotRunning, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var eb struct {
			Error *api.Error `json:"error"`
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&eb) == nil && eb.Error != nil {
			return nil, eb.Error
		}
		return nil, errorf("node answered %s", resp.Status)
	}
	return resp.Body, nil
}

// witnessedFlag collects --witnessed SEQ:HASH values.
type witnessedFlag map[uint64]string

func (w witnessedFlag) String() string { return "" }

func (w witnessedFlag) Set(s string) error {
	seq, hash, ok := strings.Cut(s, ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || n == 0 || len(hash) != 64 {
		return errorf("want SEQ:HASH, e.g. 1200:9f86d08… (64 hex digits), as GET /v1/mesh shows audit_length:audit_head")
	}
	w[n] = strings.ToLower(hash)
	return nil
}

func runAuditVerify(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "audit verify")
	file := fs.String("file", "", "an export written by `courtmesh audit export`, instead of --data")
	prev := fs.String("prev", "", "with --file: the hash the export's first entry must link to (the head of the entry before it)")
	witnessed := witnessedFlag{}
	fs.Var(witnessed, "witnessed", "SEQ:HASH of an entry witnessed elsewhere (a heartbeat's audit_length:audit_head in GET /v1/mesh, an earlier export); repeatable")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*data == "") == (*file == "") || fs.NArg() != 0 || (*prev != "" && *file == "") {
		fprintln(c.stderr, "usage: courtmesh audit verify --data DIR [--witnessed SEQ:HASH]...\n       courtmesh audit verify --file EXPORT [--prev HASH] [--witnessed SEQ:HASH]...")
		return errUsage
	}
	chk := &audit.Checker{Prev: strings.ToLower(*prev), Witnessed: witnessed}
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return errorf("audit verify: %w", err)
		}
		defer f.Close()
		if err := audit.ReadExport(bufio.NewReaderSize(f, 1<<20), chk); err != nil {
			return errorf("audit export %s does not verify: %w", filepath.Base(*file), err)
		}
		n, first, last, p, head := chk.Result()
		if n == 0 {
			return errorf("audit export %s holds no entries", *file)
		}
		fprintf(c.stdout, "audit export %s: entries %d..%d (%d), every link holds\n", *file, first, last, n)
		fprintf(c.stdout, "first entry links to %s\nhead %s\n", prevText(p), head)
		if first > 1 && *prev == "" {
			fprintf(c.stdout, "the export starts mid-log: compare that link with the head of entry %d (an earlier export, or the head the mesh witnessed) or pass it with --prev\n", first-1)
		}
		return nil
	}
	if nodeRunning(*data) {
		// The node holds the store: check its export, streamed.
		chk.FromStart = true
		body, err := auditStream(ctx, *data, url.Values{})
		if err != nil {
			return err
		}
		defer body.Close()
		if err := audit.ReadExport(body, chk); err != nil {
			return errorf("audit log of %s does not verify: %w", *data, err)
		}
	} else {
		db, err := openStore(*data, false)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := audit.VerifyStored(db, chk); err != nil {
			return errorf("audit log of %s does not verify: %w", *data, err)
		}
	}
	n, _, last, _, head := chk.Result()
	if n == 0 {
		fprintf(c.stdout, "audit log of %s is empty\n", *data)
		return nil
	}
	fprintf(c.stdout, "audit log of %s: entries 1..%d, every link holds\nhead %s\n", *data, last, head)
	return nil
}

func prevText(p string) string {
	if p == "" {
		return `"" (the start of the log)`
	}
	return p
}
