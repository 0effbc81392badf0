package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/crypto/ca"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/datadir"
)

func init() {
	register(&command{name: "ca", summary: "the certificate authority: national root and province issuers", subs: []*command{
		{name: "init", summary: "create the national root (or, with --issuer, a province issuer's key)", run: runCAInit},
		{name: "challenge", summary: "challenge a node to prove it holds its encryption key (before `ca issue`)", run: runCAChallenge},
		{name: "issue", summary: "certify a court node (or a province issuer) from its signed, proven identity file", run: runCAIssue},
		{name: "install", summary: "install the issuer certificate the root issued for this directory", run: runCAInstall},
		{name: "revoke", summary: "revoke a certificate (root) after the last trusted record of its log; the next bundle carries it", run: runCARevoke},
		{name: "bundle", summary: "sign the next trust bundle (root)", run: runCABundle},
		{name: "list", summary: "list the certificates this authority issued", run: runCAList},
	}})
	register(&command{name: "identity", summary: "a node's identity file for the certificate authority", subs: []*command{
		{name: "prove", summary: "answer the authority's challenge: rewrites identity.json signed and proven", run: runIdentityProve},
	}})
}

// readIdentity reads an identity file.
func readIdentity(path string) (*crypto.Identity, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var id crypto.Identity
	if err := json.Unmarshal(raw, &id); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &id, nil
}

func runCAChallenge(ctx context.Context, c *cli, args []string) error {
	fs, dir := caFlags(c, "challenge")
	idFile := fs.String("identity", "", "the node's identity.json (from `courtmesh init`)")
	out := fs.String("out", "", "write the challenge here, to send to the court")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *idFile == "" || *out == "" {
		return errorf("--dir, --identity and --out are required")
	}
	a, err := ca.Open(*dir)
	if err != nil {
		return err
	}
	id, err := readIdentity(*idFile)
	if err != nil {
		return err
	}
	ch, err := a.Challenge(id)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(ch, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fprintf(c.stdout, "Challenge for node %s written to %s.\nSend it to the court; on the node it runs\n  courtmesh identity prove --data <its data directory> --challenge %s\nand sends back the identity.json that writes. Then run `courtmesh ca issue` with it.\n",
		id.PeerID, *out, filepath.Base(*out))
	return nil
}

func runIdentityProve(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "identity prove")
	chFile := fs.String("challenge", "", "the challenge file from the certificate authority (`courtmesh ca challenge`); without it, identity.json is only re-signed from the keys in --data")
	caDir := fs.String("ca-dir", "", "instead of --data: re-sign a province issuer's identity.json (no challenge needed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *caDir != "" {
		id, err := ca.SignIdentityFile(*caDir)
		if err != nil {
			return err
		}
		fprintf(c.stdout, "Identity of issuer key %s signed: send %s to the national root.\n", id.PeerID, filepath.Join(*caDir, ca.IdentityFile))
		return nil
	}
	if *data == "" {
		return errorf("--data is required (or --ca-dir for a province issuer)")
	}
	if *chFile == "" {
		// No challenge: rewrite identity.json signed from the keys in the
		// directory (after moving enc.key into a new node's directory).
		id, err := datadir.SignIdentity(datadir.Dir(*data))
		if err != nil {
			return err
		}
		fprintf(c.stdout, "Identity of node %s signed (no proof yet): send %s to the certificate authority for its challenge.\n", id.PeerID, filepath.Join(*data, datadir.IdentityFile))
		return nil
	}
	raw, err := os.ReadFile(*chFile)
	if err != nil {
		return err
	}
	var ch crypto.PossessionChallenge
	if err := json.Unmarshal(raw, &ch); err != nil {
		return fmt.Errorf("%s: %w", *chFile, err)
	}
	id, err := datadir.Prove(datadir.Dir(*data), &ch)
	if err != nil {
		return err
	}
	fprintf(c.stdout, "Challenge answered for node %s: send %s back to the certificate authority.\n", id.PeerID, filepath.Join(*data, datadir.IdentityFile))
	return nil
}

