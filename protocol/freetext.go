package protocol

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"courtmesh.dev/courtmesh/court"
)

// Free text that every court receives (rejection, withdrawal and
// grant-revocation reasons, the override reason of a handover, the status
// of a progress report) travels in the clear on the national topics and
// stays in every court's record log for years. It must carry no personal
// data: that belongs in the sealed dossier, readable only by the courts
// concerned.

// CheckFreeText refuses a free-text field whose text holds what looks
// like personal data:
//
//   - an 18-character resident identity number with a valid check digit,
//   - an 18-character unified social credit code with a valid check
//     character,
//   - an 11-digit mainland mobile number (1[3-9]…), masked (138****0000)
//     or not,
//   - a run of 12 or more digits (a bank or payment account, or an
//     identity number whose check digit is wrong).
//
// Digits may be full-width and grouped with single spaces or hyphens
// (138 0000 0000, 6222-0000-…): groups are joined before checking. Ordinary
// text, case numbers (（2024）京0105执1234号), dates and amounts pass.
//
// The error wraps court.ErrInvalid and names the field and the kind of
// data found, never the data itself, so that it can be logged and
// answered to the caller.
func CheckFreeText(field, s string) error {
	for _, run := range alnumRuns(s) {
		if what := classifyRun(run); what != "" {
			return freeTextError(field, what)
		}
	}
	return nil
}

// CheckFreeTextNames refuses a free-text field that names one of names
// (the parties of the case): a name of two characters or more, compared
// without spaces. The error names the field, never the name.
func CheckFreeTextNames(field, s string, names []string) error {
	text := stripSpace(s)
	for _, n := range names {
		n = stripSpace(n)
		if utf8.RuneCountInString(n) < 2 {
			continue
		}
		if strings.Contains(text, n) {
			return freeTextError(field, "the name of a party to the case")
		}
	}
	return nil
}

// CheckFreeTextPlaces refuses a free-text field that holds one of places
// (the addresses and plates of the case's assets, court.Places),
// compared without spaces. The error names the field, never the place.
func CheckFreeTextPlaces(field, s string, places []string) error {
	text := stripSpace(s)
	for _, p := range places {
		if p = stripSpace(p); utf8.RuneCountInString(p) >= 3 && strings.Contains(text, p) {
			return freeTextError(field, "an address or a vehicle plate of the case's assets")
		}
	}
	return nil
}

func freeTextError(field, what string) error {
	return invalid("%s holds %s; text that every court receives must carry no personal data: "+
		"refer to the party by role (申请执行人, 被执行人) and leave identity, phone and account numbers in the dossier", field, what)
}

// classifyRun names the personal data run looks like, or "".
func classifyRun(run string) string {
	upper := strings.ToUpper(run)
	// Look for the 18-character codes anywhere inside the run.
	for i := 0; i+18 <= len(upper); i++ {
		w := upper[i : i+18]
		if court.ValidResidentID(w) {
			return "what looks like a resident identity number"
		}
		if court.ValidCreditCode(w) && countDigits(w) >= 8 {
			return "what looks like a unified social credit code"
		}
	}
	// The longest run of digits (and masking stars) inside the run.
	for _, d := range digitRuns(upper) {
		if isMobile(d) {
			return "what looks like a mobile phone number"
		}
		if countDigits(d) >= 12 {
			return "what looks like an account or identity number (a run of 12 or more digits)"
		}
	}
	return ""
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

// isMobile reports whether d (digits and '*') is a mainland mobile number,
// masked or not: 11 characters, 1 then 3-9, at least 7 digits.
func isMobile(d string) bool {
	return len(d) == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9' && countDigits(d) >= 7 && !strings.ContainsAny(d[:3]+d[7:], "*")
}

// digitRuns splits s into maximal runs of digits and '*' that hold at
// least one digit.
func digitRuns(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		in := i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '*')
		if in && start < 0 {
			start = i
		}
		if !in && start >= 0 {
			if countDigits(s[start:i]) > 0 {
				out = append(out, s[start:i])
			}
			start = -1
		}
	}
	return out
}

// alnumRuns returns the maximal runs of ASCII letters, digits and '*' in
// s, full-width forms folded to ASCII, with single spaces or hyphens
// between two such characters dropped (grouped numbers are joined).
func alnumRuns(s string) []string {
	rs := []rune(s)
	for i, r := range rs {
		if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII
			rs[i] = r - 0xFEE0
		}
		if r == 0x3000 { // ideographic space
			rs[i] = ' '
		}
	}
	isAl := func(r rune) bool { return r < utf8.RuneSelf && (unicode.IsDigit(r) || unicode.IsLetter(r) || r == '*') }
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	for i, r := range rs {
		switch {
		case isAl(r):
			b.WriteRune(r)
		case (r == ' ' || r == '-') && i > 0 && i+1 < len(rs) && isDigitOrStar(rs[i-1]) && isDigitOrStar(rs[i+1]):
			// a group separator inside a number: skip it
		default:
			flush()
		}
	}
	flush()
	return out
}

func isDigitOrStar(r rune) bool { return r >= '0' && r <= '9' || r == '*' }

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}
