package court

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// compoundSurnames are the two-character surnames MaskName keeps whole.
var compoundSurnames = []string{
	"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
	"宇文", "司徒", "夏侯", "令狐", "轩辕", "端木", "南宫", "西门", "独孤", "澹台",
	"公冶", "呼延", "万俟", "闻人", "申屠", "钟离", "赫连", "拓跋", "太史", "百里",
}

// orgForms are the legal-form endings MaskName keeps on an
// organisation's name, longest first.
var orgForms = []string{
	"股份有限公司", "有限责任公司", "（有限合伙）", "(有限合伙)", "有限公司", "合伙企业",
	"合作社", "分公司", "事务所", "研究院", "委员会", "公司", "银行", "集团", "中心", "医院", "学校",
}

// MaskName returns the display form of a party's name. A natural person
// keeps the surname, every other character becomes '*' (张某甲: 张**;
// 欧阳某乙: 欧阳**). An organisation keeps its first character and its
// legal-form ending (北京某某科技有限公司: 北*****有限公司). A name of one
// character is shown as "*".
func MaskName(name string, kind PartyKind) string {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if n <= 1 {
		if n == 0 {
			return ""
		}
		return "*"
	}
	if kind != PartyNatural {
		for _, f := range orgForms {
			if rest, ok := strings.CutSuffix(name, f); ok && utf8.RuneCountInString(rest) >= 2 {
				r := []rune(rest)
				return string(r[0]) + strings.Repeat("*", len(r)-1) + f
			}
		}
	}
	keep := 1
	for _, s := range compoundSurnames {
		if strings.HasPrefix(name, s) && n > 2 {
			keep = 2
			break
		}
	}
	r := []rune(name)
	return string(r[:keep]) + strings.Repeat("*", n-keep)
}

// plateRE matches a mainland vehicle plate (京A12345, 京AD12345, 京A·1234X);
// its first two characters survive masking.
var plateRE = regexp.MustCompile(`[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z][·•\-. ]?[A-HJ-NP-Z0-9]{5,6}`)

// numberRE matches a run of letters and digits; one holding 6 digits or
// more (an account, an identity, phone, certificate or hull number) is
// masked with MaskNumber.
var numberRE = regexp.MustCompile(`[0-9A-Za-z]{6,}`)

// addressWords are the markers of an address below the district: a road,
// a building, a room. They, and any ASCII digit or letter, make the
// detail MaskText hides.
var addressWords = []string{
	"胡同", "小区", "单元", "大厦", "花园", "广场", "公寓", "社区", "家园", "新村", "大道",
	"路", "街", "道", "巷", "弄", "村", "镇", "乡", "号", "栋", "幢", "楼", "室", "院", "苑", "园", "组", "屯", "庄", "坊", "座", "层",
}

// notAddress are words that start with an address marker but are not
// one (号牌: a plate, 号码: a number).
var notAddress = []string{"号牌", "号码"}

// adminSuffixes end the administrative part of an address (province,
// city, district, county), which MaskText keeps.
const adminSuffixes = "省市区县旗州盟"

// MaskText returns the display form of a free-text field of a case (an
// asset's description, a document's title): the names of parties
// replaced by their MaskName form, vehicle plates cut to their province
// and letter (京A*****), and runs of 6 or more digits masked with
// MaskNumber; case numbers (（2024）京0105执1234号) are kept. With whereabouts (descriptions of real estate, vehicles,
// vessels and other property that is found at a place), the detail of an
// address below the district is hidden too: 北京市朝阳区某路8号院3号楼
// 住宅 becomes 北京市朝阳区****住宅. The rules over-mask rather than let a
// whereabouts through: the display is for finding the asset in the case,
// the dossier holds the text.
func MaskText(s string, parties []Party, whereabouts bool) string {
	if s == "" {
		return s
	}
	// Longest names first, so that a name containing another is masked
	// whole.
	ps := slices.Clone(parties)
	slices.SortFunc(ps, func(a, b Party) int { return len(b.Name) - len(a.Name) })
	for _, p := range ps {
		if n := strings.TrimSpace(p.Name); utf8.RuneCountInString(n) >= 2 {
			s = strings.ReplaceAll(s, n, MaskName(n, p.Kind))
		}
	}
	// Case numbers are not personal data and keep their digits.
	var b strings.Builder
	last := 0
	for _, loc := range caseNoRE.FindAllStringIndex(s, -1) {
		b.WriteString(maskPlain(s[last:loc[0]], whereabouts))
		b.WriteString(s[loc[0]:loc[1]])
		last = loc[1]
	}
	b.WriteString(maskPlain(s[last:], whereabouts))
	return b.String()
}

// caseNoRE matches a case number inside text: （2024）京0105执1234号.
var caseNoRE = regexp.MustCompile(`[（(][0-9]{4}[）)][\p{Han}0-9]{1,24}?号`)

// maskPlain is MaskText on text without case numbers, names done.
func maskPlain(s string, whereabouts bool) string {
	s = plateRE.ReplaceAllStringFunc(s, func(p string) string {
		r := []rune(p)
		return string(r[:2]) + "*****"
	})
	if whereabouts {
		s = maskAddresses(s)
	}
	return numberRE.ReplaceAllStringFunc(s, func(run string) string {
		digits := 0
		for i := 0; i < len(run); i++ {
			if run[i] >= '0' && run[i] <= '9' {
				digits++
			}
		}
		if digits < 6 {
			return run
		}
		return MaskNumber(run)
	})
}

