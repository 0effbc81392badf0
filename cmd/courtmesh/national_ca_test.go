package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/crypto/ca"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/trust"
	"courtmesh.dev/courtmesh/storage/scalegen"
)

// TestNationalBundleCA runs the CA tools at national size through the
// real binary: a root that certified 最高法, the 33 high courts and one
// issuer per province, the issuers that certified the 3,466 intermediate
// and basic courts in their own directories; `ca bundle` takes the
// issuers' 3,466 certificates from a list file (no argument-length
// limit) and signs the 3,534-certificate bundle with its head; `trust
// install` takes both; `ca revoke` writes each revocation as a delta of a
// few hundred bytes that applies to the bundle, with the log cut-off.
//
// It is long on purpose: one story, the national CA's tools run in
// order, each step taking the files the one before wrote.
func TestNationalBundleCA(t *testing.T) {
	e := newE2E(t)
	base := t.TempDir()
	rootDir := filepath.Join(base, "root")
	e.must(t, "ca", "init", "--dir", rootDir)
	root, err := ca.Open(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	rootRaw, err := os.ReadFile(filepath.Join(rootDir, ca.RootFile))
	if err != nil {
		t.Fatal(err)
	}
	// 最高法's node is a real data directory, so that `trust install`
	// runs on the national bundle.
	node := filepath.Join(base, "node")
	e.must(t, "init", "--data", node)
	idRaw, err := os.ReadFile(filepath.Join(node, datadir.IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	var nodeID crypto.Identity
	if err := json.Unmarshal(idRaw, &nodeID); err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	nb, na := now.Add(-time.Hour), now.Add(365*24*time.Hour)
	newID := func() *crypto.Identity {
		k, err := crypto.GenerateNodeKey()
		if err != nil {
			t.Fatal(err)
		}
		ek, err := crypto.GenerateEncKey()
		if err != nil {
			t.Fatal(err)
		}
		id, err := crypto.NewIdentity(k, ek)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	issuers := map[court.CourtCode]*ca.CA{}
	var serials []uint64
	for _, code := range scalegen.Courts() {
		switch code.Level() {
		case court.LevelSupreme:
			c, err := root.Issue(crypto.Template{Code: code, Name: "最高人民法院", Identity: &nodeID,
				Roles: []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}, NotBefore: nb, NotAfter: na})
			if err != nil {
				t.Fatal(err)
			}
			serials = append(serials, c.Serial)
		case court.LevelHigh:
			c, err := root.Issue(crypto.Template{Code: code, Name: string(code) + " high court", Identity: newID(),
				Roles: []crypto.Role{crypto.RoleCourt}, NotBefore: nb, NotAfter: na})
			if err != nil {
				t.Fatal(err)
			}
			serials = append(serials, c.Serial)
			dir := filepath.Join(base, "issuer-"+string(code))
			iid, err := ca.InitIssuer(dir)
			if err != nil {
				t.Fatal(err)
			}
			ic, err := root.Issue(crypto.Template{Code: code, Name: string(code) + " issuer", Identity: iid,
				Roles: []crypto.Role{crypto.RoleIssuer}, Scope: code, NotBefore: nb, NotAfter: na.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := ic.Envelope.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if err := ca.InstallCert(dir, raw, rootRaw); err != nil {
				t.Fatal(err)
			}
			if issuers[code], err = ca.Open(dir); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The issuers certify their provinces' courts, a few at once.
	var lower []court.CourtCode
	for _, code := range scalegen.Courts() {
		if code.Level() == court.LevelIntermediate || code.Level() == court.LevelBasic {
			lower = append(lower, code)
		}
	}
	var mu sync.Mutex
	var files []string
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	work := make(chan court.CourtCode)
	for range runtime.GOMAXPROCS(0) + 2 {
		wg.Go(func() {
			for code := range work {
				prov := court.CourtCode([]rune(string(code))[:1])
				is := issuers[prov]
				c, err := is.Issue(crypto.Template{Code: code, Name: string(code) + " court", Identity: newID(),
					Roles: []crypto.Role{crypto.RoleCourt}, NotBefore: nb, NotAfter: na})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				mu.Lock()
				files = append(files, filepath.Join(base, "issuer-"+string(prov), ca.IssuedDir, fmt.Sprintf("%d.cert", c.Serial)))
				mu.Unlock()
			}
		})
	}
	// Issuers are not safe for concurrent Issue on one directory: one
	// province at a time per worker would be more careful, but Issue
	// creates each file exclusively and appends its index line whole.
	for _, code := range lower {
		work <- code
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	list := filepath.Join(base, "province-certs.txt")
	if err := os.WriteFile(list, []byte(strings.Join(files, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d certificates issued by the root, %d by 33 province issuers; the list file is %d KB", len(serials)+len(issuers), len(files), len(strings.Join(files, "\n"))/1024)

	// ca bundle, from the CA directory and the list file.
	bundleFile := filepath.Join(base, "bundle.pb")
	start := time.Now()
	out := e.must(t, "ca", "bundle", "--dir", rootDir, "--out", bundleFile, "--include-list", list)
	t.Logf("ca bundle (3,534 certificates, the binary's whole run): %v", time.Since(start))
	if !strings.Contains(out, "Trust bundle 1 signed: 3534 certificates") {
		t.Fatalf("ca bundle said: %s", out)
	}
	raw, err := os.ReadFile(bundleFile)
	if err != nil {
		t.Fatal(err)
	}
	b1, err := crypto.OpenBundle(root.Root, raw)
	if err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile(bundleFile + ".head")
	if err != nil {
		t.Fatal(err)
	}
	if h, err := crypto.OpenBundleHead(root.Root, head); err != nil || !h.Matches(b1) {
		t.Fatalf("the head beside the bundle: %v", err)
	}
	e.must(t, "trust", "install", "--data", node, "--root", filepath.Join(rootDir, ca.RootFile), "--bundle", bundleFile)
	if got, err := os.ReadFile(filepath.Join(node, trust.HeadFile)); err != nil || string(got) != string(head) {
		t.Errorf("trust install did not keep the head: %v", err)
	}

	// ca revoke writes deltas: one from the start, one with a cut-off.
	seqRE := regexp.MustCompile(`Bundle delta (\d+) \(on bundle (\d+), (\d+) bytes\)`)
	d2File, d3File := filepath.Join(base, "d2.pb"), filepath.Join(base, "d3.pb")
	victim, victim2 := serials[5], serials[6]
	start = time.Now()
	out = e.must(t, "ca", "revoke", "--dir", rootDir, "--serial", fmt.Sprint(victim), "--reason", "key lost (test)", "--from-start", "--out", d2File)
	t.Logf("ca revoke with its delta (the binary's whole run): %v", time.Since(start))
	if m := seqRE.FindStringSubmatch(out); m == nil || m[1] != "2" || m[2] != "1" {
		t.Fatalf("ca revoke said: %s", out)
	}
	head42 := strings.Repeat("ab", 32)
	out = e.must(t, "ca", "revoke", "--dir", rootDir, "--serial", fmt.Sprint(victim2), "--reason", "key compromised (test)",
		"--last-trusted-seq", "42", "--last-trusted-head", head42, "--out", d3File)
	if m := seqRE.FindStringSubmatch(out); m == nil || m[1] != "3" || m[2] != "2" {
		t.Fatalf("ca revoke said: %s", out)
	}
	b := b1
	for _, f := range []string{d2File, d3File} {
		d, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(d) > 1024 {
			t.Errorf("%s: %d bytes for one revocation", filepath.Base(f), len(d))
		}
		if b, err = crypto.ApplyDelta(root.Root, b, d); err != nil {
			t.Fatalf("%s does not apply: %v", filepath.Base(f), err)
		}
	}
	tr := crypto.NewTrust(root.Root, b)
	if r, ok := tr.Revocation(victim); !ok || r.LastTrusted != nil {
		t.Errorf("revocation of %d: %+v, %v; want from the start", victim, r, ok)
	}
	if r, ok := tr.Revocation(victim2); !ok || r.LastTrusted == nil || r.LastTrusted.Seq != 42 {
		t.Errorf("revocation of %d: %+v, %v; want after record 42", victim2, r, ok)
	}
	// The next whole bundle says the same as bundle 1 and the two deltas,
	// once re-signed: sequence 4, both revocations.
	start = time.Now()
	out = e.must(t, "ca", "bundle", "--dir", rootDir, "--out", bundleFile, "--include-list", list)
	t.Logf("ca bundle again (certificates verified before are in %s; the binary's whole run): %v", ca.CertCacheFile, time.Since(start))
	if !strings.Contains(out, "Trust bundle 4 signed: 3534 certificates, 2 revocations") {
		t.Errorf("ca bundle after the revocations said: %s", out)
	}
}
