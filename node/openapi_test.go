package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/node/advice"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
)

// The OpenAPI document (node/api/openapi.json) is checked against a real
// node: the routes it registers, the Go structs it decodes and encodes,
// and the answers it gives.

// oaDoc is the part of an OpenAPI document the checks read.
type oaDoc struct {
	OpenAPI    string                      `json:"openapi"`
	Paths      map[string]map[string]*oaOp `json:"paths"`
	Components struct {
		Schemas   map[string]map[string]any `json:"schemas"`
		Responses map[string]*oaResponse    `json:"responses"`
	} `json:"components"`
}

type oaOp struct {
	OperationID string                 `json:"operationId"`
	Parameters  []map[string]any       `json:"parameters"`
	RequestBody *oaBody                `json:"requestBody"`
	Responses   map[string]*oaResponse `json:"responses"`
}

type oaBody struct {
	Required bool                      `json:"required"`
	Content  map[string]map[string]any `json:"content"`
}

type oaResponse struct {
	Ref         string                    `json:"$ref"`
	Description string                    `json:"description"`
	Content     map[string]map[string]any `json:"content"`
}

func loadOpenAPI(t *testing.T, raw []byte) *oaDoc {
	t.Helper()
	var d oaDoc
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("openapi.json does not decode: %v", err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.") || len(d.Paths) == 0 {
		t.Fatalf("openapi.json: version %q, %d paths: not an OpenAPI 3 document", d.OpenAPI, len(d.Paths))
	}
	return &d
}

// response resolves a response (following a components/responses ref).
func (d *oaDoc) response(t *testing.T, r *oaResponse) *oaResponse {
	t.Helper()
	if r.Ref == "" {
		return r
	}
	name, ok := strings.CutPrefix(r.Ref, "#/components/responses/")
	res := d.Components.Responses[name]
	if !ok || res == nil {
		t.Fatalf("response ref %q resolves to nothing", r.Ref)
	}
	return res
}

// schema resolves a schema ref.
func (d *oaDoc) schema(t *testing.T, s map[string]any) map[string]any {
	t.Helper()
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	name, ok := strings.CutPrefix(ref, "#/components/schemas/")
	res := d.Components.Schemas[name]
	if !ok || res == nil {
		t.Fatalf("schema ref %q resolves to nothing", ref)
	}
	return res
}

func refName(s map[string]any) string {
	ref, _ := s["$ref"].(string)
	name, _ := strings.CutPrefix(ref, "#/components/schemas/")
	return name
}

