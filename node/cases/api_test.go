package cases_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/cases"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
)

// caseRef is the reference date of the generated cases.
var caseRef = court.Date{Year: 2025, Month: 6, Day: 1}

// caseNode is one court's case service behind the local API, served on
// a Unix socket as the node serves it, with no mesh: the case room and
// its routes alone.
type caseNode struct {
	db     *storage.DB
	dir    datadir.Dir
	socket string
	token  string
	cl     *api.Client
	// exports is the node's exports folder (exports_dir).
	exports string
}

// noBackend answers the API's own endpoints, which these tests do not use.
type noBackend struct{}

func (noBackend) Status() api.Status { return api.Status{} }
func (noBackend) Peers() []api.Peer  { return nil }
func (noBackend) InstallBundle(context.Context, []byte, []byte) (api.InstallResult, error) {
	return api.InstallResult{}, nil
}

// startCaseNode builds the data directory of one court (京0105), opens
// its store, serves the case endpoints on its API socket and waits, with
// a deadline, until they are up.
func startCaseNode(t *testing.T) *caseNode {
	t.Helper()
	m, err := devmesh.Build(t.TempDir(), []devmesh.Court{{Code: "京0105", Roles: []crypto.Role{crypto.RoleCourt}}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d := m.Dirs[0]
	_, ek, err := d.Keys()
	if err != nil {
		t.Fatal(err)
	}
	code, err := d.Court()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := d.Token()
	if err != nil {
		t.Fatal(err)
	}
	log := nodetest.Logger()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := storage.Open(string(d), storage.Options{Decrypter: ek, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(noBackend{}, tok, log)
	exports := t.TempDir()
	api.RegisterCases(srv, cases.New(cases.Deps{Store: db, Court: code, Log: log, DataDir: string(d), ExportsDir: exports}))
	sock := d.Path(datadir.SocketFile)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- srv.Serve(ctx, sock, "off", func(string) { close(ready) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("close the store: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("API stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("API not up after 30s")
	}
	return &caseNode{db: db, dir: d, socket: sock, token: tok, cl: api.NewClient(sock, tok), exports: exports}
}

// raw sends a request over the node's Unix socket with the given bearer
// token ("" for none) and returns the status and body as they came.
func (cn *caseNode) raw(t *testing.T, method, path, token string, body []byte) (int, []byte) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", cn.socket)
	}}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(method, "http://courtmesh"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// keys is the store's key list, to show that a refused request wrote
// nothing.
func (cn *caseNode) keys(t *testing.T) []string {
	t.Helper()
	ks, err := cn.db.Keys()
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func casePath(n string) string { return "/v1/cases/" + url.PathEscape(n) }

// idNumbers extracts the identity and account numbers, in clear, from a
// case.json.
func idNumbers(t *testing.T, caseJSON []byte) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`"(?:id_number|account)": "([^"]+)"`).FindAllSubmatch(caseJSON, -1) {
		out = append(out, string(m[1]))
	}
	if len(out) == 0 {
		t.Fatal("the generated case.json holds no identity numbers; the masking check would prove nothing")
	}
	return out
}

// TestCaseAPI drives every case endpoint over the API's Unix socket: import, re-import, listing, display, verification, export, the
// expiry watch and backup.
func TestCaseAPI(t *testing.T) {
	ctx := context.Background()
	cn := startCaseNode(t)
	generated, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 3, Seed: 5, RefDate: caseRef})
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range generated {
		var res api.ImportResult
		if err := cn.cl.Do(ctx, "POST", "/v1/cases/import", api.ImportRequest{Path: c.Dir}, &res); err != nil {
			t.Fatalf("import %s: %v", c.Dir, err)
		}
		if res.Case != c.Number.String() || res.Version != 1 || res.Unchanged || res.Documents != c.Documents || res.Bytes != c.Bytes {
			t.Fatalf("import %s: %+v, want %s version 1 with %d documents of %d bytes", c.Dir, res, c.Number, c.Documents, c.Bytes)
		}
	}
	var again api.ImportResult
	if err := cn.cl.Do(ctx, "POST", "/v1/cases/import", api.ImportRequest{Path: generated[0].Dir}, &again); err != nil || !again.Unchanged || again.Version != 1 {
		t.Fatalf("re-import: %+v, %v; want unchanged at version 1", again, err)
	}

	var list []api.CaseSummary
	if err := cn.cl.Do(ctx, "GET", "/v1/cases", nil, &list); err != nil || len(list) != 3 {
		t.Fatalf("list: %d cases, %v; want 3", len(list), err)
	}
	active := 0
	for _, s := range list {
		if s.Status == "active" {
			active++
		}
	}
	var listActive []api.CaseSummary
	if err := cn.cl.Do(ctx, "GET", "/v1/cases?status=active", nil, &listActive); err != nil || len(listActive) != active {
		t.Fatalf("list active: %d cases, %v; want %d", len(listActive), err, active)
	}

	c := generated[0]
	num := c.Number.String()
	var d api.CaseDetail
	if err := cn.cl.Do(ctx, "GET", casePath(num)+"?as_of=2025-06-01", nil, &d); err != nil {
		t.Fatalf("show: %v", err)
	}
	if d.Case != num || d.CourtName == "" || len(d.Parties) == 0 || len(d.Documents) != c.Documents || d.AsOf != "2025-06-01" {
		t.Fatalf("show: %+v", d)
	}
	_, body := cn.raw(t, "GET", casePath(num), cn.token, nil)
	caseJSON, err := os.ReadFile(filepath.Join(c.Dir, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range idNumbers(t, caseJSON) {
		if bytes.Contains(body, []byte(id)) {
			t.Errorf("GET %s answers an identity or account number in clear (%s...)", casePath(num), id[:4])
		}
	}
	if !bytes.Contains(body, []byte("*****")) {
		t.Errorf("GET %s shows no masked number:\n%s", casePath(num), body)
	}

	var v api.VerifyResult
	if err := cn.cl.Do(ctx, "GET", casePath(num)+"/verify", nil, &v); err != nil || v.Documents != c.Documents+1 || v.Chunks < v.Documents || v.Version != 1 {
		t.Fatalf("verify: %+v, %v; want %d documents (case.json included)", v, err, c.Documents+1)
	}

	out := filepath.Join(cn.exports, "export")
	var ex api.ExportResult
	if err := cn.cl.Do(ctx, "POST", casePath(num)+"/export", api.ExportRequest{Out: out, Purpose: "测试导出"}, &ex); err != nil || ex.Documents != c.Documents+1 {
		t.Fatalf("export: %+v, %v", ex, err)
	}
	if got, err := os.ReadFile(filepath.Join(out, "case.json")); err != nil || !bytes.Equal(got, caseJSON) {
		t.Fatalf("exported case.json differs from the imported one (%v)", err)
	}

	var exp api.ExpiringResult
	if err := cn.cl.Do(ctx, "GET", "/v1/measures/expiring?within=30&as_of=2025-06-01", nil, &exp); err != nil {
		t.Fatalf("expiring: %v", err)
	}
	if exp.Until != "2025-07-01" || len(exp.Measures) == 0 || !slices.ContainsFunc(exp.Measures, func(m api.ExpiringMeasure) bool { return m.DaysLeft == 20 }) {
		t.Fatalf("expiring within 30 days of 2025-06-01: %+v; want the freeze the generator puts 20 days out", exp)
	}
	for _, m := range exp.Measures {
		if m.DaysLeft > 30 || m.KindLabel == "" || m.AssetClassLabel == "" {
			t.Errorf("expiring: %+v", m)
		}
	}

	bak := filepath.Join(t.TempDir(), "store.bak")
	var br api.BackupResult
	if err := cn.cl.Do(ctx, "POST", "/v1/backup", api.BackupRequest{Out: bak}, &br); err != nil || br.Bytes == 0 {
		t.Fatalf("backup: %+v, %v", br, err)
	}
	if st, err := os.Stat(bak); err != nil || st.Size() != br.Bytes || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v; want %d bytes, mode 0600", st, err, br.Bytes)
	}
}

// TestCaseAPIRefusals sends malformed and refused requests to the case
// endpoints: each gets the expected status and stable code, a message
// that names the problem, and leaves the store as it was.
//
// It is long on purpose: one table of every refusal of the case routes.
func TestCaseAPIRefusals(t *testing.T) {
	ctx := context.Background()
	cn := startCaseNode(t)
	generated, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 2, Seed: 9, RefDate: caseRef})
	if err != nil {
		t.Fatal(err)
	}
	if err := cn.cl.Do(ctx, "POST", "/v1/cases/import", api.ImportRequest{Path: generated[0].Dir}, nil); err != nil {
		t.Fatal(err)
	}
	num := generated[0].Number.String()
	missing := "（2024）京0105执999999号"

	// A malformed case: an invalid case number and a missing document,
	// reported together.
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.CopyFS(bad, os.DirFS(generated[1].Dir)); err != nil {
		t.Fatal(err)
	}
	var cj map[string]any
	raw, err := os.ReadFile(filepath.Join(bad, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cj); err != nil {
		t.Fatal(err)
	}
	cj["case_number"] = "（2024）京0105执第一号"
	raw, _ = json.MarshalIndent(cj, "", "  ")
	if err := os.WriteFile(filepath.Join(bad, "case.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(bad, "docs", "d1.pdf")); err != nil {
		t.Fatal(err)
	}

	nonEmpty := filepath.Join(cn.exports, "non-empty")
	if err := os.Mkdir(nonEmpty, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nonEmpty, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(t.TempDir(), "taken.bak")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	before := cn.keys(t)
	for _, tc := range []struct {
		name         string
		method, path string
		body         []byte
		token        string // "" means the right one; "-" none
		status       int
		code         string
		msg          string // a substring of the message
	}{
		{"no token", "GET", "/v1/cases", nil, "-", 401, api.CodeUnauthorised, "api.token"},
		{"wrong token", "POST", "/v1/cases/import", body(api.ImportRequest{Path: generated[1].Dir}), "not-the-token", 401, api.CodeUnauthorised, "bearer token"},
		{"bad JSON", "POST", "/v1/cases/import", []byte(`{"path": "/tmp/x",}`), "", 400, api.CodeInvalid, "not valid JSON"},
		{"truncated JSON", "POST", "/v1/cases/import", []byte(`{"path": "/tmp`), "", 400, api.CodeInvalid, "ends early"},
		{"empty body", "POST", "/v1/cases/import", nil, "", 400, api.CodeInvalid, "path"},
		{"unknown field", "POST", "/v1/cases/import", []byte(`{"path": "/tmp/x", "force": true}`), "", 400, api.CodeInvalid, `unknown field "force"`},
		{"wrong type", "POST", "/v1/cases/import", []byte(`{"path": 42}`), "", 400, api.CodeInvalid, `field "path": want a string`},
		{"not an object", "POST", "/v1/cases/import", []byte(`["/tmp/x"]`), "", 400, api.CodeInvalid, "want a JSON object"},
		{"trailing data", "POST", "/v1/cases/import", []byte(`{"path": "/tmp/x"} {}`), "", 400, api.CodeInvalid, "extra data"},
		{"body too large", "POST", "/v1/cases/import", body(api.ImportRequest{Path: "/" + strings.Repeat("a", api.MaxCaseRequestBody)}), "", 413, api.CodeTooLarge, "larger than"},
		{"relative path", "POST", "/v1/cases/import", body(api.ImportRequest{Path: "cases/case-0001"}), "", 422, api.CodeInvalid, "not an absolute path"},
		{"no path", "POST", "/v1/cases/import", []byte(`{}`), "", 422, api.CodeInvalid, "path is required"},
		{"negative size limit", "POST", "/v1/cases/import", []byte(`{"path": "/tmp/x", "max_document_size": -1}`), "", 400, api.CodeInvalid, "max_document_size"},
		{"path missing", "POST", "/v1/cases/import", body(api.ImportRequest{Path: filepath.Join(t.TempDir(), "nowhere")}), "", 404, api.CodeNotFound, "nowhere"},
		{"malformed case", "POST", "/v1/cases/import", body(api.ImportRequest{Path: bad}), "", 422, api.CodeInvalid, "nothing was imported"},
		{"case not found", "GET", casePath(missing), nil, "", 404, api.CodeNotFound, missing},
		{"verify not found", "GET", casePath(missing) + "/verify", nil, "", 404, api.CodeNotFound, missing},
		{"export not found", "POST", casePath(missing) + "/export", body(api.ExportRequest{Out: filepath.Join(cn.exports, "e"), Purpose: "测试"}), "", 404, api.CodeNotFound, missing},
		{"bad case number", "GET", casePath("（2024）京0105执第一号"), nil, "", 400, api.CodeInvalid, "case number"},
		{"unknown query parameter", "GET", "/v1/cases?state=active", nil, "", 400, api.CodeInvalid, `"state"`},
		{"bad status", "GET", "/v1/cases?status=open", nil, "", 422, api.CodeInvalid, "want active"},
		{"bad as_of", "GET", casePath(num) + "?as_of=2025-13-01", nil, "", 400, api.CodeInvalid, "as_of"},
		{"export into a non-empty folder", "POST", casePath(num) + "/export", body(api.ExportRequest{Out: nonEmpty, Purpose: "测试"}), "", 409, api.CodeConflict, "not empty"},
		{"export relative", "POST", casePath(num) + "/export", body(api.ExportRequest{Out: "out"}), "", 422, api.CodeInvalid, "out"},
		{"export unknown field", "POST", casePath(num) + "/export", []byte(`{"out": "/tmp/x", "overwrite": true}`), "", 400, api.CodeInvalid, `"overwrite"`},
		{"within not a number", "GET", "/v1/measures/expiring?within=thirty", nil, "", 400, api.CodeInvalid, "within"},
		{"within negative", "GET", "/v1/measures/expiring?within=-1", nil, "", 422, api.CodeInvalid, "within"},
		{"within twice", "GET", "/v1/measures/expiring?within=1&within=2", nil, "", 400, api.CodeInvalid, "once"},
		{"backup over a file", "POST", "/v1/backup", body(api.BackupRequest{Out: existing}), "", 409, api.CodeConflict, "already exists"},
		{"backup wrong type", "POST", "/v1/backup", []byte(`{"out": ["/tmp/x"]}`), "", 400, api.CodeInvalid, `field "out"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := cn.token
			switch tc.token {
			case "-":
				tok = ""
			case "":
			default:
				tok = tc.token
			}
			status, b := cn.raw(t, tc.method, tc.path, tok, tc.body)
			var eb struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(b, &eb); err != nil {
				t.Fatalf("answer is not a JSON error: %v\n%s", err, b)
			}
			if status != tc.status || eb.Error.Code != tc.code || !strings.Contains(eb.Error.Message, tc.msg) {
				t.Fatalf("%s %s: %d %s %q; want %d %s and a message containing %q", tc.method, tc.path, status, eb.Error.Code, eb.Error.Message, tc.status, tc.code, tc.msg)
			}
			t.Logf("%d %s: %s", status, eb.Error.Code, eb.Error.Message)
			if strings.Contains(string(b), cn.token) {
				t.Fatal("the answer holds the API token")
			}
		})
	}
	if after := cn.keys(t); !slices.Equal(before, after) {
		t.Fatalf("refused requests changed the store: %d keys before, %d after", len(before), len(after))
	}
	if b, err := os.ReadFile(existing); err != nil || string(b) != "keep me" {
		t.Fatalf("backup over an existing file changed it: %q, %v", b, err)
	}

	// The refused import lists its problems field by field.
	status, b := cn.raw(t, "POST", "/v1/cases/import", cn.token, body(api.ImportRequest{Path: bad}))
	var vp struct {
		Error api.ValidationProblem `json:"error"`
	}
	if err := json.Unmarshal(b, &vp); err != nil || status != 422 {
		t.Fatalf("%d %v\n%s", status, err, b)
	}
	paths := map[string]bool{}
	for _, f := range vp.Error.Fields {
		paths[f.Path] = true
		if f.Message == "" {
			t.Errorf("field %s: empty message", f.Path)
		}
	}
	if vp.Error.Source != bad || !paths["case_number"] || !slices.ContainsFunc(vp.Error.Fields, func(f api.FieldProblem) bool { return strings.HasPrefix(f.Path, "documents[") }) {
		t.Fatalf("field problems %+v: want case_number and the missing document", vp.Error.Fields)
	}

	// Through the client the same refusal is an *api.Error.
	err = cn.cl.Do(ctx, "GET", casePath(missing), nil, nil)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != api.CodeNotFound || !strings.Contains(ae.Message, missing) {
		t.Fatalf("client: %v, want a 404 not_found *api.Error naming %s", err, missing)
	}
}
