package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/node/advice"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
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
