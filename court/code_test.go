package court

import (
	"encoding/json"
	"errors"
	"go/build"
	"strings"
	"testing"
)

func TestParseCourtCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    CourtCode
		level   Level
		special bool
		errSub  string // non-empty: expect an error containing this
	}{
		{in: "最高法", want: "最高法", level: LevelSupreme},
		{in: " 最高法\t", want: "最高法", level: LevelSupreme},
		{in: "京", want: "京", level: LevelHigh},
		{in: "内", want: "内", level: LevelHigh},
		{in: "军", want: "军", level: LevelHigh},
		{in: "兵", want: "兵", level: LevelHigh},
		{in: "黔", want: "黔", level: LevelHigh},
		{in: "京02", want: "京02", level: LevelIntermediate},
		{in: "粤07", want: "粤07", level: LevelIntermediate},
		{in: "京71", want: "京71", level: LevelIntermediate, special: true},
		{in: "沪72", want: "沪72", level: LevelIntermediate, special: true},
		{in: "京73", want: "京73", level: LevelIntermediate, special: true},
		{in: "京70", want: "京70", level: LevelIntermediate},
		{in: "京99", want: "京99", level: LevelIntermediate, special: true},
		{in: "京0105", want: "京0105", level: LevelBasic},
		{in: "京7101", want: "京7101", level: LevelBasic, special: true},
		{in: "京０１０５", want: "京0105", level: LevelBasic},
		{in: "\u3000粤0703\u3000", want: "粤0703", level: LevelBasic},

		{in: "", errSub: "empty"},
		{in: "   ", errSub: "empty"},
		{in: "最高", errSub: "unknown province abbreviation '最'"},
		{in: "最高法01", errSub: "unknown province abbreviation '最'"},
		{in: "X01", errSub: "must start with a province abbreviation"},
		{in: "bj01", errSub: "must start with a province abbreviation"},
		{in: "京A1", errSub: "only digits may follow, found 'A'"},
		{in: "京0a", errSub: "only digits may follow"},
		{in: "京 01", errSub: "only digits may follow"},
		{in: "京00", errSub: "00 does not exist"},
		{in: "京0001", errSub: "cannot start with 00"},
		{in: "京0100", errSub: "cannot end with 00"},
		{in: "京1", errSub: "wrong number of digits (1)"},
		{in: "京010", errSub: "wrong number of digits (3)"},
		{in: "京010501", errSub: "wrong number of digits (6)"},
		{in: "贵01", errSub: "Guizhou courts use 黔"},
		{in: "蒙", errSub: "Inner Mongolia courts use 内"},
		{in: "港", errSub: "Hong Kong"},
		{in: "美01", errSub: "unknown province abbreviation '美'"},
		{in: "京京", errSub: "only digits may follow, found '京'"},
		{in: "\xff01", errSub: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCourtCode(tt.in)
			if tt.errSub != "" {
				if err == nil {
					t.Fatalf("ParseCourtCode(%q) = %q, want error containing %q", tt.in, got, tt.errSub)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", err)
				}
				if !strings.Contains(err.Error(), tt.errSub) || !strings.Contains(err.Error(), "court code") {
					t.Errorf("error %q does not mention %q", err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCourtCode(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseCourtCode(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got.Level() != tt.level {
				t.Errorf("%s.Level() = %v, want %v", got, got.Level(), tt.level)
			}
			if got.IsSpecialised() != tt.special {
				t.Errorf("%s.IsSpecialised() = %v, want %v", got, got.IsSpecialised(), tt.special)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("%s.Validate(): %v", got, err)
			}
			if again, err := ParseCourtCode(got.String()); err != nil || again != got {
				t.Errorf("round trip %q: got %q, %v", got, again, err)
			}
		})
	}
}

func TestCourtCodeInvalidMethods(t *testing.T) {
	t.Parallel()
	for _, c := range []CourtCode{"", "京1", "Beijing", "京00"} {
		if c.Level() != LevelUnknown || c.IsSpecialised() || c.Province() != "" || c.Within(Supreme) {
			t.Errorf("invalid %q: Level %v, IsSpecialised %v, Province %q, Within(最高法) %v",
				c, c.Level(), c.IsSpecialised(), c.Province(), c.Within(Supreme))
		}
		if p, ok := c.DerivedParent(); ok {
			t.Errorf("invalid %q has derived parent %q", c, p)
		}
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q.Validate() = %v, want ErrInvalid", c, err)
		}
	}
}

func TestProvinceAndParent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c        CourtCode
		province CourtCode
		parent   CourtCode
		ok       bool
	}{
		{Supreme, Supreme, "", false},
		{"京", "京", Supreme, true},
		{"军", "军", Supreme, true},
		{"京01", "京", "京", true},
		{"京0105", "京", "京01", true},
		{"粤0703", "粤", "粤07", true},
		{"京71", "京", "", false},
		{"沪72", "沪", "", false},
		{"京73", "京", "", false},
		{"京7101", "京", "京71", true},
	}
	for _, tt := range tests {
		t.Run(string(tt.c), func(t *testing.T) {
			if got := tt.c.Province(); got != tt.province {
				t.Errorf("Province() = %q, want %q", got, tt.province)
			}
			p, ok := tt.c.DerivedParent()
			if p != tt.parent || ok != tt.ok {
				t.Errorf("DerivedParent() = %q, %v; want %q, %v", p, ok, tt.parent, tt.ok)
			}
		})
	}
}

