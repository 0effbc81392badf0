package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	rtdebug "runtime/debug"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/crypto/pkcs11key"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/trust"
)

func init() {
	register(&command{name: "init", summary: "create a node's keys and data directory; prints its identity for the certificate authority", run: runInit})
	register(&command{name: "run", summary: "run the node (the daemon)", run: runNode})
	register(&command{name: "status", summary: "show a running node's status", run: runStatus})
	register(&command{name: "peers", summary: "list a running node's connected courts", run: runPeers})
	register(&command{name: "trust", summary: "install or push trust bundles", subs: []*command{
		{name: "install", summary: "pin the national root and install a first bundle (node stopped)", run: runTrustInstall},
		{name: "push", summary: "push a newer bundle to a running node, which spreads it to the mesh", run: runTrustPush},
		{name: "head", summary: "a key's record log head, witnessed and held: the cut-off for `ca revoke`", run: runTrustHead},
	}})
}

func runInit(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "init")
	rootFile := fs.String("root", "", "the national root certificate (root.cert): the node's keys follow its algorithm suite (v1 or sm); without it, v1")
	p11Module := fs.String("pkcs11-module", "", "keep the node key in a PKCS#11 token: the module's path (e.g. /usr/lib/softhsm/libsofthsm2.so)")
	p11Token := fs.String("pkcs11-token", "", "the token's label (with --pkcs11-module)")
	p11Label := fs.String("pkcs11-label", "", "the key's label in the token (default \"courtmesh node key\")")
	p11PIN := fs.String("pkcs11-pin-file", "", sprintf("a file (mode 0600) holding the token's user PIN; without it the PIN is read from $%s (never from the command line)", pkcs11key.PINEnv))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*p11Module == "") != (*p11Token == "") {
		return errorf("--pkcs11-module and --pkcs11-token go together")
	}
	if *data == "" {
		return errorf("--data is required: the directory to create")
	}
	suite := crypto.SuiteV1
	if *rootFile != "" {
		raw, err := os.ReadFile(*rootFile)
		if err != nil {
			return err
		}
		root, err := datadir.ParseRoot(raw)
		if err != nil {
			return errorf("--root %s: %w", *rootFile, err)
		}
		suite = root.Suite
	}
	var id *crypto.Identity
	var err error
	if *p11Module != "" {
		if suite != crypto.SuiteV1 {
			return errorf("--pkcs11-module: %w: this build keeps only suite v1's Ed25519 node key in a PKCS#11 token; an SM2 token key needs a device with SM2 (see docs/operations.md)", crypto.ErrUnsupportedSuite)
		}
		id, err = datadir.InitToken(datadir.Dir(*data), datadir.TokenOptions{Module: *p11Module, Token: *p11Token, Label: *p11Label, PINFile: *p11PIN})
	} else {
		id, err = datadir.InitSuite(datadir.Dir(*data), suite)
	}
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	if *p11Module != "" {
		fprintf(c.stdout, "Node key created in PKCS#11 token %q (node.key names it; the private key never leaves the token); enc.key in %s (mode 0600).\n", *p11Token, *data)
	} else if suite == crypto.SuiteV1 {
		fprintf(c.stdout, "Node keys created in %s (node.key and enc.key, mode 0600).\n", *data)
	} else {
		fprintf(c.stdout, "Node keys of suite %s created in %s (node.key: Ed25519 transport key; sign.key: SM2 signing key; enc.key: SM2 encryption key; mode 0600).\n", suite.Name(), *data)
	}
	fprintf(c.stdout, "Peer ID: %s\n\n", id.PeerID)
	fprintf(c.stdout, "Send this identity (also in %s) to the certificate authority:\n%s\n\nThe authority answers with a challenge file; answer it with\n  courtmesh identity prove --data %s --challenge <file>\nand send back the identity.json that writes.\n", filepath.Join(*data, datadir.IdentityFile), b, *data)
	return nil
}

