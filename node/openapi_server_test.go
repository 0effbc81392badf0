package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/storage/gen"
)

// oaNode is a served node and raw HTTP access to its API.
type oaNode struct {
	n     *Node
	token string
	hc    *http.Client
}

func (o *oaNode) do(t *testing.T, method, path, token, ctype string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://courtmesh"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := o.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp, b
}

// muxMiss reports whether an answer is the mux's own plain-text 404 or
// 405: no handler was registered for the method and path.
func muxMiss(resp *http.Response) bool {
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) && ct == "text/plain"
}

// check validates an answer against the operation's documented
// responses: the status is documented, and a JSON (or JSON lines) body
// matches the schema documented for it.
func (d *oaDoc) check(t *testing.T, o *oaOp, what string, resp *http.Response, body []byte) {
	t.Helper()
	r, ok := o.Responses[fmt.Sprint(resp.StatusCode)]
	if !ok {
		t.Errorf("%s: status %d is not documented (documented: %v); body %.300s", what, resp.StatusCode, sortedKeys(o.Responses), body)
		return
	}
	r = d.response(t, r)
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if len(r.Content) == 0 {
		return
	}
	c, ok := r.Content[ct]
	if !ok {
		t.Errorf("%s: %d answered %s; documented %v", what, resp.StatusCode, ct, sortedKeys(r.Content))
		return
	}
	s, _ := c["schema"].(map[string]any)
	docs := [][]byte{body}
	switch ct {
	case "application/x-ndjson":
		docs = bytes.Split(bytes.TrimSpace(body), []byte("\n"))
	case "application/json":
	default:
		return
	}
	for i, b := range docs {
		if len(b) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Errorf("%s: %d body (line %d) is not JSON: %v", what, resp.StatusCode, i+1, err)
			continue
		}
		if errs := d.validate(t, s, v, "$"); len(errs) > 0 {
			t.Errorf("%s: %d body does not match its documented schema:\n  %s\nbody: %.500s", what, resp.StatusCode, strings.Join(errs, "\n  "), b)
		}
	}
}

var oaParam = regexp.MustCompile(`\{[a-z_]+\}`)