// maskAddresses replaces the detail of each address in s (from after its
// last administrative suffix to its last road, building or room marker)
// by "****".
func maskAddresses(s string) string {
	r := []rune(s)
	var b strings.Builder
	i := 0
	for _, sp := range addressSpans(r) {
		b.WriteString(string(r[i:sp[0]]))
		b.WriteString("****")
		i = sp[1]
	}
	b.WriteString(string(r[i:]))
	return b.String()
}

// addressSpans returns the [start, end) rune ranges of the address
// details in r, in order.
func addressSpans(r []rune) [][2]int {
	var out [][2]int
	i := 0
	for i < len(r) {
		first := -1
		for j := i; j < len(r); j++ {
			if isAddressDetail(r, j) > 0 {
				first = j
				break
			}
		}
		if first < 0 {
			break
		}
		start := i
		for k := first - 1; k >= i; k-- {
			if strings.ContainsRune(adminSuffixes, r[k]) || isBoundary(r[k]) {
				start = k + 1
				break
			}
		}
		end := first
		for j := first; j < len(r) && !isBoundary(r[j]); {
			if w := isAddressDetail(r, j); w > 0 {
				j += w
				end = j
				continue
			}
			j++
		}
		out = append(out, [2]int{start, end})
		i = end
	}
	return out
}

// roadWords end the name of a road, a village or an estate: the part of
// an address that names the place.
var roadWords = []string{"胡同", "小区", "大道", "花园", "家园", "新村", "路", "街", "道", "巷", "弄", "村", "镇", "乡"}

// Places returns what MaskText hides as whereabouts in the description
// of an asset of class c (nothing for a class without whereabouts): each
// vehicle plate, and each address detail below the district together
// with its road or estate name alone (翀鸣路88号院3号楼 and 翀鸣路; the
// road word and the two characters before it).
// Free text that every court receives must hold none of them
// (protocol.CheckFreeTextPlaces); fragments shorter than 3 characters
// are left out, as too common to refuse.
func Places(desc string, c AssetClass) []string {
	var out []string
	add := func(p string) {
		p = strings.Join(strings.Fields(p), "")
		if utf8.RuneCountInString(p) >= 3 && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, p := range plateRE.FindAllString(desc, -1) {
		add(strings.NewReplacer("·", "", "•", "", "-", "", ".", "", " ", "").Replace(p))
	}
	if !c.Whereabouts() {
		return out
	}
	r := []rune(plateRE.ReplaceAllString(desc, " "))
	for _, sp := range addressSpans(r) {
		span := r[sp[0]:sp[1]]
		add(string(span))
		add(roadName(span))
	}
	return out
}

// roadName is the first road or estate word of an address detail with
// the two characters before it (翀鸣路 of 翀鸣路88号院, 翀鸣大道 of
// 停放于翀鸣大道8号), or "".
func roadName(span []rune) string {
	for j := range span {
		if n := wordAt(span, j, roadWords); n > 0 {
			return string(span[max(0, j-2) : j+n])
		}
	}
	return ""
}

// isAddressDetail returns the length in runes of the address marker at
// r[j] (an ASCII digit or letter counts as one), or 0.
func isAddressDetail(r []rune, j int) int {
	c := r[j]
	if isDigitRune(c) || c == '#' || c == '＃' {
		return 1
	}
	// A letter beside a digit: 3A, B2.
	if c < utf8.RuneSelf && unicode.IsLetter(c) && (j > 0 && isDigitRune(r[j-1]) || j+1 < len(r) && isDigitRune(r[j+1])) {
		return 1
	}
	if wordAt(r, j, notAddress) > 0 {
		return 0
	}
	return wordAt(r, j, addressWords)
}

// wordAt returns the length in runes of the first of words that r holds
// at j, or 0.
func wordAt(r []rune, j int, words []string) int {
	if !slices.ContainsFunc(words, func(w string) bool { return []rune(w)[0] == r[j] }) {
		return 0
	}
	for _, w := range words {
		n := utf8.RuneCountInString(w)
		if j+n <= len(r) && string(r[j:j+n]) == w {
			return n
		}
	}
	return 0
}

func isDigitRune(c rune) bool { return c >= '0' && c <= '9' || c >= '０' && c <= '９' }

// isBoundary reports whether c ends an address: space or punctuation
// other than the joiners addresses use (-, #, ·).
func isBoundary(c rune) bool {
	switch c {
	case '-', '－', '#', '＃', '·', '*':
		return false
	}
	return unicode.IsSpace(c) || unicode.IsPunct(c) || unicode.IsSymbol(c)
}

// Whereabouts reports whether the description of an asset of class c
// tells where the asset is (an address, a berth, a parking place), so
// that MaskText must hide addresses in it.
func (c AssetClass) Whereabouts() bool {
	switch c {
	case AssetRealEstate, AssetVehicle, AssetVessel, AssetOther:
		return true
	}
	return !c.Valid()
}