func runTrustInstall(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "trust install")
	root := fs.String("root", "", "the national root certificate file (check its fingerprint with the national operator)")
	bundle := fs.String("bundle", "", "the trust bundle file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" || *root == "" || *bundle == "" {
		return errorf("--data, --root and --bundle are required")
	}
	rootRaw, err := os.ReadFile(*root)
	if err != nil {
		return err
	}
	bRaw, err := os.ReadFile(*bundle)
	if err != nil {
		return err
	}
	b, self, err := datadir.InstallTrust(datadir.Dir(*data), rootRaw, bRaw)
	if err != nil {
		return err
	}
	// The bundle's root-signed head, if `ca bundle` wrote one beside it:
	// the node offers it to peers, which check it before downloading.
	if hr, err := os.ReadFile(*bundle + ".head"); err == nil {
		if h, herr := crypto.OpenBundleHead(b.Certs[0], hr); herr == nil && h.Matches(b) {
			if err := datadir.WriteFileAtomic(datadir.Dir(*data).Path(trust.HeadFile), hr, 0o644); err != nil {
				return err
			}
		} else {
			fprintf(c.stderr, "warning: %s.head is not the head of this bundle; ignored\n", *bundle)
		}
	}
	fprintf(c.stdout, "Installed trust bundle %d (%d certificates, expires %s).\nThis node is certified as %s %s (serial %d, valid until %s).\n",
		b.Sequence, len(b.Certs), b.ExpiresAt.Format(time.DateOnly), self.Code, self.Name, self.Serial, self.NotAfter.Format(time.DateOnly))
	return nil
}

// client returns an API client for the node in data.
func client(data string) (*api.Client, error) {
	if data == "" {
		return nil, errorf("--data is required: the node's data directory")
	}
	d := datadir.Dir(data)
	if own := os.Getenv(personalTokenEnv); own != "" { // a person acting as themselves (user.go)
		return api.NewClient(d.Path(datadir.SocketFile), own), nil
	}
	tok, err := os.ReadFile(d.Path(datadir.TokenFile))
	if err != nil {
		return nil, errorf("%w: no API token in %s (has the node been started?)", api.ErrNodeNotRunning, data)
	}
	return api.NewClient(d.Path(datadir.SocketFile), strings.TrimSpace(string(tok))), nil
}

func runTrustPush(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "trust push")
	headFile := fs.String("head", "", "the bundle's root-signed head (default: BUNDLE.head, which `ca bundle` writes beside the bundle)")
	noHead := fs.Bool("no-head", false, "push a whole bundle without its head (a bundle from a CA that wrote none): every peer then downloads it whole before it can check it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("usage: courtmesh trust push --data DIR [--head FILE | --no-head] BUNDLE")
	}
	if *headFile != "" && *noHead {
		return errorf("--head and --no-head exclude each other")
	}
	file := fs.Arg(0)
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	head, err := pushHead(file, raw, *headFile, *noHead)
	if err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	res, err := cl.PushBundle(ctx, raw, head)
	if err != nil {
		return err
	}
	if res.Installed {
		fprintf(c.stdout, "Trust bundle %d installed and announced to the mesh.\n", res.Sequence)
		if *noHead {
			fprintf(c.stdout, "It was announced without a head: every peer downloads it whole before it can check it.\n")
		}
	} else {
		fprintf(c.stdout, "The node already holds bundle %d or newer; nothing changed.\n", res.Sequence)
	}
	return nil
}

// pushHead finds the root-signed head to push with the bundle raw read
// from file: headFile if named, else file.head (`ca bundle` writes it
// there). A delta has none. A whole bundle without one is refused unless
// noHead: the node would announce it without a head, and every peer would
// download it whole on the announcer's word before it could check it.
func pushHead(file string, raw []byte, headFile string, noHead bool) ([]byte, error) {
	if _, err := crypto.PeekDelta(raw); err == nil {
		if headFile != "" {
			return nil, errorf("%s is a delta, which has no head: push it without --head", file)
		}
		return nil, nil
	}
	if noHead {
		return nil, nil
	}
	if headFile != "" {
		return os.ReadFile(headFile)
	}
	head, err := os.ReadFile(file + ".head")
	if errors.Is(err, os.ErrNotExist) {
		return nil, errorf("%w: no head for %s: %s.head does not exist. `ca bundle` writes the bundle's root-signed head beside it, and peers check the head before they download the bundle; name it with --head FILE, or pass --no-head to push the bundle without it (every peer then downloads it whole before it can check it)", court.ErrInvalid, file, file)
	}
	return head, err
}

func runStatus(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "status")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var st api.Status
	if err := cl.Do(ctx, "GET", "/v1/status", nil, &st); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, st)
	}
	printStatus(c.stdout, st)
	return nil
}