func TestWithin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c, issuer CourtCode
		want      bool
	}{
		{"京0105", "京", true},
		{"京0105", "京01", true},
		{"京0105", "京0105", true},
		{"京0105", Supreme, true},
		{"沪0101", "京", false},
		{"京0105", "京02", false},
		{"京01", "京0105", false},
		{"京", "京", true},
		{Supreme, Supreme, true},
		{Supreme, "京", false},
		{"京7101", "京71", true},
		{"京0105", "", false},
		{"京0105", "京0", false},
		{"junk", Supreme, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.c)+"/"+string(tt.issuer), func(t *testing.T) {
			if got := tt.c.Within(tt.issuer); got != tt.want {
				t.Errorf("%q.Within(%q) = %v, want %v", tt.c, tt.issuer, got, tt.want)
			}
		})
	}
}

// mapHierarchy is an explicit hierarchy, as certificates would give it.
type mapHierarchy map[CourtCode]CourtCode

func (m mapHierarchy) Parent(c CourtCode) (CourtCode, bool) {
	p, ok := m[c]
	return p, ok
}

func TestIsSuperior(t *testing.T) {
	t.Parallel()
	derived := DerivedHierarchy{}
	explicit := mapHierarchy{ // Beijing as it really is: 朝阳 under 京03.
		"京0105": "京03", "京03": "京", "京": Supreme,
		"京73": "京", "京71": "京", "京7101": "京71",
	}
	cycle := mapHierarchy{"A": "B", "B": "C", "C": "A"}
	selfLoop := mapHierarchy{"京0105": "京0105"}
	var chain mapHierarchy = map[CourtCode]CourtCode{}
	for i := range 20 { // deeper than the walk bound
		chain[CourtCode(rune('a'+i))] = CourtCode(rune('a' + i + 1))
	}
	tests := []struct {
		name        string
		h           Hierarchy
		superior, c CourtCode
		want        bool
	}{
		{"high over basic", derived, "京", "京0105", true},
		{"intermediate over basic", derived, "京01", "京0105", true},
		{"other intermediate", derived, "京02", "京0105", false},
		{"supreme over basic", derived, Supreme, "京0105", true},
		{"supreme over high", derived, Supreme, "沪", true},
		{"not own superior", derived, "京0105", "京0105", false},
		{"basic not over high", derived, "京0105", "京", false},
		{"other province", derived, "沪", "京0105", false},
		{"specialised intermediate has no derived parent", derived, "京", "京73", false},
		{"specialised basic to specialised intermediate", derived, "京71", "京7101", true},
		{"specialised basic stops at 京71", derived, "京", "京7101", false},
		{"nil means derived", nil, "京", "京0105", true},
		{"empty superior", derived, "", "京0105", false},
		{"explicit: 京03 over 朝阳", explicit, "京03", "京0105", true},
		{"explicit: 京01 not over 朝阳", explicit, "京01", "京0105", false},
		{"explicit: supreme", explicit, Supreme, "京0105", true},
		{"explicit: specialised", explicit, "京", "京7101", true},
		{"cycle found", cycle, "C", "A", true},
		{"cycle terminates", cycle, "Z", "A", false},
		{"self loop terminates", selfLoop, "京", "京0105", false},
		{"walk bounded", chain, CourtCode(rune('a' + 15)), "a", false},
		{"within bound", chain, CourtCode(rune('a' + 8)), "a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsSuperior(tt.h, tt.superior, tt.c); got != tt.want {
				t.Errorf("IsSuperior(%q, %q) = %v, want %v", tt.superior, tt.c, got, tt.want)
			}
		})
	}
}

func TestLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Level
	}{
		{"最高", LevelSupreme}, {"高级", LevelHigh}, {"中级", LevelIntermediate}, {"基层", LevelBasic},
		{"基层法院", LevelBasic}, {"High", LevelHigh}, {" intermediate ", LevelIntermediate},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseLevel(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if again, err := ParseLevel(got.String()); err != nil || again != got {
				t.Errorf("round trip %v: %v, %v", got, again, err)
			}
		})
	}
	for _, bad := range []string{"", "专门", "未知", "unknown", "top"} {
		t.Run("bad/"+bad, func(t *testing.T) {
			_, err := ParseLevel(bad)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "court level") {
				t.Errorf("ParseLevel(%q) error = %v", bad, err)
			}
		})
	}
	if LevelUnknown.String() != "未知" || Level(99).String() != "未知" || Level(-1).String() != "未知" {
		t.Error("out-of-range levels must print 未知")
	}
}

func TestCourtCodeJSON(t *testing.T) {
	t.Parallel()
	type msg struct {
		Court CourtCode `json:"court"`
		Other CourtCode `json:"other"`
	}
	b, err := json.Marshal(msg{Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"court":"京0105","other":""}` {
		t.Errorf("Marshal = %s", b)
	}
	var m msg
	if err := json.Unmarshal([]byte(`{"court":" 京０１０５ ","other":""}`), &m); err != nil {
		t.Fatal(err)
	}
	if m.Court != "京0105" || m.Other != "" {
		t.Errorf("Unmarshal = %+v", m)
	}
	if err := json.Unmarshal([]byte(`{"court":"京1"}`), &m); !errors.Is(err, ErrInvalid) {
		t.Errorf("Unmarshal bad code: %v, want ErrInvalid", err)
	}
	if _, err := json.Marshal(msg{Court: "京1"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Marshal bad code: %v, want ErrInvalid", err)
	}
}

// TestImportsStandardLibraryOnly keeps the vocabulary at the centre of the
// dependency graph.
func TestImportsStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
			t.Errorf("package court imports %q; it may import only the standard library", imp)
		}
	}
}
