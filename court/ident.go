package court

import (
	"strings"
	"unicode/utf8"
)

var residentWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// ResidentIDCheck returns the GB 11643-1999 check character (0-9 or X) for
// the first 17 digits of a resident identity number, or 0 if they are not
// 17 ASCII digits.
func ResidentIDCheck(first17 string) byte {
	if len(first17) != 17 {
		return 0
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0
		}
		sum += int(c-'0') * residentWeights[i]
	}
	return "10X98765432"[sum%11]
}

// ValidResidentID reports whether s is an 18-character resident identity
// number with a valid birth date and check digit (GB 11643-1999).
func ValidResidentID(s string) bool {
	if len(s) != 18 || ResidentIDCheck(s[:17]) != s[17] {
		return false
	}
	_, err := ParseDate(s[6:10] + "-" + s[10:12] + "-" + s[12:14])
	return err == nil
}

// creditCodeChars is the GB 32100-2015 alphabet (no I, O, Z, S, V).
const creditCodeChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// CreditCodeCheck returns the GB 32100-2015 check character of the first 17
// characters of a unified social credit code, or 0 if they use characters
// outside the code's alphabet.
func CreditCodeCheck(first17 string) byte {
	if len(first17) != 17 {
		return 0
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(creditCodeChars, first17[i])
		if v < 0 {
			return 0
		}
		sum += v * creditWeights[i]
	}
	return creditCodeChars[(31-sum%31)%31]
}

// ValidCreditCode reports whether s is an 18-character unified social
// credit code with a valid check character (GB 32100-2015).
func ValidCreditCode(s string) bool {
	return len(s) == 18 && CreditCodeCheck(s[:17]) == s[17]
}

// MaskNumber returns the display form of an identity or account number:
// the first 3 and last 4 characters kept, the rest replaced by '*'
// (110***********1234). Numbers of 8 characters or fewer are fully
// masked but for the last 2.
func MaskNumber(s string) string {
	n := utf8.RuneCountInString(s)
	r := []rune(s)
	keepHead, keepTail := 3, 4
	if n <= 8 {
		keepHead, keepTail = 0, min(2, n)
	}
	var b strings.Builder
	for i, c := range r {
		if i < keepHead || i >= n-keepTail {
			b.WriteRune(c)
		} else {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// MaskPhone returns a phone number's display form, 138****0000: first 3 and
// last 4 digits kept.
func MaskPhone(s string) string {
	if len(s) != 11 {
		return MaskNumber(s)
	}
	return s[:3] + "****" + s[7:]
}
