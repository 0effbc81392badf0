// Package devmesh builds a complete mesh of courts on one machine, for
// the demo and for tests: a national root, a data directory per court
// with fresh keys, certificates, and a signed trust bundle installed in
// each. It uses the same code paths as the `courtmesh ca` and `init`
// commands; nothing here is a shortcut around the trust checks.
package devmesh

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/crypto/ca"
	"courtmesh.dev/courtmesh/node/datadir"
)

// Court is one court of the mesh.
type Court struct {
	Code   court.CourtCode
	Parent court.CourtCode // empty: derived from the code
	Roles  []crypto.Role
	// Token, if set, keeps the court's node key in a PKCS#11 token
	// (datadir.InitToken; suite v1 only).
	Token *datadir.TokenOptions
}

// DefaultCourts is the demo mesh: the national operator at the SPC, the
// Beijing high court, an intermediate court and two basic courts.
func DefaultCourts() []Court {
	return []Court{
		{Code: court.Supreme, Roles: []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}},
		{Code: "京", Roles: []crypto.Role{crypto.RoleCourt}},
		{Code: "京01", Roles: []crypto.Role{crypto.RoleCourt}},
		{Code: "京0105", Roles: []crypto.Role{crypto.RoleCourt}},
		{Code: "京0108", Roles: []crypto.Role{crypto.RoleCourt}},
	}
}

// Mesh is a built mesh on disk.
type Mesh struct {
	Dir    string
	CA     *ca.CA
	Courts []Court
	Dirs   []datadir.Dir
	Certs  []*crypto.Certificate
	Bundle *crypto.Bundle
}

// Build creates dir/ca and dir/<n>-<code> for each court, and installs a
// bundle valid for a year from now, under the default suite.
func Build(dir string, courts []Court, now time.Time) (*Mesh, error) {
	return BuildSuite(dir, courts, now, crypto.SuiteV1)
}

// BuildSuite is Build for a mesh of the given algorithm suite: the root
// is made with `ca init --suite` and every court's keys follow it, as
// `courtmesh init --root` does.
func BuildSuite(dir string, courts []Court, now time.Time, suite crypto.Suite) (*Mesh, error) {
	return build(dir, courts, now, suite, func(i int, c Court) string { return fmt.Sprintf("%d-%s", i, c.Code) })
}

// BuildByCode is BuildSuite with each court's data directory named by its
// code alone (dir/京0108), for a mesh kept after the demo; codes must
// differ.
func BuildByCode(dir string, courts []Court, now time.Time, suite crypto.Suite) (*Mesh, error) {
	seen := map[court.CourtCode]bool{}
	for _, c := range courts {
		if seen[c.Code] {
			return nil, fmt.Errorf("court %s twice: data directories are named by court code", c.Code)
		}
		seen[c.Code] = true
	}
	return build(dir, courts, now, suite, func(_ int, c Court) string { return string(c.Code) })
}

func build(dir string, courts []Court, now time.Time, suite crypto.Suite, name func(int, Court) string) (*Mesh, error) {
	m := &Mesh{Dir: dir, Courts: courts}
	var err error
	if m.CA, err = ca.InitRootSuite(filepath.Join(dir, "ca"), "最高人民法院 国家根证书 (demo)", now.Add(-time.Hour), 10*365*24*time.Hour, suite); err != nil {
		return nil, err
	}
	for i, c := range courts {
		d := datadir.Dir(filepath.Join(dir, name(i, c)))
		var id *crypto.Identity
		if c.Token != nil {
			id, err = datadir.InitToken(d, *c.Token)
		} else {
			id, err = datadir.InitSuite(d, m.CA.Root.Suite)
		}
		if err != nil {
			return nil, err
		}
		name, ok := court.KnownCourtName(c.Code)
		if !ok {
			name = string(c.Code) + " 法院"
		}
		cert, err := m.CA.Issue(crypto.Template{
			Code: c.Code, Name: name, Parent: c.Parent, Identity: id, Roles: c.Roles,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		})
		if err != nil {
			return nil, fmt.Errorf("certify %s: %w", c.Code, err)
		}
		m.Dirs = append(m.Dirs, d)
		m.Certs = append(m.Certs, cert)
	}
	b, err := m.CA.Bundle(now, 30*24*time.Hour, nil)
	if err != nil {
		return nil, err
	}
	m.Bundle = b
	rootRaw, err := m.CA.Root.Envelope.Marshal()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Dirs {
		if _, _, err := datadir.InstallTrust(d, rootRaw, b.Raw); err != nil {
			return nil, err
		}
		cfg := LoopbackConfig + fmt.Sprintf("exports_dir = %q\n", ExportsDir(d))
		if err := os.WriteFile(d.Path(datadir.ConfigFile), []byte(cfg), 0o600); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// LoopbackConfig listens on loopback only, on ports the kernel picks.
const LoopbackConfig = `version = 1
listen = ["/ip4/127.0.0.1/tcp/0"]
api_listen = "127.0.0.1:0"
metrics_listen = "127.0.0.1:0"
reconnect_interval = "2s"
`

// ExportsDir is the exports folder Build gives the node of d (config
// exports_dir): a sibling of the data directory, "<data>-exports".
func ExportsDir(d datadir.Dir) string { return filepath.Clean(string(d)) + "-exports" }

// Revoke revokes court i's certificate and signs the next bundle.
func (m *Mesh) Revoke(i int, reason string, now time.Time) (*crypto.Bundle, error) {
	if err := m.CA.Revoke(m.Certs[i].Serial, reason, now); err != nil {
		return nil, err
	}
	b, err := m.CA.Bundle(now, 30*24*time.Hour, nil)
	if err != nil {
		return nil, err
	}
	m.Bundle = b
	return b, nil
}
