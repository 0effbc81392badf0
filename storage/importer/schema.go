package importer

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// SchemaJSON is the JSON Schema (draft 2020-12) of case.json. The importer
// validates against it with the subset of keywords the file uses: type,
// properties, required, additionalProperties: false, items, enum, pattern,
// minLength, maxLength, minimum, maximum, minItems, maxItems and local
// $ref. An unsupported keyword in the file is a build-time test failure,
// so the schema cannot silently say more than the code checks.
//
//go:embed case.schema.json
var SchemaJSON []byte

// schema is the parsed subset of a JSON Schema node.
type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties *bool              `json:"additionalProperties"`
	Items                *schema            `json:"items"`
	Enum                 []string           `json:"enum"`
	Pattern              string             `json:"pattern"`
	MinLength            *int               `json:"minLength"`
	MaxLength            *int               `json:"maxLength"`
	Minimum              *json.Number       `json:"minimum"`
	Maximum              *json.Number       `json:"maximum"`
	MinItems             *int               `json:"minItems"`
	MaxItems             *int               `json:"maxItems"`
	Defs                 map[string]*schema `json:"$defs"`
	// Annotations, accepted and ignored.
	Schema      string `json:"$schema"`
	ID          string `json:"$id"`
	Title       string `json:"title"`
	Description string `json:"description"`

	re *regexp.Regexp
}

var (
	rootSchemaOnce sync.Once
	rootSchema     *schema
	rootSchemaErr  error
)

// loadSchema parses the embedded schema strictly: an unknown keyword is an
// error.
func loadSchema() (*schema, error) {
	rootSchemaOnce.Do(func() {
		dec := json.NewDecoder(strings.NewReader(string(SchemaJSON)))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		var s schema
		if err := dec.Decode(&s); err != nil {
			rootSchemaErr = fmt.Errorf("case.schema.json: %w", err)
			return
		}
		rootSchemaErr = s.compile(&s)
		rootSchema = &s
	})
	return rootSchema, rootSchemaErr
}

func (s *schema) compile(root *schema) error {
	if s.Ref != "" {
		name, ok := strings.CutPrefix(s.Ref, "#/$defs/")
		if !ok || root.Defs[name] == nil {
			return fmt.Errorf("case.schema.json: unresolved $ref %q", s.Ref)
		}
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return fmt.Errorf("case.schema.json: pattern %q: %w", s.Pattern, err)
		}
		s.re = re
	}
	for _, c := range s.Properties {
		if err := c.compile(root); err != nil {
			return err
		}
	}
	for _, c := range s.Defs {
		if err := c.compile(root); err != nil {
			return err
		}
	}
	if s.Items != nil {
		return s.Items.compile(root)
	}
	return nil
}

// validate checks v (decoded with UseNumber) against s, appending one
// error per violation with its JSON path.
func (s *schema) validate(root *schema, path string, v any, errs *[]FieldError) {
	add := func(format string, args ...any) {
		*errs = append(*errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if s.Ref != "" {
		// Keywords beside $ref apply as well (2020-12 semantics).
		root.Defs[strings.TrimPrefix(s.Ref, "#/$defs/")].validate(root, path, v, errs)
	}
	switch s.Type {
	case "":
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			add("want an object, got %s", jsonType(v))
			return
		}
		for _, r := range s.Required {
			if _, ok := obj[r]; !ok {
				*errs = append(*errs, FieldError{Path: join(path, r), Msg: "required field is missing"})
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p, ok := s.Properties[k]
			if !ok {
				if s.AdditionalProperties != nil && !*s.AdditionalProperties {
					known := make([]string, 0, len(s.Properties))
					for name := range s.Properties {
						known = append(known, name)
					}
					slices.Sort(known)
					*errs = append(*errs, FieldError{Path: join(path, k), Msg: "unknown field; known fields here: " + strings.Join(known, ", ")})
				}
				continue
			}
			p.validate(root, join(path, k), obj[k], errs)
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			add("want an array, got %s", jsonType(v))
			return
		}
		if s.MinItems != nil && len(arr) < *s.MinItems {
			add("has %d item(s), want at least %d", len(arr), *s.MinItems)
		}
		if s.MaxItems != nil && len(arr) > *s.MaxItems {
			add("has %d items, want at most %d", len(arr), *s.MaxItems)
		}
		if s.Items != nil {
			for i, e := range arr {
				s.Items.validate(root, fmt.Sprintf("%s[%d]", path, i), e, errs)
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			add("want a string, got %s", jsonType(v))
			return
		}
		n := utf8.RuneCountInString(str)
		if s.MinLength != nil && n < *s.MinLength {
			if n == 0 {
				add("must not be empty")
			} else {
				add("is %d characters, want at least %d", n, *s.MinLength)
			}
		}
		if s.MaxLength != nil && n > *s.MaxLength {
			add("is %d characters, want at most %d", n, *s.MaxLength)
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
			add("%q is not allowed; want one of %s", str, strings.Join(s.Enum, ", "))
		}
		if s.re != nil && !s.re.MatchString(str) {
			if personalField(path) { // never echoed: errors reach logs and API answers
				add("does not have the required form %s (value not shown: personal data)", s.Pattern)
			} else {
				add("%q does not have the required form %s", str, s.Pattern)
			}
		}
	case "integer":
		num, ok := v.(json.Number)
		if !ok {
			add("want an integer, got %s", jsonType(v))
			return
		}
		i, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			add("want an integer, got %s", num)
			return
		}
		if s.Minimum != nil {
			if m, _ := s.Minimum.Int64(); i < m {
				add("%d is below the minimum %d", i, m)
			}
		}
		if s.Maximum != nil {
			if m, _ := s.Maximum.Int64(); i > m {
				add("%d is above the maximum %d", i, m)
			}
		}
	default:
		add("schema type %q is not supported by the importer", s.Type)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// personalField reports whether the value at path is personal data that
// an error message must not repeat (identity, phone and account numbers).
func personalField(path string) bool {
	for _, f := range []string{"id_number", "phone", "account"} {
		if path == f || strings.HasSuffix(path, "."+f) || strings.HasSuffix(path, "/"+f) {
			return true
		}
	}
	return false
}