func caFlags(c *cli, name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("courtmesh ca "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	localFlags(fs)
	return fs, fs.String("dir", "", "the authority's directory (keep the root's offline)")
}

func runCAInit(ctx context.Context, c *cli, args []string) error {
	fs, dir := caFlags(c, "init")
	issuer := fs.Bool("issuer", false, "create a province issuer's key instead of the national root")
	name := fs.String("name", "最高人民法院 国家根证书", "the root certificate's name")
	years := fs.Int("years", 10, "root validity in years")
	suiteName := fs.String("suite", "v1", "the mesh's algorithm suite: v1 (Ed25519, ML-KEM-768+X25519, AES-256-GCM, SHA-256) or sm (SM2, SM3, SM4); every court follows the root's")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return errorf("--dir is required")
	}
	suite, err := crypto.ParseSuite(*suiteName)
	if err != nil {
		return errorf("--suite: %w", err)
	}
	if *issuer {
		id, err := ca.InitIssuerSuite(*dir, suite)
		if err != nil {
			return err
		}
		fprintf(c.stdout, "Issuer key created in %s. Send %s to the national root, then run `courtmesh ca install`.\n", *dir, filepath.Join(*dir, ca.IdentityFile))
		_ = id
		return nil
	}
	now := time.Now()
	r, err := ca.InitRootSuite(*dir, *name, now, time.Duration(*years)*365*24*time.Hour, suite)
	if err != nil {
		return err
	}
	fp := r.Cert.Envelope.Signature
	fprintf(c.stdout, "National root created in %s (serial %d, suite %s, valid until %s).\nDistribute %s; courts check its fingerprint %x out of band.\n",
		*dir, r.Cert.Serial, r.Cert.Suite.Name(), r.Cert.NotAfter.Format(time.DateOnly), filepath.Join(*dir, ca.RootFile), fp[:8])
	return nil
}

func runCAIssue(ctx context.Context, c *cli, args []string) error {
	fs, dir := caFlags(c, "issue")
	idFile := fs.String("identity", "", "the node's identity.json (from `courtmesh init`)")
	code := fs.String("code", "", "court code (法院代字), e.g. 京0105")
	name := fs.String("name", "", "court name (default: the known name of the code)")
	parent := fs.String("parent", "", "parent court code (default: derived from the code)")
	roles := fs.String("roles", "court", "comma-separated roles: court, operator, issuer")
	scope := fs.String("scope", "", "for an issuer: the code prefix it may certify (default: its own code)")
	days := fs.Int("days", 365, "validity in days")
	out := fs.String("out", "", "write the certificate here (default: stdout path in the CA's issued/ directory)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *idFile == "" || *code == "" {
		return errorf("--dir, --identity and --code are required")
	}
	a, err := ca.Open(*dir)
	if err != nil {
		return err
	}
	id, err := readIdentity(*idFile)
	if err != nil {
		return err
	}
	cc, err := court.ParseCourtCode(*code)
	if err != nil {
		return err
	}
	if err := a.CheckIdentity(id); err != nil {
		return identityHelp(err, id, *dir, *idFile)
	}
	t := crypto.Template{Code: cc, Name: *name, Identity: id, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Duration(*days) * 24 * time.Hour)}
	if t.Name == "" {
		n, ok := court.KnownCourtName(cc)
		if !ok {
			return errorf("no known name for %s: give --name", cc)
		}
		t.Name = n
	}
	if *parent != "" {
		if t.Parent, err = court.ParseCourtCode(*parent); err != nil {
			return err
		}
	}
	for _, r := range strings.Split(*roles, ",") {
		t.Roles = append(t.Roles, crypto.Role(strings.TrimSpace(r)))
	}
	for _, r := range t.Roles {
		if r == crypto.RoleIssuer {
			t.Scope = cc
			if *scope != "" {
				if t.Scope, err = court.ParseCourtCode(*scope); err != nil {
					return err
				}
			}
		}
	}
	if t.NotAfter.After(a.Cert.NotAfter) {
		t.NotAfter = a.Cert.NotAfter
	}
	live, err := a.Live(time.Now())
	if err != nil {
		return err
	}
	cert, err := a.IssueProven(t)
	if err != nil {
		return err
	}
	for _, old := range live {
		if old.Code == cert.Code && old.Serial != cert.Serial {
			fprintf(c.stderr, "warning: %s already holds live certificate serial %d (peer %s, valid until %s). If the new node replaces that one, revoke the old certificate, keeping the records it signed so far: on the operator's node run\n  courtmesh trust head --data <its data directory> --serial %d --out head-%d.json\nthen here\n  courtmesh ca revoke --dir %s --serial %d --reason \"replaced by serial %d\" --witness head-%d.json\n",
				old.Code, old.Serial, old.PeerID, old.NotAfter.Format(time.DateOnly), old.Serial, old.Serial, *dir, old.Serial, cert.Serial, old.Serial)
		}
	}
	path := filepath.Join(*dir, ca.IssuedDir, fmt.Sprintf("%d.cert", cert.Serial))
	if *out != "" {
		raw, _ := cert.Envelope.Marshal()
		if err := os.WriteFile(*out, raw, 0o644); err != nil {
			return err
		}
		path = *out
	}
	fprintf(c.stdout, "Certified %s %s (serial %d, roles %v, parent %s, valid until %s): %s\n",
		cert.Code, cert.Name, cert.Serial, cert.Roles, cert.Parent, cert.NotAfter.Format(time.DateOnly), path)
	return nil
}

