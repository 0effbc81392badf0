package court

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// courtNames holds the official names of courts whose codes are public and
// stable. It is a convenience for display and synthetic data, not a
// registry: a court absent here may still be valid.
var courtNames = map[CourtCode]string{
	Supreme: "最高人民法院",

	// High courts.
	"京": "北京市高级人民法院",
	"津": "天津市高级人民法院",
	"冀": "河北省高级人民法院",
	"晋": "山西省高级人民法院",
	"内": "内蒙古自治区高级人民法院",
	"辽": "辽宁省高级人民法院",
	"吉": "吉林省高级人民法院",
	"黑": "黑龙江省高级人民法院",
	"沪": "上海市高级人民法院",
	"苏": "江苏省高级人民法院",
	"浙": "浙江省高级人民法院",
	"皖": "安徽省高级人民法院",
	"闽": "福建省高级人民法院",
	"赣": "江西省高级人民法院",
	"鲁": "山东省高级人民法院",
	"豫": "河南省高级人民法院",
	"鄂": "湖北省高级人民法院",
	"湘": "湖南省高级人民法院",
	"粤": "广东省高级人民法院",
	"桂": "广西壮族自治区高级人民法院",
	"琼": "海南省高级人民法院",
	"渝": "重庆市高级人民法院",
	"川": "四川省高级人民法院",
	"黔": "贵州省高级人民法院",
	"云": "云南省高级人民法院",
	"藏": "西藏自治区高级人民法院",
	"陕": "陕西省高级人民法院",
	"甘": "甘肃省高级人民法院",
	"青": "青海省高级人民法院",
	"宁": "宁夏回族自治区高级人民法院",
	"新": "新疆维吾尔自治区高级人民法院",
	"兵": "新疆维吾尔自治区高级人民法院生产建设兵团分院",
	"军": "中国人民解放军军事法院",

	// Beijing.
	"京01":   "北京市第一中级人民法院",
	"京02":   "北京市第二中级人民法院",
	"京03":   "北京市第三中级人民法院",
	"京04":   "北京市第四中级人民法院",
	"京71":   "北京铁路运输中级法院",
	"京73":   "北京知识产权法院",
	"京0101": "北京市东城区人民法院",
	"京0102": "北京市西城区人民法院",
	"京0105": "北京市朝阳区人民法院",
	"京0106": "北京市丰台区人民法院",
	"京0107": "北京市石景山区人民法院",
	"京0108": "北京市海淀区人民法院",
	"京0111": "北京市房山区人民法院",
	"京0112": "北京市通州区人民法院",
	"京0113": "北京市顺义区人民法院",
	"京0114": "北京市昌平区人民法院",
	"京0115": "北京市大兴区人民法院",
	"京7101": "北京铁路运输法院",

	// Shanghai.
	"沪01":   "上海市第一中级人民法院",
	"沪02":   "上海市第二中级人民法院",
	"沪03":   "上海市第三中级人民法院",
	"沪72":   "上海海事法院",
	"沪73":   "上海知识产权法院",
	"沪0101": "上海市黄浦区人民法院",
	"沪0104": "上海市徐汇区人民法院",
	"沪0115": "上海市浦东新区人民法院",

	// Guangdong.
	"粤01":   "广州市中级人民法院",
	"粤03":   "深圳市中级人民法院",
	"粤07":   "江门市中级人民法院",
	"粤72":   "广州海事法院",
	"粤73":   "广州知识产权法院",
	"粤0104": "广州市越秀区人民法院",
	"粤0106": "广州市天河区人民法院",
	"粤0304": "深圳市福田区人民法院",
	"粤0305": "深圳市南山区人民法院",
	"粤0703": "江门市蓬江区人民法院",
}

// KnownCourtName returns the official name of the court with code c
// (京0105: 北京市朝阳区人民法院) if it is in the built-in table. The table
// covers the Supreme People's Court, every high court and a sample of
// intermediate and basic courts; ok is false for any other code, valid or
// not.
func KnownCourtName(c CourtCode) (name string, ok bool) {
	name, ok = courtNames[c]
	return name, ok
}

// KnownCourts returns the codes in the built-in name table, sorted in
// hierarchy order: 最高法 first, then by province in the order of the
// administrative division codes (京 津 冀 ... 新 军 兵), each province's
// codes in ascending order (京, 京01, 京0101, ...).
func KnownCourts() []CourtCode {
	out := make([]CourtCode, 0, len(courtNames))
	for c := range courtNames {
		out = append(out, c)
	}
	slices.SortFunc(out, compareCodes)
	return out
}

// compareCodes orders codes by hierarchy as KnownCourts describes.
func compareCodes(a, b CourtCode) int {
	rank := func(c CourtCode) int {
		if c == Supreme {
			return -1
		}
		r, _ := utf8.DecodeRuneInString(string(c))
		return strings.IndexRune(provinceOrder, r)
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return cmpInt(ra, rb)
	}
	return strings.Compare(string(a), string(b))
}
