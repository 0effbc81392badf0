package court

import (
	"slices"
	"strings"
	"testing"
)

func TestKnownCourtName(t *testing.T) {
	t.Parallel()
	tests := map[CourtCode]string{
		Supreme: "最高人民法院",
		"京":     "北京市高级人民法院",
		"内":     "内蒙古自治区高级人民法院",
		"兵":     "新疆维吾尔自治区高级人民法院生产建设兵团分院",
		"军":     "中国人民解放军军事法院",
		"黔":     "贵州省高级人民法院",
		"京03":   "北京市第三中级人民法院",
		"京73":   "北京知识产权法院",
		"京0105": "北京市朝阳区人民法院",
		"京7101": "北京铁路运输法院",
		"沪72":   "上海海事法院",
		"粤0703": "江门市蓬江区人民法院",
	}
	for c, want := range tests {
		if got, ok := KnownCourtName(c); !ok || got != want {
			t.Errorf("KnownCourtName(%s) = %q, %v; want %q", c, got, ok, want)
		}
	}
	if _, ok := KnownCourtName("京0199"); ok {
		t.Error("KnownCourtName(京0199) found a name")
	}
}

func TestKnownCourts(t *testing.T) {
	t.Parallel()
	codes := KnownCourts()
	if codes[0] != Supreme {
		t.Errorf("first code %s, want 最高法", codes[0])
	}
	if !slices.IsSortedFunc(codes, compareCodes) {
		t.Error("KnownCourts not sorted")
	}
	high := 0
	for _, c := range codes {
		if err := c.Validate(); err != nil {
			t.Errorf("table holds invalid code: %v", err)
		}
		name, _ := KnownCourtName(c)
		if !strings.HasSuffix(name, "法院") && !strings.HasSuffix(name, "分院") {
			t.Errorf("%s: odd name %q", c, name)
		}
		if c.Level() == LevelHigh {
			high++
			if !strings.Contains(name, "高级人民法院") && c != "军" {
				t.Errorf("high court %s named %q", c, name)
			}
		}
		if c.IsSpecialised() == strings.Contains(name, "人民法院") && c.Level() != LevelHigh {
			t.Errorf("%s (%q): IsSpecialised = %v", c, name, c.IsSpecialised())
		}
	}
	if high != 33 { // 31 provinces, 军, 兵
		t.Errorf("%d high courts in the table, want 33", high)
	}
	if i, j := slices.Index(codes, "京"), slices.Index(codes, "津"); i > j || slices.Index(codes, "京0115") > j {
		t.Error("provinces out of order")
	}
}
