package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// The end-to-end tests drive the real binary, as an operator would: each
// court's node is its own process, and every command that touches a
// running node goes through its local API.

// e2e is the built binary and a scratch directory.
type e2e struct {
	t   *testing.T
	bin string
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "courtmesh")
	start := time.Now()
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command(gobin, append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
	return &e2e{t: t, bin: bin}
}

// run runs one command and returns its combined output.
func (e *e2e) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, e.bin, args...).CombinedOutput()
	return string(out), err
}

// must runs a command that has to succeed.
func (e *e2e) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.run(args...)
	if err != nil {
		t.Fatalf("courtmesh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// mustJSON runs a command that prints JSON and decodes it.
func (e *e2e) mustJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("courtmesh %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("courtmesh %s: not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

var serialRE = regexp.MustCompile(`serial (\d+)`)

// certSerial reads the serial from `ca issue` output.
func certSerial(t *testing.T, out string) uint64 {
	t.Helper()
	m := serialRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no serial in %q", out)
	}
	s, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// prove has the authority in caDir challenge the node in data and the
// node answer, as the operator and the court's IT staff do by hand: after
// it, data's identity.json can be issued by caDir.
func (e *e2e) prove(t *testing.T, caDir, data string) {
	t.Helper()
	ch := filepath.Join(t.TempDir(), "challenge.json")
	e.must(t, "ca", "challenge", "--dir", caDir, "--identity", filepath.Join(data, datadir.IdentityFile), "--out", ch)
	e.must(t, "identity", "prove", "--data", data, "--challenge", ch)
}

// issue proves data's identity to caDir and certifies it; it returns the
// output of `ca issue`.
func (e *e2e) issue(t *testing.T, caDir, data string, args ...string) string {
	t.Helper()
	e.prove(t, caDir, data)
	return e.must(t, append([]string{"ca", "issue", "--dir", caDir, "--identity", filepath.Join(data, datadir.IdentityFile)}, args...)...)
}

// e2eCourt is one court's node in the multi-process mesh.
type e2eCourt struct {
	code, roles string
	dir         string
	peer        string
	serial      uint64
	log         string
	exportsDir  string // config exports_dir, if set
	extraConfig string // more config.toml lines, if any
	debug       bool   // run --debug
	cmd         *exec.Cmd
	done        chan error
}

// start runs `courtmesh run` with bootstrap peers and waits until its
// API answers. The process is stopped when the test ends.
func (e *e2e) start(t *testing.T, c *e2eCourt, bootstrap []string) api.Status {
	t.Helper()
	quoted := make([]string, len(bootstrap))
	for i, b := range bootstrap {
		quoted[i] = strconv.Quote(b)
	}
	cfg := fmt.Sprintf(`version = 1
listen = ["/ip4/127.0.0.1/tcp/0"]
api_listen = "127.0.0.1:0"
reconnect_interval = "1s"
bootstrap = [%s]
`, strings.Join(quoted, ", "))
	if c.exportsDir != "" {
		cfg += fmt.Sprintf("exports_dir = %q\n", c.exportsDir)
	}
	cfg += c.extraConfig
	if strings.Contains(config.DefaultConfigText, "metrics_listen") {
		// Five nodes on one machine cannot share the default metrics port.
		cfg += "metrics_listen = \"off\"\n"
	}
	if err := os.WriteFile(filepath.Join(c.dir, datadir.ConfigFile), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--data", c.dir}
	if c.debug {
		args = append(args, "--debug")
	}
	c.cmd = exec.Command(e.bin, args...)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.done = make(chan error, 1)
	go func() { c.done <- c.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-c.done:
			if err != nil {
				t.Logf("%s exited: %v", c.code, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop within 20s of SIGTERM; killing it", c.code)
			c.cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			if b, err := os.ReadFile(c.log); err == nil {
				t.Logf("--- log of %s (%s) ---\n%s", c.code, c.log, tail(string(b), 4000))
			}
		}
	})
	var st api.Status
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-c.done:
			c.done <- err // for the cleanup
			b, _ := os.ReadFile(c.log)
			t.Fatalf("%s exited before its API answered: %v\n%s", c.code, err, b)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.client(t).Do(ctx, "GET", "/v1/status", nil, &st)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: API not answering after 20s: %v", c.code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The CLI agrees with the API.
	var cliSt api.Status
	e.mustJSON(t, &cliSt, "status", "--json", "--data", c.dir)
	if cliSt.PeerID != c.peer || cliSt.CourtCode != c.code || len(cliSt.ListenAddrs) == 0 {
		t.Fatalf("%s: status = %+v, want peer %s", c.code, cliSt, c.peer)
	}
	return cliSt
}

// client is an API client on the node's socket, for fast polling.
func (c *e2eCourt) client(t *testing.T) *api.Client {
	t.Helper()
	d := datadir.Dir(c.dir)
	tok, err := os.ReadFile(d.Path(datadir.TokenFile))
	if err != nil {
		return api.NewClient(d.Path(datadir.SocketFile), "") // not started yet: the call fails
	}
	return api.NewClient(d.Path(datadir.SocketFile), strings.TrimSpace(string(tok)))
}

func (c *e2eCourt) apiPeers(t *testing.T) ([]api.Peer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ps []api.Peer
	err := c.client(t).Do(ctx, "GET", "/v1/peers", nil, &ps)
	return ps, err
}

func (c *e2eCourt) apiStatus(t *testing.T) (api.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var st api.Status
	err := c.client(t).Do(ctx, "GET", "/v1/status", nil, &st)
	return st, err
}

func peerIDs(ps []api.Peer) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.PeerID)
	}
	slices.Sort(out)
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

func TestE2E(t *testing.T) {
	e := newE2E(t)
	t.Run("MeshAndRevocation", func(t *testing.T) { e.meshAndRevocation(t) })
	t.Run("ProvinceIssuer", func(t *testing.T) { e.provinceIssuer(t) })
}

// meshAndRevocation: five courts, each its own process, certified and
// started from the CLI; then 京0108 is revoked and pushed on the operator
// node, and every other node drops it.
//
// It is long on purpose: one end-to-end story across real processes
// (certify, start, connect, revoke), each step needing the one before.
func (e *e2e) meshAndRevocation(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	e.must(t, "ca", "init", "--dir", root)
	courts := []*e2eCourt{
		{code: "最高法", roles: "court,operator"},
		{code: "京", roles: "court"},
		{code: "京01", roles: "court"},
		{code: "京0105", roles: "court"},
		{code: "京0108", roles: "court"},
	}
	const operator, victim = 0, 4
	for i, c := range courts {
		c.dir = filepath.Join(base, fmt.Sprintf("n%d", i))
		c.log = filepath.Join(base, fmt.Sprintf("n%d.log", i))
		out := e.must(t, "init", "--data", c.dir)
		raw, err := os.ReadFile(filepath.Join(c.dir, datadir.IdentityFile))
		if err != nil {
			t.Fatal(err)
		}
		var id crypto.Identity
		if err := json.Unmarshal(raw, &id); err != nil {
			t.Fatalf("%s: %v", datadir.IdentityFile, err)
		}
		c.peer = id.PeerID.String()
		if !strings.Contains(out, c.peer) {
			t.Errorf("init output does not show the peer ID %s:\n%s", c.peer, out)
		}
		for _, f := range []string{crypto.NodeKeyFile, crypto.EncKeyFile} {
			st, err := os.Stat(filepath.Join(c.dir, f))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v, mode %v; want 0600", f, err, st.Mode().Perm())
			}
		}
		out = e.issue(t, root, c.dir, "--code", c.code, "--roles", c.roles)
		c.serial = certSerial(t, out)
	}
	// ca list shows the serial issue printed.
	list := e.must(t, "ca", "list", "--dir", root)
	for _, c := range courts {
		if !regexp.MustCompile(`(?m)^` + strconv.FormatUint(c.serial, 10) + `\s+` + c.code + `\s`).MatchString(list) {
			t.Errorf("ca list has no line for %s serial %d:\n%s", c.code, c.serial, list)
		}
	}
	b1 := filepath.Join(base, "bundle-1.pb")
	e.must(t, "ca", "bundle", "--dir", root, "--out", b1)
	for _, c := range courts {
		out := e.must(t, "trust", "install", "--data", c.dir, "--root", filepath.Join(root, "root.cert"), "--bundle", b1)
		if !strings.Contains(out, c.code) {
			t.Errorf("trust install for %s: %s", c.code, out)
		}
	}

	var bootstrap []string
	for _, c := range courts {
		st := e.start(t, c, bootstrap)
		for _, a := range st.ListenAddrs {
			bootstrap = append(bootstrap, a+"/p2p/"+st.PeerID)
		}
	}
	for i, c := range courts {
		var want []string
		for j, o := range courts {
			if j != i {
				want = append(want, o.peer)
			}
		}
		slices.Sort(want)
		d := nodetest.PollUntil(t, 30*time.Second, c.code+" lists the other four courts", func() bool {
			ps, err := c.apiPeers(t)
			return err == nil && slices.Equal(peerIDs(ps), want)
		})
		var ps []api.Peer
		e.mustJSON(t, &ps, "peers", "--json", "--data", c.dir)
		if !slices.Equal(peerIDs(ps), want) {
			t.Fatalf("%s: peers --json = %v, want %v", c.code, peerIDs(ps), want)
		}
		for _, p := range ps {
			if p.CourtCode == "" {
				t.Errorf("%s: peer %s has no court code", c.code, p.PeerID)
			}
		}
		t.Logf("%s sees the other four courts (after %v more)", c.code, d.Round(time.Millisecond))
	}

	// Revoke 京0108 and push the next bundle on the operator node.
	v := courts[victim]
	// The operator's node shows the key's log head (empty: 京0108 signed
	// nothing), and what to revoke with.
	if out := e.must(t, "trust", "head", "--data", courts[operator].dir, "--serial", strconv.FormatUint(v.serial, 10)); !strings.Contains(out, "京0108") || !strings.Contains(out, "--from-start") {
		t.Errorf("trust head: %s", out)
	}
	e.must(t, "ca", "revoke", "--dir", root, "--serial", strconv.FormatUint(v.serial, 10), "--reason", "key compromised (e2e test)", "--from-start")
	b2 := filepath.Join(base, "bundle-2.pb")
	if out := e.must(t, "ca", "bundle", "--dir", root, "--out", b2); !strings.Contains(out, "Trust bundle 2") || !strings.Contains(out, "1 revocations") {
		t.Fatalf("ca bundle: %s", out)
	}
	start := time.Now()
	out := e.must(t, "trust", "push", "--data", courts[operator].dir, b2)
	pushed := time.Since(start)
	if !strings.Contains(out, "Trust bundle 2 installed") {
		t.Fatalf("trust push: %s", out)
	}
	// Poll every other node's API until each holds bundle 2 and no longer
	// lists 京0108; record when each got there.
	reached := map[string]time.Duration{}
	nodetest.PollUntil(t, 20*time.Second, "every other node on bundle 2 without 京0108", func() bool {
		for i, c := range courts {
			if i == victim || reached[c.code] != 0 {
				continue
			}
			st, err := c.apiStatus(t)
			if err != nil || st.Bundle.Sequence != 2 {
				continue
			}
			ps, err := c.apiPeers(t)
			if err != nil || slices.Contains(peerIDs(ps), v.peer) {
				continue
			}
			reached[c.code] = time.Since(start)
		}
		return len(reached) == len(courts)-1
	})
	total := time.Since(start)
	t.Logf("revocation of 京0108 (multi-process): `trust push` took %v; every other node held bundle 2 and had dropped 京0108 %v after the push started (issue target: 2s); per node: %v",
		pushed.Round(time.Millisecond), total.Round(time.Millisecond), reached)
	// The CLI shows the same.
	for i, c := range courts {
		if i == victim {
			continue
		}
		var st api.Status
		e.mustJSON(t, &st, "status", "--json", "--data", c.dir)
		if st.Bundle.Sequence != 2 || st.Bundle.Revocations != 1 {
			t.Errorf("%s: status shows bundle %d with %d revocations, want 2 with 1", c.code, st.Bundle.Sequence, st.Bundle.Revocations)
		}
		var ps []api.Peer
		e.mustJSON(t, &ps, "peers", "--json", "--data", c.dir)
		if slices.Contains(peerIDs(ps), v.peer) {
			t.Errorf("%s: peers --json still lists 京0108", c.code)
		}
		if len(ps) != len(courts)-2 {
			t.Errorf("%s: %d peers after the revocation, want %d", c.code, len(ps), len(courts)-2)
		}
		// Persisted: a restart would keep the revocation.
		raw, err := os.ReadFile(filepath.Join(c.dir, datadir.BundleFile))
		want, _ := os.ReadFile(b2)
		if err != nil || string(raw) != string(want) {
			t.Errorf("%s: %s is not bundle 2 (%v)", c.code, datadir.BundleFile, err)
		}
	}
	// The revoked node is cut off: its own peer list empties.
	d := nodetest.PollUntil(t, 20*time.Second, "京0108's own peer list empty", func() bool {
		ps, err := v.apiPeers(t)
		return err == nil && len(ps) == 0
	})
	var ps []api.Peer
	e.mustJSON(t, &ps, "peers", "--json", "--data", v.dir)
	st, _ := v.apiStatus(t)
	t.Logf("京0108's own peer list was empty %v after the revocation was observed everywhere (CLI now lists %d peers; it holds bundle %d)",
		d.Round(time.Millisecond), len(ps), st.Bundle.Sequence)
	// A second push of the same bundle changes nothing.
	if out := e.must(t, "trust", "push", "--data", courts[1].dir, b2); !strings.Contains(out, "nothing changed") {
		t.Errorf("pushing bundle 2 again: %s", out)
	}
	// An older bundle is refused as not newer.
	if out := e.must(t, "trust", "push", "--data", courts[1].dir, b1); !strings.Contains(out, "nothing changed") {
		t.Errorf("pushing bundle 1 after 2: %s", out)
	}
	// A bundle signed by another root is refused with a clear error, and
	// the node keeps bundle 2.
	other := filepath.Join(base, "other-root")
	e.must(t, "ca", "init", "--dir", other)
	ob := filepath.Join(base, "other.pb")
	for range 3 { // sequence 3: newer than ours, so only the signer is wrong
		e.must(t, "ca", "bundle", "--dir", other, "--out", ob)
	}
	out, err := e.run("trust", "push", "--data", courts[1].dir, ob)
	if err == nil || !strings.Contains(out, "not the national root") {
		t.Errorf("pushing a bundle of another root: %v\n%s", err, out)
	}
	if st, err := courts[1].apiStatus(t); err != nil || st.Bundle.Sequence != 2 {
		t.Errorf("after a foreign bundle: %+v, %v; want bundle 2", st.Bundle, err)
	}
}

// provinceIssuer: the root certifies a province-limited issuer for 沪,
// which certifies 沪0101 and is refused 京0105.
func (e *e2e) provinceIssuer(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	hc := filepath.Join(base, "hc")
	e.must(t, "ca", "init", "--dir", root)
	e.must(t, "ca", "init", "--issuer", "--dir", hc)
	hu, jing := filepath.Join(base, "hu0101"), filepath.Join(base, "jing0105")
	e.must(t, "init", "--data", hu)
	e.must(t, "init", "--data", jing)

	// Before its certificate is installed the issuer cannot issue.
	out, err := e.run("ca", "issue", "--dir", hc, "--identity", filepath.Join(hu, datadir.IdentityFile), "--code", "沪0101")
	if err == nil || !strings.Contains(out, "no certificate yet") {
		t.Errorf("issue before ca install: %v\n%s", err, out)
	}

	hcCert := filepath.Join(base, "hc.cert")
	out = e.must(t, "ca", "issue", "--dir", root, "--identity", filepath.Join(hc, "identity.json"), "--code", "沪", "--roles", "issuer", "--out", hcCert)
	if !strings.Contains(out, "沪") || !strings.Contains(out, "issuer") {
		t.Errorf("root issue of the 沪 issuer: %s", out)
	}
	e.must(t, "ca", "install", "--dir", hc, "--cert", hcCert, "--root", filepath.Join(root, "root.cert"))

	huCert := filepath.Join(base, "hu0101.cert")
	out = e.issue(t, hc, hu, "--code", "沪0101", "--out", huCert)
	if !strings.Contains(out, "Certified 沪0101") {
		t.Errorf("issuer issue of 沪0101: %s", out)
	}
	issued := func() int {
		ents, err := os.ReadDir(filepath.Join(hc, "issued"))
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := issued()
	e.prove(t, hc, jing)
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--code", "京0105"}, []string{"沪", "京0105", "may not certify"}},
		{[]string{"--code", "沪0102", "--name", "上海 test court", "--roles", "court,operator"}, []string{"only the national root", "operator"}},
		{[]string{"--code", "沪01", "--roles", "issuer"}, []string{"only the national root"}},
	} {
		args := append([]string{"ca", "issue", "--dir", hc, "--identity", filepath.Join(jing, datadir.IdentityFile)}, tt.args...)
		out, err := e.run(args...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitPermission {
			t.Errorf("%v: %v, want exit status %d (not permitted)\n%s", tt.args, err, exitPermission, out)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: the error does not say %q:\n%s", tt.args, w, out)
			}
		}
		t.Logf("%v refused: %s", tt.args, strings.TrimSpace(out))
	}
	if n := issued(); n != before {
		t.Errorf("refused issues left %d certificates in issued/", n-before)
	}
	// An issuer neither revokes nor signs bundles.
	if out, err := e.run("ca", "bundle", "--dir", hc, "--out", filepath.Join(base, "x.pb")); err == nil {
		t.Errorf("an issuer signed a bundle:\n%s", out)
	}
	// The root bundles the issuer's certificate; 沪0101 installs it.
	b := filepath.Join(base, "bundle.pb")
	e.must(t, "ca", "bundle", "--dir", root, "--out", b, "--include", huCert)
	out = e.must(t, "trust", "install", "--data", hu, "--root", filepath.Join(root, "root.cert"), "--bundle", b)
	if !strings.Contains(out, "certified as 沪0101") {
		t.Errorf("trust install on 沪0101: %s", out)
	}
}
