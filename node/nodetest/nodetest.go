// Package nodetest holds what the tests of node and its rooms share: a
// certified mesh on disk built through the production paths (ca.InitRoot,
// datadir.Init, CA.Issue, CA.Bundle, datadir.InstallTrust), a loopback
// configuration, a logger, and one way to wait for a condition. It is
// imported by tests only and imports no room of node.
package nodetest

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/crypto/ca"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// TrustMesh is a root, five certified courts and an issuer-only
// certificate, on disk.
type TrustMesh struct {
	CA      *ca.CA
	RootKey *crypto.NodeKey
	RootRaw []byte
	Dirs    []datadir.Dir
	Keys    []*crypto.NodeKey
	Certs   []*crypto.Certificate
	// Issuer is a root-certified province issuer for 京 (no peer ID).
	Issuer    *crypto.Certificate
	IssuerKey *crypto.NodeKey
	B1        *crypto.Bundle
}

// TrustCourts are the courts of a TrustMesh, in the order of its Dirs.
var TrustCourts = []struct {
	code  court.CourtCode
	roles []crypto.Role
}{
	{court.Supreme, []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}},
	{"京", []crypto.Role{crypto.RoleCourt}},
	{"京01", []crypto.Role{crypto.RoleCourt}},
	{"京0105", []crypto.Role{crypto.RoleCourt}},
	{"京0108", []crypto.Role{crypto.RoleCourt}},
}

