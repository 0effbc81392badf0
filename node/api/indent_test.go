package api

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// indentCases are compact JSON documents with every shape appendIndented
// must handle as json.Indent does.
var indentCases = []string{
	`[]`, `{}`, `[[]]`, `[{}]`, `{"a":{}}`, `{"a":[]}`, `null`, `true`, `0`, `-1.5e+3`, `"x"`,
	`[1,2,3]`, `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`,
	`[{"kind":"acceptance_overdue","message":"京01 未在 2025-06-01 前接受移送 / has not accepted"}]`,
	`["a\"b","\\\\","\\\"","[{,:}]","\u003c\u0026\u003e","\n\t","\"","\\"]`,
	`{"":""}`, `[[[[{"a":[{}]}]]]]`, `"unterminated`, `"ends with a backslash\`,
}

func TestAppendIndented(t *testing.T) {
	for _, c := range indentCases {
		t.Run(c, func(t *testing.T) { checkIndented(t, []byte(c)) })
	}
}

func checkIndented(t *testing.T, src []byte) {
	t.Helper()
	var want bytes.Buffer
	if err := json.Indent(&want, src, "", "  "); err != nil {
		return // not JSON: appendIndented is only fed json.Marshal's output
	}
	if got := appendIndented(nil, src); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("appendIndented(%q) =\n%s\nwant\n%s", src, got, want.Bytes())
	}
}

func FuzzAppendIndented(f *testing.F) {
	for _, c := range indentCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var compact bytes.Buffer
		if json.Compact(&compact, b) != nil {
			return
		}
		checkIndented(t, compact.Bytes())
	})
}

// TestWriteJSONAsEncoder checks that writeJSON writes what the
// json.Encoder it replaced wrote (two-space indent, HTML escaped, a
// final newline), for an alert list among others.
func TestWriteJSONAsEncoder(t *testing.T) {
	at := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	for _, v := range []any{
		[]Alert{},
		[]Alert{{Kind: "acceptance_overdue", Severity: "warning", Court: "京01", Transfer: "t1", Since: at,
			Message: "京01 未在 2025-06-01 前接受移送 t1 / 京01 has not accepted transfer t1, due 2025-06-01 <&>"}},
		map[string]any{"a": []int{}, "b": map[string]string{}, "c": strings.Repeat(`"\`, 3)},
		Error{Code: CodeInvalid, Message: "x"},
		nil,
	} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		writeJSON(rec, 200, v)
		if got := rec.Body.String(); got != want.String() {
			t.Errorf("writeJSON(%#v) =\n%s\nwant\n%s", v, got, want.String())
		}
	}
}
