package court

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseCaseNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   CaseNumber
		norm   string
		errSub string
	}{
		{in: "（2024）京0105执1234号", want: CaseNumber{2024, "京0105", "", "执", 1234}, norm: "（2024）京0105执1234号"},
		{in: "(2024)京0105执1234号", want: CaseNumber{2024, "京0105", "", "执", 1234}, norm: "（2024）京0105执1234号"},
		{in: "  (2024）京0105执1234号 ", want: CaseNumber{2024, "京0105", "", "执", 1234}, norm: "（2024）京0105执1234号"},
		{in: "（２０２４）京０１０５执１２３４号", want: CaseNumber{2024, "京0105", "", "执", 1234}, norm: "（2024）京0105执1234号"},
		{in: "（2023）京执恢12号", want: CaseNumber{2023, "京", "", "执恢", 12}, norm: "（2023）京执恢12号"},
		{in: "（2024）最高法执监1号", want: CaseNumber{2024, Supreme, "", "执监", 1}, norm: "（2024）最高法执监1号"},
		{in: "（2021）最高法知民终1号", want: CaseNumber{2021, Supreme, "知", "民终", 1}, norm: "（2021）最高法知民终1号"},
		{in: "（2022）粤03民初999999999号", want: CaseNumber{2022, "粤03", "", "民初", 999999999}, norm: "（2022）粤03民初999999999号"},
		{in: "（1990）沪72破1号", want: CaseNumber{1990, "沪72", "", "破", 1}, norm: "（1990）沪72破1号"},
		{in: "（2100）京7101财保5号", want: CaseNumber{2100, "京7101", "", "财保", 5}, norm: "（2100）京7101财保5号"},

		{in: "", errSub: "empty"},
		{in: "2024京0105执1234号", errSub: "must start with the year in parentheses"},
		{in: "【2024】京0105执1234号", errSub: "must start with the year in parentheses"},
		{in: "（2024京0105执1234号", errSub: "missing closing parenthesis"},
		{in: "（24）京0105执1234号", errSub: "must be four digits"},
		{in: "（+202）京0105执1234号", errSub: "must be four digits"},
		{in: "（二〇二四）京0105执1234号", errSub: "must be four digits"},
		{in: "（1989）京0105执1234号", errSub: "year 1989 out of range 1990-2100"},
		{in: "（2101）京0105执1234号", errSub: "year 2101 out of range"},
		{in: "（2024）", errSub: "court code missing"},
		{in: "（2024）贵01执1号", errSub: "Guizhou courts use 黔"},
		{in: "（2024）美01执1号", errSub: "unknown province abbreviation"},
		{in: "（2024）京010执1号", errSub: `court code "京010": wrong number of digits`},
		{in: "（2024）京00执1号", errSub: "00 does not exist"},
		{in: "（2024）BJ01执1号", errSub: "must start with a province abbreviation"},
		{in: "（2024）京0105", errSub: "case type code (e.g. 执) missing"},
		{in: "（2024）京0105执X1号", errSub: `unknown case type code "执X"`},
		{in: "（2024）京0105知X1号", errSub: `unknown case type code "知X"`},
		{in: "（2024）京0105知1号", errSub: `unknown case type code "知"`},
		{in: "（2024）京0105执号", errSub: "sequence number missing before 号"},
		{in: "（2024）京0105执", errSub: "sequence number missing after case type 执"},
		{in: "（2024）京0105执0号", errSub: "without leading zeros"},
		{in: "（2024）京0105执01号", errSub: "without leading zeros"},
		{in: "（2024）京0105执1234567890号", errSub: "at most 9 digits"},
		{in: "（2024）京0105执1234", errSub: "must end with 号"},
		{in: "（2024）京0105执1234号号", errSub: `unexpected text "号" after 号`},
		{in: "（2024）京0105执12-34号", errSub: "unexpected text"},
		{in: "（2024）京0105执1234號", errSub: "must end with 号"},
		{in: "\xff", errSub: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCaseNumber(tt.in)
			if tt.errSub != "" {
				if err == nil {
					t.Fatalf("ParseCaseNumber(%q) = %v, want error containing %q", tt.in, got, tt.errSub)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", err)
				}
				if msg := err.Error(); !strings.Contains(msg, tt.errSub) || !strings.Contains(msg, "case number") {
					t.Errorf("error %q does not mention %q", msg, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCaseNumber(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseCaseNumber(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if got.String() != tt.norm {
				t.Errorf("String() = %q, want %q", got.String(), tt.norm)
			}
			if again, err := ParseCaseNumber(got.String()); err != nil || again != got {
				t.Errorf("round trip: %+v, %v", again, err)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestCaseType(t *testing.T) {
	t.Parallel()
	enforcement := []CaseType{"执", "执恢", "执保", "执异", "执复", "执监", "执协", "执他"}
	for _, ct := range enforcement {
		if !ct.IsEnforcement() || ct.Label() == "" {
			t.Errorf("%s: IsEnforcement %v, Label %q", ct, ct.IsEnforcement(), ct.Label())
		}
		if got, err := ParseCaseType(" " + string(ct)); err != nil || got != ct {
			t.Errorf("ParseCaseType(%s) = %q, %v", ct, got, err)
		}
	}
	for _, ct := range []CaseType{"民初", "民终", "民再", "民特", "商初", "刑初", "行初", "破", "财保", "诉保", "仲"} {
		if !ct.Known() || ct.IsEnforcement() {
			t.Errorf("%s: Known %v, IsEnforcement %v", ct, ct.Known(), ct.IsEnforcement())
		}
	}
	if CaseType("执X").IsEnforcement() {
		t.Error("unknown 执X must not count as enforcement")
	}
	if _, err := ParseCaseType("执X"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not a known case type") {
		t.Errorf("ParseCaseType(执X) error = %v", err)
	}
}

func TestCaseNumberZeroAndInvalid(t *testing.T) {
	t.Parallel()
	var zero CaseNumber
	if !zero.IsZero() || zero.String() != "" {
		t.Errorf("zero: IsZero %v, String %q", zero.IsZero(), zero.String())
	}
	bad := []CaseNumber{
		{2024, "京1", "", "执", 1},
		{2024, "京0105", "", "执", 0},
		{1900, "京0105", "", "执", 1},
		{2024, "京0105", "", "XX", 1},
		{2024, "京0105", "环", "执", 1},
	}
	for _, n := range bad {
		if err := n.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalid", n, err)
		}
		if _, err := n.MarshalText(); !errors.Is(err, ErrInvalid) {
			t.Errorf("MarshalText(%+v) = %v, want ErrInvalid", n, err)
		}
	}
}

func TestCaseNumberJSON(t *testing.T) {
	t.Parallel()
	type msg struct {
		Case   CaseNumber  `json:"case"`
		Origin CaseNumber  `json:"origin"`
		Ptr    *CaseNumber `json:"ptr,omitempty"`
	}
	in := msg{Case: MustParseCaseNumber("(2024)京0105执1234号")}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"case":"（2024）京0105执1234号","origin":""}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var out msg
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("Unmarshal = %+v, %v; want %+v", out, err, in)
	}
	if err := json.Unmarshal([]byte(`{"case":"（2024）京0105执0号"}`), &out); !errors.Is(err, ErrInvalid) {
		t.Errorf("Unmarshal bad: %v, want ErrInvalid", err)
	}
}

func TestMustParseCaseNumberPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("MustParseCaseNumber did not panic on bad input")
		}
	}()
	MustParseCaseNumber("nonsense")
}

// TestCaseNumberStringFormat checks String against the format it spells
// by hand: （year）court special type seq号.
func TestCaseNumberStringFormat(t *testing.T) {
	for _, n := range []CaseNumber{
		{Year: 2024, Court: "京0105", Type: TypeEnforcement, Seq: 1234},
		{Year: 1990, Court: "最高法", Special: SpecialTrialIP, Type: TypeResumed, Seq: 1},
		{Year: 2099, Court: "沪", Type: TypeEnforcement, Seq: MaxCaseSeq},
	} {
		want := fmt.Sprintf("（%d）%s%s%s%d号", n.Year, n.Court, n.Special, n.Type, n.Seq)
		if got := n.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
