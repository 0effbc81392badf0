package ca

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

var fixNow = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const (
	year    = 365 * 24 * time.Hour
	bundleV = 30 * 24 * time.Hour
)

// newRoot makes a national root in a fresh directory.
func newRoot(t *testing.T) *CA {
	t.Helper()
	r, err := InitRoot(filepath.Join(t.TempDir(), "root"), "test root", fixNow.Add(-time.Hour), 10*year)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// nodeIdentity is the public identity of a fresh court node.
func nodeIdentity(t *testing.T) *crypto.Identity {
	t.Helper()
	nk, err := crypto.GenerateNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	ek, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	id, err := crypto.NewIdentity(nk, ek)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func courtTemplate(t *testing.T, code court.CourtCode) crypto.Template {
	return crypto.Template{
		Code: code, Name: string(code) + " test court", Identity: nodeIdentity(t),
		Roles: []crypto.Role{crypto.RoleCourt}, NotBefore: fixNow.Add(-time.Hour), NotAfter: fixNow.Add(year),
	}
}

// newProvinceIssuer sets up a province issuer for scope: InitIssuer, the
// root certifies identity.json, InstallCert, Open.
func newProvinceIssuer(t *testing.T, root *CA, scope court.CourtCode) *CA {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "issuer-"+string(scope))
	if _, err := InitIssuer(dir); err != nil {
		t.Fatal(err)
	}
	certRaw, rootRaw := certifyIssuer(t, root, dir, scope, fixNow.Add(2*year))
	if err := InstallCert(dir, certRaw, rootRaw); err != nil {
		t.Fatal(err)
	}
	iss, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// certifyIssuer has root certify the identity in dir's identity.json as
// an issuer for scope, and returns the certificate and the root
// certificate as files.
func certifyIssuer(t *testing.T, root *CA, dir string, scope court.CourtCode, notAfter time.Time) (certRaw, rootRaw []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	var id crypto.Identity
	if err := json.Unmarshal(b, &id); err != nil {
		t.Fatal(err)
	}
	c, err := root.Issue(crypto.Template{
		Code: scope, Name: string(scope) + " issuer", Identity: &id, Roles: []crypto.Role{crypto.RoleIssuer},
		Scope: scope, NotBefore: fixNow.Add(-time.Hour), NotAfter: notAfter,
	})
	if err != nil {
		t.Fatal(err)
	}
	return marshal(t, c), marshal(t, root.Root)
}

func marshal(t *testing.T, c *crypto.Certificate) []byte {
	t.Helper()
	raw, err := c.Envelope.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func issuedNames(t *testing.T, a *CA) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(a.dir, IssuedDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestInitRoot(t *testing.T) {
	r := newRoot(t)
	if !r.IsRoot() || r.Cert.Serial != r.Root.Serial || !r.Cert.SelfSigned() {
		t.Fatalf("a new root is its own issuer: %v / %v", r.Cert, r.Root)
	}
	if err := r.Cert.VerifyIssuedBy(r.Cert); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		perm os.FileMode
	}{{KeyFile, 0o600}, {StateFile, 0o600}, {CertFile, 0o644}, {RootFile, 0o644}, {IdentityFile, 0o644}} {
		fi, err := os.Stat(filepath.Join(r.dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != f.perm {
			t.Errorf("%s: mode %v, want %v", f.name, fi.Mode().Perm(), f.perm)
		}
	}
	keyBefore, err := os.ReadFile(filepath.Join(r.dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a second InitRoot keeps the key", func(t *testing.T) {
		if _, err := InitRoot(r.dir, "another root", fixNow, year); !errors.Is(err, court.ErrConflict) {
			t.Fatalf("InitRoot over an existing root: %v, want a conflict", err)
		}
		if _, err := InitIssuer(r.dir); !errors.Is(err, court.ErrConflict) {
			t.Fatalf("InitIssuer over an existing root: %v, want a conflict", err)
		}
		after, err := os.ReadFile(filepath.Join(r.dir, KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(after, keyBefore) {
			t.Fatal("the root key was replaced")
		}
	})

	t.Run("reopen", func(t *testing.T) {
		o, err := Open(r.dir)
		if err != nil {
			t.Fatal(err)
		}
		if !o.IsRoot() || o.Cert.Serial != r.Cert.Serial || !o.Cert.SigningKey.Equals(r.Cert.SigningKey) {
			t.Fatalf("reopened root differs: %v", o.Cert)
		}
	})
}

func TestIssue(t *testing.T) {
	root := newRoot(t)
	jing := newProvinceIssuer(t, root, "京")
	taken, err := root.Issue(courtTemplate(t, "京0101"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		by      *CA
		tmpl    func(t *testing.T) crypto.Template
		wantErr error
	}{
		{name: "root certifies a court", by: root, tmpl: func(t *testing.T) crypto.Template { return courtTemplate(t, "沪0101") }},
		{name: "root certifies an operator", by: root, tmpl: func(t *testing.T) crypto.Template {
			c := courtTemplate(t, court.Supreme)
			c.Roles = []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}
			return c
		}},
		{name: "province issuer certifies a court of its province", by: jing, tmpl: func(t *testing.T) crypto.Template { return courtTemplate(t, "京0105") }},
		{name: "province issuer certifies its own high court", by: jing, tmpl: func(t *testing.T) crypto.Template { return courtTemplate(t, "京") }},
		{name: "province issuer refuses another province", by: jing, wantErr: crypto.ErrNotAuthorised,
			tmpl: func(t *testing.T) crypto.Template { return courtTemplate(t, "沪0101") }},
		{name: "province issuer refuses the supreme court", by: jing, wantErr: crypto.ErrNotAuthorised,
			tmpl: func(t *testing.T) crypto.Template { return courtTemplate(t, court.Supreme) }},
		{name: "province issuer refuses an operator", by: jing, wantErr: crypto.ErrNotAuthorised, tmpl: func(t *testing.T) crypto.Template {
			c := courtTemplate(t, "京0105")
			c.Roles = []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}
			return c
		}},
		{name: "province issuer refuses another issuer", by: jing, wantErr: crypto.ErrNotAuthorised, tmpl: func(t *testing.T) crypto.Template {
			c := courtTemplate(t, "京01")
			c.Roles, c.Scope = []crypto.Role{crypto.RoleIssuer}, "京01"
			return c
		}},
		{name: "province issuer refuses a certificate that outlives its own", by: jing, wantErr: crypto.ErrNotAuthorised, tmpl: func(t *testing.T) crypto.Template {
			c := courtTemplate(t, "京0105")
			c.NotAfter = jing.Cert.NotAfter.Add(time.Hour)
			return c
		}},
		{name: "no identity", by: root, wantErr: crypto.ErrMalformed, tmpl: func(t *testing.T) crypto.Template {
			c := courtTemplate(t, "京0105")
			c.Identity = nil
			return c
		}},
		{name: "serial already issued", by: root, wantErr: court.ErrConflict, tmpl: func(t *testing.T) crypto.Template {
			c := courtTemplate(t, "京0102")
			c.Serial = taken.Serial
			return c
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := issuedNames(t, tt.by)
			tmpl := tt.tmpl(t)
			c, err := tt.by.Issue(tmpl)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Issue: %v, want %v", err, tt.wantErr)
				}
				if after := issuedNames(t, tt.by); !slices.Equal(before, after) {
					t.Fatalf("a refused certificate changed issued/: %v -> %v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Code != tmpl.Code || c.IssuerSerial != tt.by.Cert.Serial || !c.SigningKey.Equals(tmpl.Identity.SigningKey) {
				t.Fatalf("issued %v, from template %s by %v", c, tmpl.Code, tt.by.Cert)
			}
			if err := c.VerifyIssuedBy(tt.by.Cert); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(tt.by.dir, IssuedDir, fmt.Sprintf("%d.cert", c.Serial)))
			if err != nil {
				t.Fatalf("no copy in issued/: %v", err)
			}
			if !bytes.Equal(raw, marshal(t, c)) {
				t.Fatal("the copy in issued/ is not the certificate returned")
			}
		})
	}

	t.Run("the certificate on file survives a serial collision", func(t *testing.T) {
		path := filepath.Join(root.dir, IssuedDir, fmt.Sprintf("%d.cert", taken.Serial))
		onFile, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseCertFile(onFile)
		if err != nil {
			t.Fatal(err)
		}
		if c.Code != taken.Code {
			t.Fatalf("issued/%d.cert now certifies %s, want %s", taken.Serial, c.Code, taken.Code)
		}
	})

	t.Run("Issued lists every certificate in serial order", func(t *testing.T) {
		certs, err := root.Issued()
		if err != nil {
			t.Fatal(err)
		}
		// jing's issuer certificate, 京0101, 沪0101 and the operator.
		if len(certs) != 4 {
			t.Fatalf("root issued %d certificates, want 4", len(certs))
		}
		if !slices.IsSortedFunc(certs, func(a, b *crypto.Certificate) int { return cmpSerial(a.Serial, b.Serial) }) {
			t.Fatal("not in serial order")
		}
	})
}

func cmpSerial(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestBundleSequence: the sequence grows by one with every bundle, across
// reopening the directory, and what a bundle carries.
func TestBundleSequence(t *testing.T) {
	root := newRoot(t)
	jing := newProvinceIssuer(t, root, "京")
	a := must(root.Issue(courtTemplate(t, "沪0101")))
	expiring := courtTemplate(t, "沪0102")
	expiring.NotAfter = fixNow.Add(24 * time.Hour)
	gone := must(root.Issue(expiring))
	fromJing := must(jing.Issue(courtTemplate(t, "京0105")))

	var seq uint64
	for i := range 3 {
		dir := root.dir
		o, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			b, err := o.Bundle(fixNow, bundleV, nil)
			if err != nil {
				t.Fatal(err)
			}
			if b.Sequence != seq+1 {
				t.Fatalf("open %d: bundle sequence %d after %d", i, b.Sequence, seq)
			}
			seq = b.Sequence
		}
		st, err := loadState(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.BundleSequence != seq {
			t.Fatalf("state.json holds %d, the last bundle was %d", st.BundleSequence, seq)
		}
	}

	t.Run("contents", func(t *testing.T) {
		if err := root.Revoke(a.Serial, "key compromise", fixNow); err != nil {
			t.Fatal(err)
		}
		// A day and a second later the expiring certificate is gone;
		// fromJing is passed twice and listed once.
		now := fixNow.Add(24*time.Hour + time.Second)
		b, err := root.Bundle(now, bundleV, []*crypto.Certificate{fromJing, fromJing})
		if err != nil {
			t.Fatal(err)
		}
		opened, err := crypto.OpenBundle(root.Root, b.Raw)
		if err != nil {
			t.Fatalf("the bundle does not verify against the root: %v", err)
		}
		var serials []uint64
		for _, c := range opened.Certs {
			serials = append(serials, c.Serial)
		}
		want := map[string]bool{"root": true, "jing issuer": true, "沪0101 (revoked but listed)": true, "京0105 from jing": true}
		has := map[string]bool{
			"root":                       slices.Contains(serials, root.Cert.Serial),
			"jing issuer":                slices.Contains(serials, jing.Cert.Serial),
			"沪0101 (revoked but listed)": slices.Contains(serials, a.Serial),
			"京0105 from jing":            slices.Contains(serials, fromJing.Serial),
		}
		for k := range want {
			if !has[k] {
				t.Errorf("the bundle lacks %s: %v", k, serials)
			}
		}
		if slices.Contains(serials, gone.Serial) {
			t.Errorf("the bundle lists the expired certificate %d", gone.Serial)
		}
		if n := len(serials); n != 4 {
			t.Errorf("the bundle lists %d certificates, want 4: %v", n, serials)
		}
		if len(opened.Revocations) != 1 || opened.Revocations[0].Serial != a.Serial || opened.Revocations[0].Reason != "key compromise" {
			t.Errorf("revocations: %+v", opened.Revocations)
		}
		if opened.Sequence != seq+1 {
			t.Errorf("sequence %d after %d", opened.Sequence, seq)
		}
	})

	t.Run("an extra certificate outside the chain is refused and the sequence kept", func(t *testing.T) {
		other := newRoot(t)
		stranger := must(other.Issue(courtTemplate(t, "京0106")))
		before, err := loadState(root.dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.Bundle(fixNow, bundleV, []*crypto.Certificate{stranger}); err == nil {
			t.Fatal("a bundle took a certificate of another root")
		}
		after, err := loadState(root.dir)
		if err != nil {
			t.Fatal(err)
		}
		if after.BundleSequence != before.BundleSequence {
			t.Fatalf("a refused bundle moved the sequence %d -> %d", before.BundleSequence, after.BundleSequence)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRevoke(t *testing.T) {
	root := newRoot(t)
	jing := newProvinceIssuer(t, root, "京")
	c := must(root.Issue(courtTemplate(t, "沪0101")))

	tests := []struct {
		name    string
		by      *CA
		serial  uint64
		reason  string
		wantErr error
	}{
		{name: "root revokes", by: root, serial: c.Serial, reason: "key compromise"},
		{name: "again: no second entry, first reason kept", by: root, serial: c.Serial, reason: "second thoughts"},
		{name: "root revokes a serial it did not issue", by: root, serial: 4242, reason: "issued by a province"},
		{name: "the root cannot revoke itself", by: root, serial: root.Cert.Serial, wantErr: court.ErrInvalid},
		{name: "a province issuer cannot revoke", by: jing, serial: c.Serial, wantErr: court.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.by.Revoke(tt.serial, tt.reason, fixNow)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Revoke: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	reopened, err := Open(root.dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := loadState(reopened.dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Revocation{
		{Serial: c.Serial, RevokedAt: fixNow, Reason: "key compromise"},
		{Serial: 4242, RevokedAt: fixNow, Reason: "issued by a province"},
	}
	if !slices.EqualFunc(st.Revocations, want, func(a, b Revocation) bool {
		return a.Serial == b.Serial && a.RevokedAt.Equal(b.RevokedAt) && a.Reason == b.Reason
	}) {
		t.Fatalf("revocations after reopen: %+v, want %+v", st.Revocations, want)
	}
	if _, err := jing.Bundle(fixNow, bundleV, nil); !errors.Is(err, court.ErrPermission) {
		t.Fatalf("a province issuer signed a bundle: %v", err)
	}
}

// TestIssuerSetup walks a province issuer from InitIssuer to Open and
// checks what InstallCert refuses.
func TestIssuerSetup(t *testing.T) {
	root := newRoot(t)
	dir := filepath.Join(t.TempDir(), "issuer")
	if _, err := InitIssuer(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Open before the certificate is installed: %v, want ErrNotReady", err)
	}
	certRaw, rootRaw := certifyIssuer(t, root, dir, "京", fixNow.Add(2*year))

	// Another directory's key, certified by the same root.
	otherDir := filepath.Join(t.TempDir(), "other")
	if _, err := InitIssuer(otherDir); err != nil {
		t.Fatal(err)
	}
	otherCert, _ := certifyIssuer(t, root, otherDir, "沪", fixNow.Add(2*year))
	// This directory's key, certified by another root.
	otherRoot := newRoot(t)
	foreignCert, foreignRoot := certifyIssuer(t, otherRoot, dir, "京", fixNow.Add(2*year))
	// A court certificate of the root: not self-signed, not a root.
	court0105 := marshal(t, must(root.Issue(courtTemplate(t, "京0105"))))

	tests := []struct {
		name             string
		certRaw, rootRaw []byte
	}{
		{name: "certificate of another key", certRaw: otherCert, rootRaw: rootRaw},
		{name: "certificate from another root", certRaw: foreignCert, rootRaw: rootRaw},
		{name: "root that is no root", certRaw: certRaw, rootRaw: court0105},
		{name: "garbage root", certRaw: certRaw, rootRaw: []byte("not a certificate")},
		{name: "garbage certificate", certRaw: []byte("not a certificate"), rootRaw: rootRaw},
		{name: "chain to the other root, installed with it", certRaw: certRaw, rootRaw: foreignRoot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := InstallCert(dir, tt.certRaw, tt.rootRaw); err == nil {
				t.Fatal("InstallCert accepted it")
			}
			if _, err := Open(dir); !errors.Is(err, ErrNotReady) {
				t.Fatalf("a refused install left a certificate behind: %v", err)
			}
		})
	}

	if err := InstallCert(dir, certRaw, rootRaw); err != nil {
		t.Fatal(err)
	}
	iss, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if iss.IsRoot() || iss.Root.Serial != root.Cert.Serial || iss.Cert.Scope != "京" {
		t.Fatalf("opened issuer: %v under %v", iss.Cert, iss.Root)
	}
	c, err := iss.Issue(courtTemplate(t, "京0108"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyIssuedBy(iss.Cert); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Bundle(fixNow, bundleV, []*crypto.Certificate{iss.Cert, c}); err != nil {
		t.Fatalf("the root refused a province issuer's court: %v", err)
	}
}

func TestStateErrors(t *testing.T) {
	tests := []struct {
		name    string
		state   []byte // nil: remove state.json
		wantErr error
	}{
		{name: "not JSON", state: []byte("{truncated"), wantErr: court.ErrCorrupt},
		{name: "version 3", state: []byte(`{"version":3,"bundle_sequence":7}`), wantErr: court.ErrCorrupt},
		{name: "a bad last trusted head", state: []byte(`{"version":2,"bundle_sequence":7,"revocations":[{"serial":5,"last_trusted_seq":3,"last_trusted_head":"00"}]}`), wantErr: court.ErrCorrupt},
		{name: "no version", state: []byte(`{"bundle_sequence":7}`), wantErr: court.ErrCorrupt},
		{name: "missing", wantErr: os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRoot(t)
			path := filepath.Join(root.dir, StateFile)
			if tt.state == nil {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, tt.state, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := root.Bundle(fixNow, bundleV, nil); !errors.Is(err, tt.wantErr) {
				t.Errorf("Bundle: %v, want %v", err, tt.wantErr)
			}
			if err := root.Revoke(4242, "test", fixNow); !errors.Is(err, tt.wantErr) {
				t.Errorf("Revoke: %v, want %v", err, tt.wantErr)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, tt.state) {
				t.Errorf("a refused call rewrote state.json: %q", after)
			}
		})
	}
}

// TestBundleCertCache: the root verifies a certificate's signature once;
// the next bundle and a revocation delta verify only what is new, a
// changed certificate is verified again, and a damaged cache only costs
// a full verification.
func TestBundleCertCache(t *testing.T) {
	root := newRoot(t)
	jing := newProvinceIssuer(t, root, "京")
	must(root.Issue(courtTemplate(t, "沪0101")))
	var extra []*crypto.Certificate
	for _, code := range []court.CourtCode{"京0105", "京0106", "京0107"} {
		extra = append(extra, must(jing.Issue(courtTemplate(t, code))))
	}
	b1 := must(root.Bundle(fixNow, bundleV, extra))
	if n := len(b1.Certs) - 1; b1.CertsVerified() != n {
		t.Fatalf("first bundle: %d signatures verified, want all %d", b1.CertsVerified(), n)
	}
	extra = append(extra, must(jing.Issue(courtTemplate(t, "京0108"))))
	b2 := must(root.Bundle(fixNow, bundleV, extra))
	if b2.CertsVerified() != 1 {
		t.Fatalf("next bundle with one new certificate: %d signatures verified, want 1", b2.CertsVerified())
	}
	// A certificate with a bad signature is not taken from the cache: its
	// key binds the exact signed bytes.
	forged := *extra[0].Envelope
	forged.Signature = append([]byte(nil), forged.Signature...)
	forged.Signature[0] ^= 1
	fc, err := crypto.ParseCertificate(&forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Bundle(fixNow, bundleV, append([]*crypto.Certificate{fc}, extra[1:]...)); !errors.Is(err, crypto.ErrBadSignature) {
		t.Fatalf("bundle with a forged certificate: %v, want %v", err, crypto.ErrBadSignature)
	}
	// A revocation delta opens the last bundle through the cache.
	d, err := root.RevokeDelta(extra[1].Serial, "key lost (test)", fixNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.ApplyDelta(root.Root, b2, d.Raw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root.dir, CertCacheFile), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	b4 := must(root.Bundle(fixNow, bundleV, extra))
	if n := len(b4.Certs) - 1; b4.CertsVerified() != n {
		t.Fatalf("bundle after the cache was damaged: %d signatures verified, want all %d", b4.CertsVerified(), n)
	}
}