func printStatus(w io.Writer, st api.Status) {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fprintf(tw, "Court\t%s %s\n", st.CourtCode, st.CourtName)
	fprintf(tw, "Roles\t%s\n", strings.Join(st.Roles, ", "))
	fprintf(tw, "Peer ID\t%s\n", st.PeerID)
	fprintf(tw, "Certificate\tserial %d, valid until %s\n", st.Serial, st.CertExpires.Format(time.DateOnly))
	fprintf(tw, "Listening\t%s\n", strings.Join(st.ListenAddrs, " "))
	fprintf(tw, "Peers\t%d connected\n", st.Peers)
	fprintf(tw, "Trust bundle\t#%d, %s, expires %s (%d days), %d certificates, %d revocations\n",
		st.Bundle.Sequence, st.Bundle.State, st.Bundle.ExpiresAt.Format(time.DateOnly), st.Bundle.DaysLeft, st.Bundle.Certificates, st.Bundle.Revocations)
	fprintf(tw, "Version\t%s, up since %s\n", st.Version, st.Started.Format(time.RFC3339))
	tw.Flush()
}

func runPeers(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "peers")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var ps []api.Peer
	if err := cl.Do(ctx, "GET", "/v1/peers", nil, &ps); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, ps)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 2, 2, ' ', 0)
	fprintln(tw, "COURT\tNAME\tLEVEL\tROLES\tPEER ID\tADDRESS")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.CourtCode, p.CourtName, p.Level, strings.Join(p.Roles, ","), p.PeerID, strings.Join(p.Addrs, " "))
	}
	return tw.Flush()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newLogger builds the daemon's logger.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// setFlags collects repeated --set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func runNode(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "run")
	debug := fs.Bool("debug", false, "log at debug level")
	configFile := fs.String("config", "", "configuration file (default: DATA/config.toml)")
	var sets setFlags
	fs.Var(&sets, "set", "override a configuration key, e.g. --set api_listen=127.0.0.1:4781 (repeatable; wins over COURTMESH_<KEY> environment variables, which win over the file)")
	var prof profiles
	fs.StringVar(&prof.cpu, "cpuprofile", "", "debugging: write a Go CPU profile of the node's whole run to `file` (read it with go tool pprof)")
	fs.StringVar(&prof.heap, "memprofile", "", "debugging: write a Go heap profile to `file` when the node is told to stop")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return errorf("--data is required: the node's data directory")
	}
	d := datadir.Dir(*data)
	if *configFile == "" {
		*configFile = d.Path(datadir.ConfigFile)
	}
	cfg, err := config.Load(*configFile)
	if err != nil {
		return err
	}
	if err := cfg.Override(os.Getenv, sets); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := newLogger(c.stderr, cfg.LogFormat, level)
	if err := prof.start(ctx); err != nil {
		return err
	}
	// The collector lets garbage grow to the size of the live heap
	// before it collects (GOGC=100). A node's live heap counts Badger's
	// memtable, allocated whole (21 MB) but written only as writes come:
	// at 100 a node carried some 30 MB of garbage for 11 MB of live data
	// it had touched (issue 22). The pacer allows 50% of the node's own
	// live heap instead, unless the environment sets its own GOGC.
	var pacer *gcPacer
	if os.Getenv("GOGC") == "" {
		pacer = newGCPacer(log)
		rtdebug.SetGCPercent(pacer.percent)
	}
	n, err := node.New(node.Options{Dir: d, Config: &cfg, Logger: log})
	if err != nil {
		return errors.Join(err, prof.stop())
	}
	// Opening the node decoded the trust bundle (a national one is 5 MB
	// of 3,500 certificates) and the store, leaving garbage several
	// times the size of what stays live; the garbage collector would
	// keep those pages for the node's life. Return them to the system
	// once, now.
	rtdebug.FreeOSMemory()
	gctx, stopGovernor := context.WithCancel(ctx)
	var governed sync.WaitGroup
	governed.Go(func() { newProcGovernor(log).Serve(gctx) })
	if pacer != nil {
		governed.Go(func() { pacer.Serve(gctx) })
	}
	err = n.Serve(ctx)
	stopGovernor()
	governed.Wait()
	return errors.Join(err, prof.stop())
}
