package court

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// invalidf returns an error wrapping ErrInvalid that reads
// `invalid <what> "<input>": <reason>`.
func invalidf(what, input, format string, args ...any) error {
	return fmt.Errorf("%w %s %q: %s", ErrInvalid, what, input, fmt.Sprintf(format, args...))
}

// Level is the tier of a court in the four-tier system. The zero value,
// LevelUnknown, is what an invalid code reports.
//
// Specialised courts (railway, maritime, intellectual property ...) are not
// a level of their own: they sit at the intermediate or basic level and
// report that level; [CourtCode.IsSpecialised] tells them apart.
type Level int

// The court levels, highest first.
const (
	LevelUnknown      Level = iota // not a valid court code
	LevelSupreme                   // 最高: the Supreme People's Court
	LevelHigh                      // 高级: a provincial high court
	LevelIntermediate              // 中级: an intermediate court
	LevelBasic                     // 基层: a basic court
)

var levelNames = [...]struct{ zh, en string }{
	LevelUnknown:      {"未知", "unknown"},
	LevelSupreme:      {"最高", "supreme"},
	LevelHigh:         {"高级", "high"},
	LevelIntermediate: {"中级", "intermediate"},
	LevelBasic:        {"基层", "basic"},
}

// String returns the Chinese name of the level: 最高, 高级, 中级 or 基层
// (未知 for LevelUnknown or an out-of-range value).
func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return levelNames[LevelUnknown].zh
	}
	return levelNames[l].zh
}

// ParseLevel parses a level from its Chinese name (最高, 高级, 中级, 基层,
// with or without a trailing 法院) or its English name (supreme, high,
// intermediate, basic; case-insensitive).
func ParseLevel(s string) (Level, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(t, "法院")
	for l := LevelSupreme; int(l) < len(levelNames); l++ {
		if t == levelNames[l].zh || strings.EqualFold(t, levelNames[l].en) {
			return l, nil
		}
	}
	return LevelUnknown, invalidf("court level", s, "want one of 最高, 高级, 中级, 基层 (or supreme, high, intermediate, basic)")
}

// CourtCode is a court's code (法院代字) as used in case numbers: 最高法,
// a province abbreviation (京), the abbreviation and two digits (京02) or
// the abbreviation and four digits (京0105). Obtain one from
// [ParseCourtCode]; a CourtCode built by conversion from an arbitrary
// string may be invalid, which [CourtCode.Validate] reports.
type CourtCode string

// Supreme is the code of the Supreme People's Court.
const Supreme CourtCode = "最高法"

// provinceNames maps each accepted abbreviation to the area it stands for,
// in the order of the national administrative division codes.
var provinceNames = map[rune]string{
	'京': "北京", '津': "天津", '冀': "河北", '晋': "山西", '内': "内蒙古",
	'辽': "辽宁", '吉': "吉林", '黑': "黑龙江", '沪': "上海", '苏': "江苏",
	'浙': "浙江", '皖': "安徽", '闽': "福建", '赣': "江西", '鲁': "山东",
	'豫': "河南", '鄂': "湖北", '湘': "湖南", '粤': "广东", '桂': "广西",
	'琼': "海南", '渝': "重庆", '川': "四川", '黔': "贵州", '云': "云南",
	'藏': "西藏", '陕': "陕西", '甘': "甘肃", '青': "青海", '宁': "宁夏",
	'新': "新疆", '军': "军事法院", '兵': "新疆生产建设兵团",
}

// provinceOrder lists the abbreviations for error messages.
const provinceOrder = "京 津 冀 晋 内 辽 吉 黑 沪 苏 浙 皖 闽 赣 鲁 豫 鄂 湘 粤 桂 琼 渝 川 黔 云 藏 陕 甘 青 宁 新 军 兵"

// provinceHints are common mistakes and what to write instead.
var provinceHints = map[rune]string{
	'贵': "Guizhou courts use 黔",
	'蒙': "Inner Mongolia courts use 内",
	'滇': "Yunnan courts use 云",
	'蜀': "Sichuan courts use 川",
	'陇': "Gansu courts use 甘",
	'秦': "Shaanxi courts use 陕",
	'港': "Hong Kong courts do not use mainland case numbers",
	'澳': "Macao courts do not use mainland case numbers",
	'台': "no mainland court uses 台",
}

