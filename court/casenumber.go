package court

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CaseType is the type code (类型代字) of a case number, such as 执 (first
// enforcement) or 民初 (civil first instance).
type CaseType string

// Enforcement case types.
const (
	TypeEnforcement  CaseType = "执"  // first enforcement (首次执行)
	TypeResumed      CaseType = "执恢" // resumed enforcement (恢复执行)
	TypePreservation CaseType = "执保" // enforcement of preservation (财产保全执行)
	TypeObjection    CaseType = "执异" // objection to enforcement (执行异议)
	TypeReview       CaseType = "执复" // review of enforcement (执行复议)
	TypeSupervision  CaseType = "执监" // enforcement supervision (执行监督)
	TypeCoordination CaseType = "执协" // enforcement coordination (执行协调)
	TypeOtherEnf     CaseType = "执他" // other enforcement matters (其他执行)
)

// Common title and other case types, the cases whose outcome is the
// enforceable title or that accompany enforcement.
const (
	TypeCivilFirst      CaseType = "民初" // civil, first instance
	TypeCivilSecond     CaseType = "民终" // civil, second instance
	TypeCivilRetrial    CaseType = "民再" // civil retrial
	TypeCivilPetition   CaseType = "民申" // civil retrial petition
	TypeCivilSpecial    CaseType = "民特" // civil special procedure (incl. arbitration review)
	TypeCivilOrder      CaseType = "民督" // payment order (督促程序)
	TypeCommercialFirst CaseType = "商初" // commercial, first instance (pre-2016 numbering)
	TypeCriminalFirst   CaseType = "刑初" // criminal, first instance
	TypeCriminalSecond  CaseType = "刑终" // criminal, second instance
	TypeAdminFirst      CaseType = "行初" // administrative, first instance
	TypeAdminSecond     CaseType = "行终" // administrative, second instance
	TypeAdminNonLit     CaseType = "行审" // review of non-litigation administrative enforcement
	TypeBankruptcy      CaseType = "破"  // bankruptcy
	TypeBankruptcyApp   CaseType = "破申" // bankruptcy application
	TypePrePreservation CaseType = "财保" // pre-litigation property preservation
	TypeLitPreservation CaseType = "诉保" // preservation during litigation
	TypeArbitration     CaseType = "仲"  // arbitration-related
)

var caseTypeNames = map[CaseType]string{
	TypeEnforcement: "首次执行", TypeResumed: "恢复执行", TypePreservation: "财产保全执行",
	TypeObjection: "执行异议", TypeReview: "执行复议", TypeSupervision: "执行监督",
	TypeCoordination: "执行协调", TypeOtherEnf: "其他执行",
	TypeCivilFirst: "民事一审", TypeCivilSecond: "民事二审", TypeCivilRetrial: "民事再审",
	TypeCivilPetition: "民事申请再审审查", TypeCivilSpecial: "民事特别程序", TypeCivilOrder: "督促程序",
	TypeCommercialFirst: "商事一审", TypeCriminalFirst: "刑事一审", TypeCriminalSecond: "刑事二审",
	TypeAdminFirst: "行政一审", TypeAdminSecond: "行政二审", TypeAdminNonLit: "非诉行政执行审查",
	TypeBankruptcy: "破产", TypeBankruptcyApp: "破产申请审查",
	TypePrePreservation: "诉前财产保全", TypeLitPreservation: "诉讼保全", TypeArbitration: "仲裁相关",
}

// ParseCaseType parses a known case type code such as 执 or 民初.
func ParseCaseType(s string) (CaseType, error) {
	t := CaseType(strings.TrimSpace(s))
	if !t.Known() {
		return "", invalidf("case type", s, "not a known case type code; known codes: %s", knownTypeList())
	}
	return t, nil
}

func knownTypeList() string {
	ts := make([]string, 0, len(caseTypeNames))
	for t := range caseTypeNames {
		ts = append(ts, string(t))
	}
	slices.Sort(ts)
	return strings.Join(ts, " ")
}

// Known reports whether t is one of the case type codes this package knows.
func (t CaseType) Known() bool {
	_, ok := caseTypeNames[t]
	return ok
}

// IsEnforcement reports whether t is an enforcement type (执, 执恢, 执保,
// 执异, 执复, 执监, 执协, 执他).
func (t CaseType) IsEnforcement() bool {
	return t.Known() && strings.HasPrefix(string(t), "执")
}

// Label returns a Chinese description of the type (执恢: 恢复执行), or ""
// for an unknown type.
func (t CaseType) Label() string { return caseTypeNames[t] }

// String returns the code.
func (t CaseType) String() string { return string(t) }

// SpecialTrialIP is the special-trial code (专门审判代字) of the Supreme
// People's Court's intellectual property tribunal, as in （2021）最高法知民终1号.
// It is the only special-trial code this package understands.
const SpecialTrialIP = "知"

// Limits of a case number.
const (
	MinCaseYear = 1990      // earliest year accepted in a case number
	MaxCaseYear = 2100      // latest year accepted in a case number
	MaxCaseSeq  = 999999999 // largest sequence number (9 digits)
)

// CaseNumber is a parsed case number (案号), e.g. （2024）京0105执1234号.
// The zero value means "no case number".
type CaseNumber struct {
	Year    int       // 年度, MinCaseYear..MaxCaseYear
	Court   CourtCode // 法院代字
	Special string    // 专门审判代字: "" or SpecialTrialIP
	Type    CaseType  // 类型代字
	Seq     int       // 编号, 1..MaxCaseSeq
}

// ParseCaseNumber parses a case number. It accepts ASCII or full-width
// parentheses, full-width digits and surrounding white space; the result's
// String is the normalised form （2024）京0105执1234号. The error, which
// wraps [ErrInvalid], names what is wrong: missing parentheses, a bad year,
// an unknown court code or type code, a bad sequence number or a missing 号.
func ParseCaseNumber(s string) (CaseNumber, error) {
	fail := func(format string, args ...any) (CaseNumber, error) {
		return CaseNumber{}, invalidf("case number", s, format, args...)
	}
	t := normalizeDigits(strings.TrimSpace(s))
	if t == "" {
		return fail("case number is empty; write e.g. （2024）京0105执1234号")
	}
	if !utf8.ValidString(t) {
		return fail("not valid UTF-8 text")
	}
	var rest string
	switch {
	case strings.HasPrefix(t, "（"):
		rest = t[len("（"):]
	case strings.HasPrefix(t, "("):
		rest = t[1:]
	default:
		return fail("must start with the year in parentheses, e.g. （2024）")
	}
	var yearText string
	if i := strings.IndexAny(rest, ")）"); i >= 0 {
		yearText = rest[:i]
		if strings.HasPrefix(rest[i:], ")") {
			rest = rest[i+1:]
		} else {
			rest = rest[i+len("）"):]
		}
	} else {
		return fail("missing closing parenthesis after the year")
	}
	year, err := strconv.Atoi(yearText)
	if err != nil || len(yearText) != 4 || yearText[0] == '+' || yearText[0] == '-' {
		return fail("year %q must be four digits, e.g. （2024）", yearText)
	}
	if year < MinCaseYear || year > MaxCaseYear {
		return fail("year %d out of range %d-%d", year, MinCaseYear, MaxCaseYear)
	}

	// Court code: 最高法, or a province abbreviation and its digits. Type
	// codes contain no digits, so the digit run belongs to the court.
	var courtText string
	if strings.HasPrefix(rest, string(Supreme)) {
		courtText = string(Supreme)
	} else {
		_, size := utf8.DecodeRuneInString(rest)
		n := size
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		courtText = rest[:n]
	}
	if courtText == "" {
		return fail("court code missing after the year")
	}
	if err := checkCourtCode(courtText); err != nil {
		return fail("court code %q: %s", courtText, err)
	}
	rest = rest[len(courtText):]

	// Type code: everything up to the sequence digits.
	n := 0
	for n < len(rest) && !isDigit(rest[n]) {
		n++
	}
	typeText := rest[:n]
	rest = rest[n:]
	if typeText == "" {
		return fail("case type code (e.g. 执) missing after court code %s", courtText)
	}
	if strings.HasSuffix(typeText, "号") && rest == "" {
		return fail("sequence number missing before 号")
	}
	var special string
	typ := CaseType(typeText)
	if !typ.Known() && strings.HasPrefix(typeText, SpecialTrialIP) && CaseType(typeText[len(SpecialTrialIP):]).Known() {
		special, typ = SpecialTrialIP, CaseType(typeText[len(SpecialTrialIP):])
	}
	if !typ.Known() {
		return fail("unknown case type code %q; known codes: %s", typeText, knownTypeList())
	}

	// Sequence number and the closing 号.
	n = 0
	for n < len(rest) && isDigit(rest[n]) {
		n++
	}
	seqText := rest[:n]
	rest = rest[n:]
	switch {
	case seqText == "":
		return fail("sequence number missing after case type %s", typ)
	case seqText[0] == '0':
		return fail("sequence number %q must be a positive number without leading zeros", seqText)
	case len(seqText) > 9:
		return fail("sequence number %q too long: at most 9 digits", seqText)
	}
	seq, _ := strconv.Atoi(seqText) // at most 9 digits: cannot fail
	switch rest {
	case "号":
	case "":
		return fail("must end with 号")
	default:
		if strings.HasPrefix(rest, "号") {
			return fail("unexpected text %q after 号", rest[len("号"):])
		}
		return fail("unexpected text %q after sequence number; must end with 号", rest)
	}
	return CaseNumber{Year: year, Court: CourtCode(courtText), Special: special, Type: typ, Seq: seq}, nil
}

// MustParseCaseNumber is like ParseCaseNumber but panics on error. Use it
// only for constants in tests and examples.
func MustParseCaseNumber(s string) CaseNumber {
	n, err := ParseCaseNumber(s)
	if err != nil {
		panic(err)
	}
	return n
}

// IsZero reports whether n is the zero value, meaning "no case number".
func (n CaseNumber) IsZero() bool { return n == CaseNumber{} }

// Validate reports whether n is a well-formed case number, as
// ParseCaseNumber would produce it.
func (n CaseNumber) Validate() error {
	m, err := ParseCaseNumber(n.String())
	if err != nil {
		return err
	}
	if m != n {
		return invalidf("case number", n.String(), "fields do not round-trip")
	}
	return nil
}

// String returns the normalised form, e.g. （2024）京0105执1234号, or "" for
// the zero value.
func (n CaseNumber) String() string {
	if n.IsZero() {
		return ""
	}
	// As fmt.Sprintf("（%d）%s%s%s%d号", ...), without fmt: every stored
	// transfer's indexes spell it.
	b := make([]byte, 0, 48)
	b = append(b, "（"...)
	b = strconv.AppendInt(b, int64(n.Year), 10)
	b = append(b, "）"...)
	b = append(b, n.Court...)
	b = append(b, n.Special...)
	b = append(b, n.Type...)
	b = strconv.AppendInt(b, int64(n.Seq), 10)
	b = append(b, "号"...)
	return string(b)
}

// MarshalText encodes n in its normalised form. The zero value encodes as
// empty text; any other invalid value is an error.
func (n CaseNumber) MarshalText() ([]byte, error) {
	if n.IsZero() {
		return []byte{}, nil
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	return []byte(n.String()), nil
}

// UnmarshalText decodes a case number with ParseCaseNumber. Empty text
// decodes to the zero value, which callers treat as "absent".
func (n *CaseNumber) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*n = CaseNumber{}
		return nil
	}
	v, err := ParseCaseNumber(string(text))
	if err != nil {
		return err
	}
	*n = v
	return nil
}
