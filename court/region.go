package court

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// RegionCode is an administrative division code (行政区划代码, GB/T 2260):
// six digits, two each for the province, the city and the district:
// 110105 (北京市朝阳区), 110100 (a city as a whole: district 00), 110000
// (a province as a whole). It says where an asset is or where a party is
// domiciled at the level of a district or city, which is not personal
// data: no address, name or identifier is derived from it. Obtain one
// from [ParseRegionCode] or [CourtCode.Region].
type RegionCode string

// provinceRegion maps each province abbreviation of the court codes to
// the two-digit province part of its division code. 军 and 兵 have none.
var provinceRegion = map[rune]string{
	'京': "11", '津': "12", '冀': "13", '晋': "14", '内': "15",
	'辽': "21", '吉': "22", '黑': "23", '沪': "31", '苏': "32",
	'浙': "33", '皖': "34", '闽': "35", '赣': "36", '鲁': "37",
	'豫': "41", '鄂': "42", '湘': "43", '粤': "44", '桂': "45",
	'琼': "46", '渝': "50", '川': "51", '黔': "52", '云': "53",
	'藏': "54", '陕': "61", '甘': "62", '青': "63", '宁': "64",
	'新': "65",
}

// knownProvinceRegion reports whether p is the province part of a region
// code some court code maps to.
func knownProvinceRegion(p string) bool {
	for _, v := range provinceRegion {
		if v == p {
			return true
		}
	}
	return false
}

// ParseRegionCode parses a six-digit division code. The province part
// must be one of the provinces court codes name (11 Beijing ... 65
// Xinjiang); a district part other than 00 needs a city part other than
// 00. The error wraps [ErrInvalid].
func ParseRegionCode(s string) (RegionCode, error) {
	t := normalizeDigits(strings.TrimSpace(s))
	if len(t) != 6 {
		return "", invalidf("region code", s, "want six digits of the administrative division code (e.g. 110105 for a district, 110100 for a city)")
	}
	for i := 0; i < len(t); i++ {
		if !isDigit(t[i]) {
			return "", invalidf("region code", s, "only digits")
		}
	}
	if !knownProvinceRegion(t[:2]) {
		return "", invalidf("region code", s, "no province has division code %s", t[:2])
	}
	if t[2:4] == "00" && t[4:] != "00" {
		return "", invalidf("region code", s, "a district (%s) needs a city (the middle two digits are 00)", t[4:])
	}
	return RegionCode(t), nil
}

// Validate reports whether r is a region code ParseRegionCode accepts
// unchanged.
func (r RegionCode) Validate() error {
	p, err := ParseRegionCode(string(r))
	if err != nil {
		return err
	}
	if p != r {
		return invalidf("region code", string(r), "not in normal form (write %s)", p)
	}
	return nil
}

// String returns the code.
func (r RegionCode) String() string { return string(r) }

// City returns the city the region lies in (110105 -> 110100); a city
// or a province returns itself.
func (r RegionCode) City() RegionCode {
	if len(r) != 6 || r[2:4] == "00" {
		return r
	}
	return r[:4] + "00"
}

// Province returns the province the region lies in (110105 -> 110000).
func (r RegionCode) Province() RegionCode {
	if len(r) != 6 {
		return r
	}
	return r[:2] + "0000"
}

// IsDistrict reports whether r names a district (its last two digits are
// not 00).
func (r RegionCode) IsDistrict() bool { return len(r) == 6 && r[4:] != "00" }

// Distance is how far apart two regions are, in steps of the division
// hierarchy: 0 the same region, 1 the same city (two of its districts,
// or a district and the city as a whole), 2 the same province, 3
// further. An
// invalid or empty code is 3 from everything. It is the only notion of
// distance the recommendation uses: the division codes say nothing of
// kilometres.
func Distance(a, b RegionCode) int {
	switch {
	case len(a) != 6 || len(b) != 6:
		return 3
	case a == b:
		return 0
	case a.Province() != b.Province():
		return 3
	case a.City() != b.City() || a.City() == a.Province():
		return 2
	default:
		return 1
	}
}

// Region returns the division code of the area a court serves, derived
// from its code: 京0105 -> 110105, 京01 -> 110100, 京 -> 110000. It
// returns ("", false) for 最高法, specialised courts (their codes 71-99
// are not division codes), 军 and 兵, and invalid codes. As with
// [CourtCode.DerivedParent], the derivation follows the code, which in
// some municipalities differs from the court's actual district; a
// deployment that knows better configures the court's region.
func (c CourtCode) Region() (RegionCode, bool) {
	d, ok := c.digits()
	if !ok || c.IsSpecialised() {
		return "", false
	}
	r, _ := utf8.DecodeRuneInString(string(c))
	p, ok := provinceRegion[r]
	if !ok {
		return "", false
	}
	switch len(d) {
	case 0:
		return RegionCode(p + "0000"), true
	case 2:
		return RegionCode(p + d + "00"), true
	case 4:
		return RegionCode(p + d), true
	}
	return "", false
}

// ValueBand is a coarse band of an amount of money, so that a summary
// can say roughly what a case's assets are worth without stating any
// asset's value. The zero value is no band.
type ValueBand int

// The bands, in yuan.
const (
	BandNone      ValueBand = iota
	BandUnder100K           // below 100,000 yuan
	BandUnder1M             // 100,000 to below 1,000,000
	BandUnder10M            // 1,000,000 to below 10,000,000
	BandOver10M             // 10,000,000 and more
)

// MaxValueBand is the highest band.
const MaxValueBand = BandOver10M

// BandOf returns the band of an amount in fen; amounts of 0 or less have
// no band.
func BandOf(fen int64) ValueBand {
	yuan := fen / 100
	switch {
	case fen <= 0:
		return BandNone
	case yuan < 100_000:
		return BandUnder100K
	case yuan < 1_000_000:
		return BandUnder1M
	case yuan < 10_000_000:
		return BandUnder10M
	default:
		return BandOver10M
	}
}

// Valid reports whether b is one of the bands (BandNone is not).
func (b ValueBand) Valid() bool { return b >= BandUnder100K && b <= MaxValueBand }

// Weight is the value, in yuan, a summary's reader assumes for an amount
// in band b: a point inside the band on a logarithmic scale (30,000,
// 300,000, 3,000,000, 30,000,000). 0 for no band.
func (b ValueBand) Weight() float64 {
	switch b {
	case BandUnder100K:
		return 30_000
	case BandUnder1M:
		return 300_000
	case BandUnder10M:
		return 3_000_000
	case BandOver10M:
		return 30_000_000
	}
	return 0
}

// String returns the band as text: "<100k", "100k-1m", "1m-10m", ">=10m"
// (yuan), or "none".
func (b ValueBand) String() string {
	switch b {
	case BandUnder100K:
		return "<100k"
	case BandUnder1M:
		return "100k-1m"
	case BandUnder10M:
		return "1m-10m"
	case BandOver10M:
		return ">=10m"
	}
	return fmt.Sprintf("none(%d)", int(b))
}