// normalizeDigits replaces full-width digits ０-９ with ASCII digits.
func normalizeDigits(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= '０' && r <= '９' }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r >= '０' && r <= '９' {
			return '0' + (r - '０')
		}
		return r
	}, s)
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// ParseCourtCode parses a court code such as 最高法, 京, 京02 or 京0105.
// Surrounding white space is ignored and full-width digits are normalised
// to ASCII. The error, which wraps [ErrInvalid], says what is wrong: empty
// input, an unknown province abbreviation, a wrong number of digits,
// letters or other characters, or a 00 court number.
func ParseCourtCode(s string) (CourtCode, error) {
	t := normalizeDigits(strings.TrimSpace(s))
	if err := checkCourtCode(t); err != nil {
		return "", invalidf("court code", s, "%s", err)
	}
	return CourtCode(t), nil
}

// checkCourtCode returns why t, already trimmed and normalised, is not a
// court code, or nil if it is one.
func checkCourtCode(t string) error {
	if t == "" {
		return errors.New("court code is empty; write e.g. 京0105, 京01, 京 or 最高法")
	}
	if t == string(Supreme) {
		return nil
	}
	if !utf8.ValidString(t) {
		return errors.New("not valid UTF-8 text")
	}
	r, size := utf8.DecodeRuneInString(t)
	if r < utf8.RuneSelf {
		return fmt.Errorf("must start with a province abbreviation such as 京 (or be 最高法), not %q", r)
	}
	if _, ok := provinceNames[r]; !ok {
		if hint, ok := provinceHints[r]; ok {
			return fmt.Errorf("unknown province abbreviation %q: %s", r, hint)
		}
		return fmt.Errorf("unknown province abbreviation %q; want one of %s, or 最高法", r, provinceOrder)
	}
	digits := t[size:]
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			c, _ := utf8.DecodeRuneInString(digits[i:])
			return fmt.Errorf("after the province abbreviation only digits may follow, found %q", c)
		}
	}
	switch len(digits) {
	case 0:
		return nil
	case 2:
		if digits == "00" {
			return errors.New("intermediate court number 00 does not exist; use 01-99")
		}
		return nil
	case 4:
		if digits[:2] == "00" {
			return errors.New("basic court code cannot start with 00; the first two digits name the city (01-99)")
		}
		if digits[2:] == "00" {
			return errors.New("basic court code cannot end with 00; the last two digits name the district (01-99)")
		}
		return nil
	default:
		return fmt.Errorf("wrong number of digits (%d): want none (high court), 2 (intermediate court) or 4 (basic court)", len(digits))
	}
}

// Validate reports whether c is a well-formed court code, as
// ParseCourtCode would accept it after normalisation.
func (c CourtCode) Validate() error {
	if err := checkCourtCode(string(c)); err != nil {
		return invalidf("court code", string(c), "%s", err)
	}
	return nil
}

// digits returns the digits after the abbreviation, and whether c is a
// valid non-supreme code.
func (c CourtCode) digits() (string, bool) {
	if c == Supreme || checkCourtCode(string(c)) != nil {
		return "", false
	}
	_, size := utf8.DecodeRuneInString(string(c))
	return string(c)[size:], true
}

// Level returns the tier of the court, or LevelUnknown if c is invalid.
// Specialised courts report the level they sit at (京73: LevelIntermediate).
func (c CourtCode) Level() Level {
	if c == Supreme {
		return LevelSupreme
	}
	d, ok := c.digits()
	if !ok {
		return LevelUnknown
	}
	switch len(d) {
	case 0:
		return LevelHigh
	case 2:
		return LevelIntermediate
	default:
		return LevelBasic
	}
}

// IsSpecialised reports whether c is a specialised court: an intermediate
// code numbered 71–99 (71 railway, 72 maritime, 73 intellectual property,
// others specialised) or a basic code whose first two digits are 71–99.
func (c CourtCode) IsSpecialised() bool {
	d, ok := c.digits()
	return ok && len(d) >= 2 && d[:2] >= "71"
}