// identityHelp turns a refused identity into what the operator runs next.
func identityHelp(err error, id *crypto.Identity, dir, idFile string) error {
	switch {
	case len(id.EncKey) == 0 && errors.Is(err, crypto.ErrIdentityUnsigned):
		return errorf("%s: %w; the issuer re-signs it with `courtmesh identity prove --ca-dir <its authority directory>` and sends it again", idFile, err)
	case errors.Is(err, crypto.ErrIdentityUnsigned), errors.Is(err, crypto.ErrNoPossessionProof):
		return errorf("%s: %w. Run `courtmesh ca challenge --dir %s --identity %s --out challenge.json`, send challenge.json to the court, which runs `courtmesh identity prove --data <its data directory> --challenge challenge.json` and sends back the identity.json it writes; then issue again", idFile, err, dir, idFile)
	}
	return fmt.Errorf("%s: %w", idFile, err)
}

func runCAInstall(ctx context.Context, c *cli, args []string) error {
	fs, dir := caFlags(c, "install")
	certFile := fs.String("cert", "", "the issuer certificate the root issued")
	rootFile := fs.String("root", "", "the national root certificate")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *certFile == "" || *rootFile == "" {
		return errorf("--dir, --cert and --root are required")
	}
	cr, err := os.ReadFile(*certFile)
	if err != nil {
		return err
	}
	rr, err := os.ReadFile(*rootFile)
	if err != nil {
		return err
	}
	if err := ca.InstallCert(*dir, cr, rr); err != nil {
		return err
	}
	fprintf(c.stdout, "Issuer certificate installed in %s.\n", *dir)
	return nil
}

// witnessFile is what `courtmesh trust head --out` writes and `ca revoke
// --witness` reads: the last trusted head of a key's record log as the
// operator's node saw it, carried by hand to the (offline) authority.
type witnessFile struct {
	Version     int        `json:"version"` // 1
	Serial      uint64     `json:"serial"`
	Court       string     `json:"court"`
	Peer        string     `json:"peer"`
	Seq         uint64     `json:"last_trusted_seq"`
	Head        string     `json:"last_trusted_head"`
	WitnessedAt *time.Time `json:"witnessed_at,omitempty"`
	Source      string     `json:"source"` // "witnessed" (the key's own heartbeats) or "held" (the node's copy of the log)
}

