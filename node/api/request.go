package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"courtmesh.dev/courtmesh/court"
)

// DecodeBody decodes a size-limited JSON request body into v, refusing
// unknown fields, wrong types and trailing data with a 400 that names the
// field. It reports whether v was decoded; if not, the answer is written.
func DecodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxCaseRequestBody))
	var raw json.RawMessage
	err := dec.Decode(&raw)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errTrailing
		}
	}
	if err == nil {
		err = knownFields(raw, reflect.TypeOf(v))
	}
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err == nil {
		return true
	}
	WriteError(w, bodyError(err, v))
	return false
}

// unknownFieldError names a field of a request body that its type does
// not have.
type unknownFieldError struct {
	name  string
	known []string
}

func (e *unknownFieldError) Error() string { return "unknown field " + strconv.Quote(e.name) }

// knownFields checks that every object member of raw names a field of t
// (as encoding/json matches them: case-insensitively), in nested objects
// too. A value of the wrong shape is left to json.Unmarshal to explain.
func knownFields(raw json.RawMessage, t reflect.Type) error {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		if t.Kind() != reflect.Pointer {
			var items []json.RawMessage
			if json.Unmarshal(raw, &items) != nil {
				return nil
			}
			for _, it := range items {
				if err := knownFields(it, t.Elem()); err != nil {
					return err
				}
			}
			return nil
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil {
		return nil
	}
	fields := map[string]reflect.Type{}
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[strings.ToLower(name)] = t.Field(i).Type
			names = append(names, name)
		}
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ft, ok := fields[strings.ToLower(k)]
		if !ok {
			return &unknownFieldError{name: k, known: names}
		}
		if err := knownFields(members[k], ft); err != nil {
			return err
		}
	}
	return nil
}

var errTrailing = errors.New("trailing data")

// bodyError explains why a request body did not decode into v.
func bodyError(err error, v any) *Error {
	bad := func(format string, a ...any) *Error {
		return Errorf(http.StatusBadRequest, CodeInvalid, "request body: "+format, a...)
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return bad("empty; send a JSON object with the fields %s", strings.Join(jsonFields(v), ", "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("not valid JSON: it ends early")
	case errors.Is(err, errTrailing):
		return bad("extra data after the JSON object; send one object")
	case errors.As(err, &se):
		return bad("not valid JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		if te.Field == "" {
			return bad("want a JSON object, got %s", te.Value)
		}
		return bad("field %q: want %s, got %s", te.Field, jsonType(te.Type.Kind().String()), te.Value)
	}
	var ue *unknownFieldError
	if errors.As(err, &ue) {
		return bad("unknown field %q; known fields: %s", ue.name, strings.Join(ue.known, ", "))
	}
	return bad("%v", err)
}

// jsonType names a Go kind as JSON does.
func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	case kind == "slice", kind == "array":
		return "an array"
	}
	return "an object"
}

// jsonFields lists the JSON field names of the struct v points to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	if t.Kind() != reflect.Struct {
		return names
	}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// CheckQuery refuses query parameters other than those allowed (a typo
// must not silently widen a listing). It reports whether the query is
// acceptable; if not, the answer is written.
func CheckQuery(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "query string does not parse: %v", err))
		return false
	}
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			known := "none"
			if len(allowed) > 0 {
				known = strings.Join(allowed, ", ")
			}
			WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "unknown query parameter %q; known here: %s", k, known))
			return false
		}
		if len(vs) > 1 {
			WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "query parameter %q given %d times; give it once", k, len(vs)))
			return false
		}
	}
	return true
}

// CaseNumberParam parses the {number} path segment (URL-escaped 案号).
func CaseNumberParam(w http.ResponseWriter, r *http.Request) (court.CaseNumber, bool) {
	s := r.PathValue("number")
	n, err := court.ParseCaseNumber(s)
	if err != nil {
		WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "case number %q in the path: %v", s, err))
		return court.CaseNumber{}, false
	}
	return n, true
}

// DateParam parses a YYYY-MM-DD query parameter, def if absent.
func DateParam(w http.ResponseWriter, r *http.Request, name string, def court.Date) (court.Date, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, true
	}
	d, err := court.ParseDate(s)
	if err != nil {
		WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "query parameter %s=%q: %v (want YYYY-MM-DD)", name, s, err))
		return court.Date{}, false
	}
	return d, true
}

// BoolParam parses a 1/0 query parameter, false if absent. It reports
// whether it parsed; if not, the 400 is written.
func BoolParam(w http.ResponseWriter, r *http.Request, name string) (bool, bool) {
	switch s := r.URL.Query().Get(name); s {
	case "", "0":
		return false, true
	case "1":
		return true, true
	default:
		WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "query parameter %s=%q: want 1 or 0", name, s))
		return false, false
	}
}

// TransferIDParam parses the {id} path segment (32 hex digits). It
// reports whether it parsed; if not, the 400 is written.
func TransferIDParam(w http.ResponseWriter, r *http.Request) (court.TransferID, bool) {
	id, err := court.ParseTransferID(r.PathValue("id"))
	if err != nil {
		WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "%v", err))
		return "", false
	}
	return id, true
}

// MaxWithin bounds the "within N days" window of the expiry and alert
// queries (ten years and a little).
const MaxWithin = 3660