// Province returns the code of the high court of c's province: 京 for
// 京0105. The Supreme People's Court returns itself; an invalid code
// returns "".
func (c CourtCode) Province() CourtCode {
	if c == Supreme {
		return Supreme
	}
	if _, ok := c.digits(); !ok {
		return ""
	}
	_, size := utf8.DecodeRuneInString(string(c))
	return c[:size]
}

// DerivedParent returns the superior court implied by the code alone:
// 京0105 -> 京01, 京7101 -> 京71, 京01 -> 京, 京 -> 最高法. It returns
// ("", false) for 最高法, for invalid codes and for specialised
// intermediate courts (京71, 沪72 ...), whose parent must be stated
// explicitly.
//
// The derivation is only a default: in the municipalities the real
// intermediate court of a basic court does not follow the code prefix, so
// an explicit parent, where known, takes precedence.
func (c CourtCode) DerivedParent() (CourtCode, bool) {
	if c == Supreme {
		return "", false
	}
	d, ok := c.digits()
	if !ok {
		return "", false
	}
	switch len(d) {
	case 0:
		return Supreme, true
	case 2:
		if c.IsSpecialised() {
			return "", false
		}
		return c.Province(), true
	default:
		return c[:len(c)-2], true
	}
}

// Within reports whether c falls under the code prefix of issuer: 京0105 is
// within 京, 京01 and 京0105 but not 沪 or 京02; every valid code is within
// 最高法. It is a naming test for scoping an issuer's authority, not a
// statement about the court hierarchy. Invalid codes are within nothing.
func (c CourtCode) Within(issuer CourtCode) bool {
	if c.Level() == LevelUnknown || issuer.Level() == LevelUnknown {
		return false
	}
	if issuer == Supreme {
		return true
	}
	return strings.HasPrefix(string(c), string(issuer))
}

// String returns the code as text.
func (c CourtCode) String() string { return string(c) }

// MarshalText encodes c as its text. The empty code encodes as empty text;
// any other invalid code is an error.
func (c CourtCode) MarshalText() ([]byte, error) {
	if c == "" {
		return []byte{}, nil
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return []byte(c), nil
}

// UnmarshalText decodes a court code with ParseCourtCode. Empty text
// decodes to the empty code, which callers treat as "absent".
func (c *CourtCode) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*c = ""
		return nil
	}
	v, err := ParseCourtCode(string(text))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Hierarchy tells a court's immediate superior. Parent returns ("", false)
// for a court with no superior (最高法) or whose superior is unknown.
// Implementations must be safe for concurrent use if shared; the source
// of truth is normally each court's certificate, whose explicit parent
// field overrides what the code implies.
type Hierarchy interface {
	Parent(c CourtCode) (CourtCode, bool)
}

// DerivedHierarchy is the Hierarchy implied by court codes alone, using
// [CourtCode.DerivedParent]. It is a fallback: see the package
// documentation for where it is wrong.
type DerivedHierarchy struct{}

var _ Hierarchy = DerivedHierarchy{}

// Parent returns c.DerivedParent().
func (DerivedHierarchy) Parent(c CourtCode) (CourtCode, bool) { return c.DerivedParent() }

// maxHierarchyDepth bounds the walk in IsSuperior. The real hierarchy is at
// most four deep (basic, intermediate, high, supreme); the slack tolerates
// extra tiers a certificate might introduce.
const maxHierarchyDepth = 8

// IsSuperior reports whether superior is a strict ancestor of c in h. The
// walk follows at most 8 parent links and stops at a cycle, so a corrupt
// hierarchy yields false rather than hanging. A nil h means
// DerivedHierarchy{}. A court is not its own superior.
func IsSuperior(h Hierarchy, superior, c CourtCode) bool {
	if h == nil {
		h = DerivedHierarchy{}
	}
	if superior == "" || superior == c {
		return false
	}
	seen := map[CourtCode]bool{c: true}
	cur := c
	for range maxHierarchyDepth {
		p, ok := h.Parent(cur)
		if !ok || p == "" || seen[p] {
			return false
		}
		if p == superior {
			return true
		}
		seen[p] = true
		cur = p
	}
	return false
}