// parseHead reads a 32-byte head in hex.
func parseHead(s string) ([32]byte, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != 32 {
		return [32]byte{}, court.Errorf(court.ErrInvalid, "last trusted head %q: 64 hex digits (the chain hash `courtmesh trust head` prints)", s)
	}
	return [32]byte(b), nil
}

func runCARevoke(ctx context.Context, c *cli, args []string) error {
	fs, dir := caFlags(c, "revoke")
	serial := fs.String("serial", "", "serial of the certificate to revoke")
	reason := fs.String("reason", "", "reason, for operators (no personal data)")
	witness := fs.String("witness", "", "the file `courtmesh trust head --serial N --out FILE` wrote on the operator's node: its records up to the head it names (by default the last head the key's heartbeats showed) stay valid")
	lastSeq := fs.Uint64("last-trusted-seq", 0, "the last trusted record of the key's log: the records it signed up to here stay valid, later ones are refused (with --last-trusted-head)")
	lastHead := fs.String("last-trusted-head", "", "the chain hash of the key's log up to --last-trusted-seq (64 hex digits, from `courtmesh trust head`)")
	fromStart := fs.Bool("from-start", false, "trust none of the records the key ever signed (a key whose whole past is in doubt)")
	out := fs.String("out", "", "write the revocation as a signed bundle delta here (a few hundred bytes; push it with `courtmesh trust push`)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := strconv.ParseUint(*serial, 10, 64)
	if err != nil || s == 0 || *reason == "" {
		return errorf("--serial (a certificate serial) and --reason are required")
	}
	var last *crypto.LogPosition
	modes := 0
	if *witness != "" {
		modes++
	}
	if *lastSeq != 0 || *lastHead != "" {
		modes++
	}
	if *fromStart {
		modes++
	}
	switch {
	case modes != 1:
		return court.Errorf(court.ErrInvalid, "say up to where the key's records stay valid, with exactly one of:\n"+
			"  --witness FILE      the head the operator's node witnessed: on that node run\n"+
			"                      courtmesh trust head --data DIR --serial %[1]d --out head-%[1]d.json\n"+
			"                      and bring the file here (records after it are refused, those up to it stay valid)\n"+
			"  --last-trusted-seq N --last-trusted-head HEX   a position you chose (e.g. before the key was lost)\n"+
			"  --from-start        none of its records stays valid", s)
	case *witness != "":
		raw, err := os.ReadFile(*witness)
		if err != nil {
			return err
		}
		var wf witnessFile
		if err := json.Unmarshal(raw, &wf); err != nil || wf.Version != 1 {
			return court.Errorf(court.ErrInvalid, "%s: not a head file of `courtmesh trust head` (version 1): %v", *witness, err)
		}
		if wf.Serial != s {
			return court.Errorf(court.ErrInvalid, "%s names the log of serial %d, not %d", *witness, wf.Serial, s)
		}
		h, err := parseHead(wf.Head)
		if err != nil {
			return fmt.Errorf("%s: %w", *witness, err)
		}
		if wf.Seq == 0 {
			return court.Errorf(court.ErrInvalid, "%s: the key's log was empty when witnessed; revoke with --from-start", *witness)
		}
		last = &crypto.LogPosition{Seq: wf.Seq, Head: h}
	case !*fromStart:
		if *lastSeq == 0 || *lastHead == "" {
			return court.Errorf(court.ErrInvalid, "--last-trusted-seq (from 1) and --last-trusted-head go together; to trust none of the key's records, use --from-start")
		}
		h, err := parseHead(*lastHead)
		if err != nil {
			return err
		}
		last = &crypto.LogPosition{Seq: *lastSeq, Head: h}
	}
	a, err := ca.Open(*dir)
	if err != nil {
		return err
	}
	if known, err := a.IssuedSerial(s); err == nil && !known {
		fprintf(c.stderr, "warning: serial %d was not issued by this authority; check it (a province issuer's certificate is fine to revoke here)\n", s)
	}
	var delta *crypto.Delta
	if *out != "" {
		if delta, err = a.RevokeDelta(s, *reason, time.Now(), last); err != nil {
			return err
		}
		if err := os.WriteFile(*out, delta.Raw, 0o644); err != nil {
			return err
		}
	} else if err := a.RevokeAfter(s, *reason, time.Now(), last); err != nil {
		return err
	}
	if last == nil {
		fprintf(c.stdout, "Certificate %d revoked from the start: every record its key signed is refused.\n", s)
	} else {
		fprintf(c.stdout, "Certificate %d revoked after record %d of its log (head %x…): the records up to it stay valid, later ones are refused.\n", s, last.Seq, last.Head[:8])
	}
	if delta != nil {
		fprintf(c.stdout, "Bundle delta %d (on bundle %d, %d bytes) written to %s: push it to a node (`courtmesh trust push`).\n", delta.Sequence, delta.BaseSequence, len(delta.Raw), *out)
		return nil
	}
	fprintf(c.stdout, "Sign a new bundle (`courtmesh ca bundle`) and push it to a node (`courtmesh trust push`).\n")
	return nil
}

func runTrustHead(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "trust head")
	serial := fs.Uint64("serial", 0, "the certificate whose key's record log to show (the one to revoke)")
	seq := fs.Uint64("seq", 0, "a position of that log to pin instead of the last head witnessed (e.g. the last record before the key was lost)")
	out := fs.String("out", "", "write the head to this file, for `courtmesh ca revoke --witness FILE`")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *serial == 0 {
		return errorf("--serial is required")
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	q := fmt.Sprintf("/v1/trust/log-head?serial=%d", *serial)
	if *seq != 0 {
		q += fmt.Sprintf("&seq=%d", *seq)
	}
	var h api.LogHead
	if err := cl.Do(ctx, "GET", q, nil, &h); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(h)
	}
	fprintf(c.stdout, "Certificate %d: %s, peer %s", h.Serial, h.Court, h.Peer)
	if h.Revoked {
		fprintf(c.stdout, " (revoked)")
	}
	fmt.Fprintln(c.stdout)
	if h.Witnessed != nil {
		fprintf(c.stdout, "  last head its heartbeats showed: record %d, head %s (%s)\n", h.Witnessed.Seq, h.Witnessed.Head, court.FormatTime(*h.WitnessedAt))
	} else {
		fprintln(c.stdout, "  this node has heard no heartbeat of it that shows its log head")
	}
	fprintf(c.stdout, "  this node's copy of its log:      record %d, head %s\n", h.Held.Seq, h.Held.Head)
	pin, source := h.Held, "held"
	switch {
	case *seq != 0:
		fprintf(c.stdout, "  pinning record %d as asked, from this node's copy.\n", *seq)
	case h.Witnessed != nil && h.Agrees:
		pin, source = *h.Witnessed, "witnessed"
		fprintln(c.stdout, "  they agree: pinning the witnessed head.")
	case h.Witnessed != nil:
		fprintf(c.stdout, "  warning: this node does not hold the witnessed head (it holds the log up to record %d, or another chain): pinning its own copy. Check another node with --seq %d before revoking.\n", h.Held.Seq, h.Witnessed.Seq)
	}
	if pin.Seq == 0 {
		fprintf(c.stdout, "  its log is empty here: revoke with\n    courtmesh ca revoke --dir CA --serial %d --reason REASON --from-start\n", h.Serial)
		return nil
	}
	fprintf(c.stdout, "Revoke with:\n  courtmesh ca revoke --dir CA --serial %d --reason REASON --last-trusted-seq %d --last-trusted-head %s\n", h.Serial, pin.Seq, pin.Head)
	if *out != "" {
		wf := witnessFile{Version: 1, Serial: h.Serial, Court: h.Court, Peer: h.Peer, Seq: pin.Seq, Head: pin.Head, Source: source}
		if source == "witnessed" {
			wf.WitnessedAt = h.WitnessedAt
		}
		b, err := json.MarshalIndent(wf, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fprintf(c.stdout, "or bring %s to the authority:\n  courtmesh ca revoke --dir CA --serial %d --reason REASON --witness %s\n", *out, h.Serial, filepath.Base(*out))
	}
	return nil
}

func runCABundle(ctx context.Context, c *cli, args []string) error {
	fs, dir := caFlags(c, "bundle")
	out := fs.String("out", "", "write the bundle here")
	days := fs.Int("days", 30, "bundle validity in days")
	include := fs.String("include", "", "comma-separated certificate files issued by province issuers to include")
	includeList := fs.String("include-list", "", "a file listing certificate files to include, one path a line (for thousands: no argument-length limit)")
	var includeDirs []string
	fs.Func("include-dir", "a directory of certificate files to include, e.g. a province issuer's issued/ (repeatable)", func(v string) error {
		includeDirs = append(includeDirs, v)
		return nil
	})
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *out == "" {
		return errorf("--dir and --out are required")
	}
	a, err := ca.Open(*dir)
	if err != nil {
		return err
	}
	var files []string
	if *include != "" {
		for _, f := range strings.Split(*include, ",") {
			files = append(files, strings.TrimSpace(f))
		}
	}
	if *includeList != "" {
		raw, err := os.ReadFile(*includeList)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(raw), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				files = append(files, l)
			}
		}
	}
	for _, d := range includeDirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".cert") {
				files = append(files, filepath.Join(d, e.Name()))
			}
		}
	}
	var extra []*crypto.Certificate
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		cert, err := ca.ParseCertFile(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		extra = append(extra, cert)
	}
	b, err := a.Bundle(time.Now(), time.Duration(*days)*24*time.Hour, extra)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, b.Raw, 0o644); err != nil {
		return err
	}
	// Its root-signed head: nodes check it before they download the
	// bundle (`trust install` takes it from beside the bundle).
	if err := os.WriteFile(*out+".head", b.Head, 0o644); err != nil {
		return err
	}
	fprintf(c.stdout, "Trust bundle %d signed: %d certificates, %d revocations, expires %s: %s (head: %s.head)\n",
		b.Sequence, len(b.Certs), len(b.Revocations), b.ExpiresAt.Format(time.DateOnly), *out, *out)
	return nil
}

func runCAList(ctx context.Context, c *cli, args []string) error {
	fs, dir := caFlags(c, "list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := ca.Open(*dir)
	if err != nil {
		return err
	}
	certs, err := a.Issued()
	if err != nil {
		return err
	}
	revs, err := a.Revocations()
	if err != nil {
		return err
	}
	now := time.Now()
	tw := tabwriter.NewWriter(c.stdout, 0, 2, 2, ' ', 0)
	fprintln(tw, "SERIAL\tCOURT\tNAME\tROLES\tPARENT\tVALID UNTIL\tSTATUS\tPEER ID")
	for _, ct := range certs {
		status := T("live")
		if r, ok := revs[ct.Serial]; ok {
			status = sprintf("REVOKED %s", court.DateOf(r.RevokedAt))
			if r.LastTrustedSeq > 0 {
				status += sprintf(" after #%d", r.LastTrustedSeq)
			} else {
				status += T(" from the start")
			}
		} else if !now.Before(ct.NotAfter) {
			status = T("expired")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%s\t%s\t%s\t%s\n", ct.Serial, ct.Code, ct.Name, ct.Roles, ct.Parent, ct.NotAfter.Format(time.DateOnly), status, ct.PeerID)
	}
	return tw.Flush()
}