// TestOpenAPIAgainstServer starts a real node and checks the document
// against it: every route the server registers is documented with its
// method and every documented operation is routed; every documented error
// response is the Error schema; every answer, with and without the token,
// has a documented status and matches its documented schema.
//
// It is long on purpose: every documented route checked against a live
// server in one pass.
func TestOpenAPIAgainstServer(t *testing.T) {
	m := nodetest.NewTrustMesh(t)
	dir := m.Dirs[3] // 京0105
	n := serveNode(t, dir)
	tok, err := dir.Token()
	if err != nil {
		t.Fatal(err)
	}
	o := &oaNode{n: n, token: tok, hc: &http.Client{
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", dir.Path(datadir.SocketFile))
		}},
		// The dashboard login answers 303; the check looks at that answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	t.Cleanup(o.hc.CloseIdleConnections)

	// The document served is the document in the repository.
	resp, served := o.do(t, "GET", "/v1/openapi.json", tok, "", nil)
	if resp.StatusCode != 200 || !bytes.Equal(served, api.OpenAPI) {
		t.Fatalf("GET /v1/openapi.json: %d, %d bytes; want 200 and the embedded document (%d bytes)", resp.StatusCode, len(served), len(api.OpenAPI))
	}
	d := loadOpenAPI(t, served)

	routes := n.api.Routes()
	documented := map[string]*oaOp{}
	for path, ops := range d.Paths {
		for method, op := range ops {
			documented[strings.ToUpper(method)+" "+path] = op
		}
	}
	t.Run("EveryRouteDocumented", func(t *testing.T) {
		for _, r := range routes {
			if _, ok := documented[r]; !ok {
				t.Errorf("the server routes %q; the document does not describe it", r)
			}
		}
	})
	t.Run("EveryOperationRouted", func(t *testing.T) {
		for _, k := range sortedKeys(documented) {
			if !slices.Contains(routes, k) {
				t.Errorf("the document describes %q; the server registers no such route", k)
			}
		}
	})
	t.Run("ErrorsUseTheErrorSchema", func(t *testing.T) {
		for _, k := range sortedKeys(documented) {
			op := documented[k]
			if _, ok := op.Responses["401"]; !ok {
				t.Errorf("%s: no 401: every request is checked for the token", k)
			}
			for status, r := range op.Responses {
				if status < "400" {
					continue
				}
				r = d.response(t, r)
				c, ok := r.Content["application/json"]
				if !ok || len(r.Content) != 1 {
					t.Errorf("%s %s: error answered as %v; errors are JSON only", k, status, sortedKeys(r.Content))
					continue
				}
				body := d.schema(t, c["schema"].(map[string]any))
				errProp, _ := body["properties"].(map[string]any)["error"].(map[string]any)
				if refName(errProp) == "Error" {
					continue
				}
				all, _ := errProp["allOf"].([]any)
				if len(all) > 0 && refName(all[0].(map[string]any)) == "Error" {
					continue
				}
				t.Errorf("%s %s: the error property is not the Error schema: %v", k, status, errProp)
			}
		}
	})

	// A case to show, verify and offer, and a transfer to read, so that
	// the success answers are checked too.
	cs, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: 3, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	caseNo := url.PathEscape(cs[0].Number.String())
	jsonBody := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seen := map[string]bool{} // "METHOD path status"
	call := func(key, path string, ctype string, body []byte) []byte {
		t.Helper()
		method, _, _ := strings.Cut(key, " ")
		resp, b := o.do(t, method, path, tok, ctype, body)
		if muxMiss(resp) {
			t.Errorf("%s %s: %d %s from the mux: not routed", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
			return nil
		}
		d.check(t, documented[key], method+" "+path, resp, b)
		seen[fmt.Sprintf("%s %d", key, resp.StatusCode)] = true
		return b
	}
	var imported api.ImportResult
	if err := json.Unmarshal(call("POST /v1/cases/import", "/v1/cases/import", "application/json", jsonBody(api.ImportRequest{Path: cs[0].Dir})), &imported); err != nil || imported.Case == "" {
		t.Fatalf("import: %v %+v", err, imported)
	}
	call("POST /v1/cases/import", "/v1/cases/import", "application/json", jsonBody(api.ImportRequest{Path: cs[0].Dir})) // unchanged: 200
	call("GET /v1/cases", "/v1/cases", "", nil)
	call("GET /v1/cases/{number}", "/v1/cases/"+caseNo, "", nil)
	call("GET /v1/cases/{number}/verify", "/v1/cases/"+caseNo+"/verify", "", nil)
	call("POST /v1/cases/{number}/export", "/v1/cases/"+caseNo+"/export", "application/json", jsonBody(api.ExportRequest{Out: filepath.Join(nodetest.ExportsDir(dir), "out"), Purpose: "接口文档测试"}))
	call("GET /v1/measures/expiring", "/v1/measures/expiring?within=3660", "", nil)
	call("POST /v1/backup", "/v1/backup", "application/json", jsonBody(api.BackupRequest{Out: filepath.Join(t.TempDir(), "b.bak")}))
	var tr api.Transfer
	if err := json.Unmarshal(call("POST /v1/transfers", "/v1/transfers", "application/json", jsonBody(api.OfferRequest{CaseNumber: imported.Case, Superior: "京01", Grounds: []string{"long_unexecuted"}})), &tr); err != nil || tr.ID == "" {
		t.Fatalf("offer: %v", err)
	}
	call("GET /v1/transfers", "/v1/transfers", "", nil)
	call("GET /v1/transfers", "/v1/transfers?state=offered", "", nil)
	call("GET /v1/transfers/{id}", "/v1/transfers/"+string(tr.ID), "", nil)
	call("GET /v1/transfers/{id}/recommendation", "/v1/transfers/"+string(tr.ID)+"/recommendation", "", nil) // 403: 京0105 is not the superior
	call("GET /dashboard/decide", "/dashboard/decide?transfer="+string(tr.ID), "", nil)                      // 403 likewise
	call("GET /v1/audit", "/v1/audit", "", nil)
	call("GET /dashboard", "/dashboard?token="+url.QueryEscape(tok), "", nil)
	call("GET /dashboard", "/dashboard?token=wrong", "", nil)

	// Every documented operation, with the token and a body that cannot
	// change anything (empty), then without the token.
	for _, key := range sortedKeys(documented) {
		method, path, _ := strings.Cut(key, " ")
		concrete := oaParam.ReplaceAllStringFunc(path, func(p string) string {
			switch p {
			case "{id}":
				return "0123456789abcdef0123456789abcdef" // a well-formed id no transfer has
			case "{number}":
				return caseNo
			case "{court}":
				return url.PathEscape("京0108")
			case "{measure}":
				return "m1"
			case "{directive}", "{review}":
				return strings.Repeat("ab", 32) // a well-formed hash no directive has
			case "{name}":
				return "nobody" // an account this node does not have
			case "{token}":
				return "0123456789abcdef"
			}
			t.Fatalf("%s: no sample value for %s", key, p)
			return ""
		})
		ctype := ""
		if documented[key].RequestBody != nil {
			ctype = "application/json"
		}
		call(key, concrete, ctype, nil)
		resp, b := o.do(t, method, concrete, "", ctype, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d; want 401", key, resp.StatusCode)
		}
		d.check(t, documented[key], key+" without a token", resp, b)
		if bytes.Contains(b, []byte(tok)) {
			t.Errorf("%s without a token: the answer holds the token", key)
		}
	}
	t.Logf("answers checked against the document: %d (operation, status) pairs: %v", len(seen), sortedKeys(seen))

	// What the document cannot describe: a method the path does not have
	// gets the mux's plain-text 405, not a JSON error.
	resp, b := o.do(t, "PUT", "/v1/status", tok, "", nil)
	if !muxMiss(resp) {
		t.Errorf("PUT /v1/status: %d %s; expected the mux's plain-text 405 (if the server now answers JSON, document it)", resp.StatusCode, b)
	}
}