// NewTrustMesh builds a TrustMesh in a temporary directory: every court
// initialised, certified and holding bundle 1.
func NewTrustMesh(t testing.TB) *TrustMesh {
	t.Helper()
	base := t.TempDir()
	now := time.Now()
	m := &TrustMesh{}
	var err error
	if m.CA, err = ca.InitRoot(filepath.Join(base, "ca"), "test root", now.Add(-time.Hour), 10*365*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if m.RootKey, err = crypto.LoadNodeKey(filepath.Join(base, "ca", ca.KeyFile)); err != nil {
		t.Fatal(err)
	}
	if m.RootRaw, err = m.CA.Root.Envelope.Marshal(); err != nil {
		t.Fatal(err)
	}
	for i, c := range TrustCourts {
		d := datadir.Dir(filepath.Join(base, fmt.Sprintf("n%d", i)))
		id, err := datadir.Init(d)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := m.CA.Issue(crypto.Template{
			Code: c.code, Name: string(c.code) + " court", Identity: id, Roles: c.roles,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		})
		if err != nil {
			t.Fatalf("certify %s: %v", c.code, err)
		}
		nk, _, err := d.Keys()
		if err != nil {
			t.Fatal(err)
		}
		m.Dirs, m.Keys, m.Certs = append(m.Dirs, d), append(m.Keys, nk), append(m.Certs, cert)
	}
	if m.IssuerKey, err = crypto.GenerateNodeKey(); err != nil {
		t.Fatal(err)
	}
	iid, err := crypto.NewIdentity(m.IssuerKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Issuer, err = m.CA.Issue(crypto.Template{
		Code: "京", Name: "京 issuer", Identity: iid, Roles: []crypto.Role{crypto.RoleIssuer}, Scope: "京",
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	if m.B1, err = m.CA.Bundle(now, 30*24*time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Dirs {
		if _, _, err := datadir.InstallTrust(d, m.RootRaw, m.B1.Raw); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// Logger is a debug logger on stderr when COURTMESH_TEST_LOG is set, else
// nil (discarded).
func Logger() *slog.Logger {
	if os.Getenv("COURTMESH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// WriteLoopbackConfig writes a config that listens on loopback only, on
// ports the kernel picks.
func WriteLoopbackConfig(t testing.TB, d datadir.Dir) {
	t.Helper()
	cfg := `version = 1
listen = ["/ip4/127.0.0.1/tcp/0"]
api_listen = "127.0.0.1:0"
reconnect_interval = "1s"
`
	if strings.Contains(config.DefaultConfigText, "metrics_listen") {
		cfg += "metrics_listen = \"off\"\n" // several nodes cannot share the default port
	}
	cfg += fmt.Sprintf("exports_dir = %q\n", ExportsDir(d))
	if err := os.WriteFile(d.Path(datadir.ConfigFile), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ExportsDir is the exports folder WriteLoopbackConfig gives the node of
// d: a sibling of the data directory, "<data>-exports".
func ExportsDir(d datadir.Dir) string { return filepath.Clean(string(d)) + "-exports" }

// CaseNo is the case number of court c, type typ and sequence seq in
// the year that at falls in, in China (court.DateOf): e.g.
// CaseNo(time.Now(), "京0108", court.TypeEnforcement, 1201). A receiver
// files a transferred case under an 执 number of the year of its
// acceptance or the year before, checked against the clock that signs
// the acceptance; a test names that clock (time.Now(), or the moved
// clock its nodes read) instead of writing a year that one day passes.
func CaseNo(at time.Time, c court.CourtCode, typ court.CaseType, seq int) string {
	return court.CaseNumber{Year: court.DateOf(at).Year, Court: c, Type: typ, Seq: seq}.String()
}

// LoadAvg is the machine's load average, its three fields as
// /proc/loadavg gives them ("unknown" where there is none), for tests and
// benchmarks to log beside what the load stretches.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// PollUntil polls cond every 10 ms until it holds or d passes, and
// returns how long it took.
func PollUntil(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// Announce describes a bundle announcement to craft.
type Announce struct {
	Key         crypto.Signer
	Serial      uint64
	PayloadType string // default PayloadBundleAnnounce
	Payload     []byte // default: a valid BundleAnnounce for seq
	Seq         uint64
	AnnouncedAt int64
	Pad         int // bytes of unknown-field padding appended to the payload
}

// Bytes is the announcement as sent.
func (a Announce) Bytes(t testing.TB) []byte {
	t.Helper()
	return a.Envelope(t).MustMarshal(t)
}

// Sealed is an envelope a test may alter before marshalling.
type Sealed struct{ *crypto.Envelope }

// MustMarshal marshals the envelope or fails t.
func (e Sealed) MustMarshal(t testing.TB) []byte {
	t.Helper()
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Envelope is the signed envelope of the announcement.
func (a Announce) Envelope(t testing.TB) Sealed {
	t.Helper()
	payload := a.Payload
	if payload == nil {
		var err error
		payload, err = proto.MarshalOptions{Deterministic: true}.Marshal(&pb.BundleAnnounce{
			Version: cmproto.BundleAnnounceVersion, Sequence: a.Seq, Sha256: bytes.Repeat([]byte{7}, 32),
			ExpiresAt: time.Now().Add(30 * 24 * time.Hour).Unix(), AnnouncedAt: a.AnnouncedAt,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if a.Pad > 0 {
		// An unknown field: a decoder keeps it and the message stays valid.
		payload = protowire.AppendTag(payload, 1000, protowire.BytesType)
		payload = protowire.AppendBytes(payload, bytes.Repeat([]byte{'x'}, a.Pad))
	}
	pt := a.PayloadType
	if pt == "" {
		pt = cmproto.PayloadBundleAnnounce
	}
	env, err := crypto.Seal(a.Key, a.Serial, pt, payload)
	if err != nil {
		t.Fatal(err)
	}
	return Sealed{env}
}

// FaultRunsEnv is the environment variable that sets how many times each
// fault test of the fault suite (the tests named TestFault…) repeats its
// fault; unset, each runs a few times, sized for CI.
const FaultRunsEnv = "COURTMESH_FAULT_RUNS"

// FaultRuns returns how many times a fault test repeats its fault: def,
// or the number in COURTMESH_FAULT_RUNS.
func FaultRuns(t testing.TB, def int) int {
	t.Helper()
	v := os.Getenv(FaultRunsEnv)
	if v == "" {
		return def
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
		t.Fatalf("%s=%q: want a whole number of runs, at least 1", FaultRunsEnv, v)
	}
	return n
}

// FaultReport is what a fault test measured over its runs: the records
// or chunks put at risk by the fault, how many of them were lost, and the
// longest time from the end of the fault to full recovery.
type FaultReport struct {
	Name      string
	Runs      int
	AtRisk    int
	Lost      int
	Recovered time.Duration
}

// Recover records one run's time to recover (the longest is reported).
func (r *FaultReport) Recover(d time.Duration) { r.Recovered = max(r.Recovered, d) }

// Print prints the fault suite's line for the fault, exactly
// "fault <name>: runs <n>, at risk <n>, lost <n>, recovered in <duration>",
// on stdout (`go test -run Fault -v` shows it), and fails t if anything
// was lost.
func (r *FaultReport) Print(t testing.TB) {
	t.Helper()
	fmt.Printf("fault %s: runs %d, at risk %d, lost %d, recovered in %v\n", r.Name, r.Runs, r.AtRisk, r.Lost, r.Recovered.Round(time.Millisecond))
	if r.Lost > 0 {
		t.Errorf("fault %s: %d of %d at risk lost", r.Name, r.Lost, r.AtRisk)
	}
}