// validate checks v (decoded with UseNumber) against schema s and returns
// the problems found, each located by its JSON path. It knows the subset
// of JSON Schema the document uses.
func (d *oaDoc) validate(t *testing.T, s map[string]any, v any, path string) []string {
	t.Helper()
	s = d.schema(t, s)
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, a...)) }
	for _, key := range []string{"allOf", "anyOf"} {
		subs, _ := s[key].([]any)
		if len(subs) == 0 {
			continue
		}
		matched := 0
		var sub []string
		for _, x := range subs {
			e := d.validate(t, x.(map[string]any), v, path)
			if len(e) == 0 {
				matched++
			}
			sub = append(sub, e...)
		}
		if key == "allOf" {
			errs = append(errs, sub...)
		} else if matched == 0 {
			bad("matches none of anyOf: %v", sub)
		}
	}
	if types := schemaTypes(s); len(types) > 0 {
		got := oaJSONType(v)
		if !slices.Contains(types, got) && !(got == "integer" && slices.Contains(types, "number")) {
			bad("a JSON %s, documented as %v", got, types)
			return errs
		}
	}
	if enum, ok := s["enum"].([]any); ok && v != nil {
		if !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
			bad("%v is not one of the documented %v", v, enum)
		}
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := v[r]; !ok {
				bad("required property %q missing", r)
			}
		}
		for k, x := range v {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, d.validate(t, ps, x, path+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					bad("property %q is not documented", k)
				}
			case map[string]any:
				errs = append(errs, d.validate(t, ap, x, path+"."+k)...)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range v {
				errs = append(errs, d.validate(t, items, x, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return errs
}

func schemaTypes(s map[string]any) []string {
	switch ty := s["type"].(type) {
	case string:
		return []string{ty}
	case []any:
		return asStrings(ty)
	}
	return nil
}

func asStrings(v any) []string {
	xs, _ := v.([]any)
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func oaJSONType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, ok := new(big.Int).SetString(v.String(), 10); ok {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// goFields lists the JSON names of a struct's fields (embedded structs
// flattened) and whether each is omitted when empty.
func goFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range goFields(ft) {
				out[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
	}
	return out
}

// oaRequestTypes are the Go structs the handlers decode request bodies
// into, by the schema that documents them.
var oaRequestTypes = map[string]reflect.Type{
	"UserRequest":     reflect.TypeFor[api.UserRequest](),
	"TokenRequest":    reflect.TypeFor[api.TokenRequest](),
	"CasesRequest":    reflect.TypeFor[api.CasesRequest](),
	"OfferRequest":    reflect.TypeFor[api.OfferRequest](),
	"DecideRequest":   reflect.TypeFor[api.DecideRequest](),
	"AcceptRequest":   reflect.TypeFor[api.AcceptRequest](),
	"ReasonRequest":   reflect.TypeFor[api.ReasonRequest](),
	"HandoverRequest": reflect.TypeFor[api.HandoverRequest](),
	"ProgressRequest": reflect.TypeFor[api.ProgressRequest](),
	"CloseRequest":    reflect.TypeFor[api.CloseRequest](),
	"ConcludeRequest": reflect.TypeFor[api.ConcludeRequest](),
	"ReturnRequest":   reflect.TypeFor[api.ReturnRequest](),
	"StartRequest":    reflect.TypeFor[api.StartRequest](),
	"ImportRequest":   reflect.TypeFor[api.ImportRequest](),
	"ExportRequest":   reflect.TypeFor[api.ExportRequest](),
	"BackupRequest":   reflect.TypeFor[api.BackupRequest](),
	"AssetChange":     reflect.TypeFor[api.AssetChange](),
	"NewAsset":        reflect.TypeFor[api.NewAsset](),
	// node/funds
	"FundsEntryRequest": reflect.TypeFor[api.FundsEntryRequest](),
	"SanctionRequest":   reflect.TypeFor[api.SanctionRequest](),
	"NoticeRequest":     reflect.TypeFor[api.NoticeRequest](),

	"DirectiveRequest":       reflect.TypeFor[api.DirectiveRequest](),
	"DirectiveReportRequest": reflect.TypeFor[api.DirectiveReportRequest](),
	"SpotCheckRequest":       reflect.TypeFor[api.SpotCheckRequest](),
	"ReviewRequest":          reflect.TypeFor[api.ReviewRequest](),
	"AnswerRequest":          reflect.TypeFor[api.AnswerRequest](),
	"CodesRequest":           reflect.TypeFor[api.CodesRequest](),
	// the modes (督促, 协同, 集中)
	"SuperviseRequest":         reflect.TypeFor[api.SuperviseRequest](),
	"SupervisionReportRequest": reflect.TypeFor[api.SupervisionReportRequest](),
	"AssistRequest":            reflect.TypeFor[api.AssistRequest](),
	"AssistAnswerRequest":      reflect.TypeFor[api.AssistAnswerRequest](),
	"AssistResultRequest":      reflect.TypeFor[api.AssistResultRequest](),
	"GatherRequest":            reflect.TypeFor[api.GatherRequest](),
}

// oaResponseTypes are the Go structs the handlers encode, by schema.
// Dashboard is documented loosely on purpose (a view for people whose
// inner shape may grow); its top level is still checked.
var oaResponseTypes = map[string]reflect.Type{
	"UserInfo":           reflect.TypeFor[api.UserInfo](),
	"TokenInfo":          reflect.TypeFor[api.TokenInfo](),
	"IssuedToken":        reflect.TypeFor[api.IssuedToken](),
	"Person":             reflect.TypeFor[api.Person](),
	"Status":             reflect.TypeFor[api.Status](),
	"Bundle":             reflect.TypeFor[api.Bundle](),
	"Peer":               reflect.TypeFor[api.Peer](),
	"InstallResult":      reflect.TypeFor[api.InstallResult](),
	"LogHead":            reflect.TypeFor[api.LogHead](),
	"LogPosition":        reflect.TypeFor[api.LogPosition](),
	"Transfer":           reflect.TypeFor[api.Transfer](),
	"FetchProgress":      reflect.TypeFor[api.FetchProgress](),
	"ImportResult":       reflect.TypeFor[api.ImportResult](),
	"FieldProblem":       reflect.TypeFor[api.FieldProblem](),
	"CaseSummary":        reflect.TypeFor[api.CaseSummary](),
	"CaseDetail":         reflect.TypeFor[api.CaseDetail](),
	"TitleInfo":          reflect.TypeFor[api.TitleInfo](),
	"PartyInfo":          reflect.TypeFor[api.PartyInfo](),
	"AssetInfo":          reflect.TypeFor[api.AssetInfo](),
	"MeasureInfo":        reflect.TypeFor[api.MeasureInfo](),
	"DocInfo":            reflect.TypeFor[api.DocInfo](),
	"VerifyResult":       reflect.TypeFor[api.VerifyResult](),
	"ExportResult":       reflect.TypeFor[api.ExportResult](),
	"ExpiringMeasure":    reflect.TypeFor[api.ExpiringMeasure](),
	"ExpiringResult":     reflect.TypeFor[api.ExpiringResult](),
	"BackupResult":       reflect.TypeFor[api.BackupResult](),
	"TransferAssets":     reflect.TypeFor[api.TransferAssets](),
	"MeasureAlert":       reflect.TypeFor[api.MeasureAlert](),
	"MeasureAlerts":      reflect.TypeFor[api.MeasureAlerts](),
	"CourtHealth":        reflect.TypeFor[api.CourtHealth](),
	"Alert":              reflect.TypeFor[api.Alert](),
	"AuditEntry":         reflect.TypeFor[storage.AuditEntry](),
	"Error":              reflect.TypeFor[api.Error](),
	"ComplaintInfo":      reflect.TypeFor[api.ComplaintInfo](),
	"ComplaintList":      reflect.TypeFor[api.ComplaintList](),
	"ComplaintIndicator": reflect.TypeFor[api.ComplaintIndicator](),
	"IssuedCode":         reflect.TypeFor[api.IssuedCode](),
	"CodesResult":        reflect.TypeFor[api.CodesResult](),
	// node/funds
	"AssistDetail":        reflect.TypeFor[api.AssistDetail](),
	"Assistance":          reflect.TypeFor[api.Assistance](),
	"Supervision":         reflect.TypeFor[cmproto.Supervision](),
	"Refusal":             reflect.TypeFor[cmproto.Refusal](),
	"FundsEntry":          reflect.TypeFor[api.FundsEntry](),
	"FundsLedger":         reflect.TypeFor[api.FundsLedger](),
	"FundsReconciliation": reflect.TypeFor[api.FundsReconciliation](),
	"Sanction":            reflect.TypeFor[api.Sanction](),
	"SanctionList":        reflect.TypeFor[api.SanctionList](),
	"Notice":              reflect.TypeFor[api.Notice](),
	"NoticeWorklist":      reflect.TypeFor[api.NoticeWorklist](),
	"DossierItem":         reflect.TypeFor[api.DossierItem](),
	"DossierItems":        reflect.TypeFor[api.DossierItems](),
	"Recommendation":      reflect.TypeFor[advice.Recommendation](),
	"CheckBacks":          reflect.TypeFor[api.CheckBacks](),
	"CheckBackItem":       reflect.TypeFor[api.CheckBackItem](),
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIMatchesGoTypes checks the document's schemas against the Go
// structs: request bodies list exactly the struct's JSON fields, refuse
// others (additionalProperties: false, as decodeBody does) and require
// no field the struct may omit; response schemas list exactly the
// struct's fields and require those always written.
func TestOpenAPIMatchesGoTypes(t *testing.T) {
	d := loadOpenAPI(t, api.OpenAPI)
	used := map[string]bool{}
	for path, ops := range d.Paths {
		for method, o := range ops {
			if o.RequestBody == nil {
				continue
			}
			for ctype, c := range o.RequestBody.Content {
				if ctype != "application/json" {
					continue
				}
				name := refName(c["schema"].(map[string]any))
				if _, ok := oaRequestTypes[name]; !ok {
					t.Errorf("%s %s: request body schema %q is not one of the Go request structs", method, path, name)
				}
				used[name] = true
				if !o.RequestBody.Required {
					t.Errorf("%s %s: the JSON body is read always (an empty one is refused) but not documented as required", method, path)
				}
			}
		}
	}
	for name, typ := range oaRequestTypes {
		t.Run("request/"+name, func(t *testing.T) {
			s := d.Components.Schemas[name]
			if s == nil {
				t.Fatalf("no schema %s", name)
			}
			if name != "NewAsset" && !used[name] {
				t.Errorf("schema %s documents no operation's request body", name)
			}
			if ap, ok := s["additionalProperties"].(bool); !ok || ap {
				t.Errorf("additionalProperties = %v; the server refuses unknown fields, so it must be false", s["additionalProperties"])
			}
			props, _ := s["properties"].(map[string]any)
			fields := goFields(typ)
			if got, want := sortedKeys(props), sortedKeys(fields); !slices.Equal(got, want) {
				t.Errorf("documented properties %v; %s has JSON fields %v", got, typ, want)
			}
			for _, r := range asStrings(s["required"]) {
				omit, ok := fields[r]
				switch {
				case !ok:
					t.Errorf("required %q is not a field of %s", r, typ)
				case omit:
					t.Errorf("required %q is omitempty in %s: the Go client may leave it out", r, typ)
				}
			}
		})
	}
	for name, typ := range oaResponseTypes {
		t.Run("response/"+name, func(t *testing.T) {
			s := d.Components.Schemas[name]
			if s == nil {
				t.Fatalf("no schema %s", name)
			}
			props, _ := s["properties"].(map[string]any)
			fields := goFields(typ)
			if got, want := sortedKeys(props), sortedKeys(fields); !slices.Equal(got, want) {
				t.Errorf("documented properties %v; %s writes %v", got, typ, want)
			}
			var always []string
			for f, omit := range fields {
				if !omit {
					always = append(always, f)
				}
			}
			req := asStrings(s["required"])
			sort.Strings(always)
			sort.Strings(req)
			if !slices.Equal(req, always) {
				t.Errorf("required %v; %s always writes %v", req, typ, always)
			}
		})
	}
	t.Run("response/Dashboard", func(t *testing.T) {
		props, _ := d.Components.Schemas["Dashboard"]["properties"].(map[string]any)
		fields := goFields(reflect.TypeFor[dashboard.Dashboard]())
		for p := range props {
			if _, ok := fields[p]; !ok {
				t.Errorf("documented property %q is not written by dashboard.Dashboard", p)
			}
		}
	})
}

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
