package court

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestMaskName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		kind PartyKind
		want string
	}{
		{"张某甲", PartyNatural, "张**"},
		{"张三", PartyNatural, "张*"},
		{"欧阳某乙", PartyNatural, "欧阳**"},
		{"欧阳", PartyNatural, "欧*"}, // a surname alone: not a compound surname plus a name
		{"李", PartyNatural, "*"},
		{"", PartyNatural, ""},
		{" 王某 ", PartyNatural, "王*"},
		{"北京某某科技有限公司", PartyLegal, "北*****有限公司"},
		{"某某建设股份有限公司", PartyLegal, "某***股份有限公司"},
		{"某某商行", PartyOther, "某***"},
		{"有限公司", PartyLegal, "有*公司"},
	} {
		if got := MaskName(tc.name, tc.kind); got != tc.want {
			t.Errorf("MaskName(%q, %s) = %q, want %q", tc.name, tc.kind, got, tc.want)
		}
	}
}

func TestMaskText(t *testing.T) {
	t.Parallel()
	parties := []Party{
		{Name: "褚某翀", Kind: PartyNatural},
		{Name: "某某翀鸣科技有限公司", Kind: PartyLegal},
	}
	for _, tc := range []struct {
		in          string
		whereabouts bool
		want        string
		hidden      []string // must not survive
	}{
		{"北京市朝阳区翀鸣路88号院7号楼1204室住宅", true, "北京市朝阳区****住宅", []string{"翀鸣路", "1204"}},
		{"住宅一套，位于北京市朝阳区翀鸣路88号", true, "住宅一套，位于北京市朝阳区****", []string{"翀鸣路88"}},
		{"某某小区某号楼某单元住宅", true, "****住宅", nil},
		{"小型轿车一辆 (京N7Q3K9)", true, "小型轿车一辆 (京N*****)", []string{"7Q3K9"}},
		{"小型轿车一辆 (京A*****)", true, "小型轿车一辆 (京A*****)", nil},
		{"小型轿车，号牌京AD12345，停放于翀鸣大道8号地下车库", true, "小型轿车，号牌京A*****，****地下车库", []string{"D12345", "翀鸣大道"}},
		{"中国某某银行活期存款账户 9999073117310468213", false, "中国某某银行活期存款账户 999************8213", []string{"9999073117310468213"}},
		{"褚某翀名下某某翀鸣科技有限公司 20% 股权", false, "褚**名下某*****有限公司 20% 股权", []string{"褚某翀", "翀鸣"}},
		{"执行裁定书（2024）京0105执1234号 褚某翀", false, "执行裁定书（2024）京0105执1234号 褚**", []string{"褚某翀"}},
		{"查封裁定书 (北京市朝阳区翀鸣路88号院住宅) （2024）京0105执1234号", true, "查封裁定书 (北京市朝阳区****住宅) （2024）京0105执1234号", []string{"翀鸣路"}},
		{"联系电话 13957310468，身份证 990105198803071238", false, "联系电话 139****0468，身份证 990***********1238", []string{"13957310468", "990105198803071238"}},
		{"2023年购入", false, "2023年购入", nil},
		{"", true, "", nil},
	} {
		got := MaskText(tc.in, parties, tc.whereabouts)
		if got != tc.want {
			t.Errorf("MaskText(%q, %t) = %q, want %q", tc.in, tc.whereabouts, got, tc.want)
		}
		for _, h := range tc.hidden {
			if strings.Contains(got, h) {
				t.Errorf("MaskText(%q) = %q keeps %q", tc.in, got, h)
			}
		}
	}
}

func TestWhereabouts(t *testing.T) {
	t.Parallel()
	for c, want := range map[AssetClass]bool{AssetRealEstate: true, AssetVehicle: true, AssetVessel: true, AssetOther: true, "deposit": false, "equity": false, "bogus": true} {
		if got := c.Whereabouts(); got != want {
			t.Errorf("%s.Whereabouts() = %t, want %t", c, got, want)
		}
	}
}

func TestPlaces(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc  string
		class AssetClass
		want  []string
	}{
		{"北京市朝阳区翀鸣路88号院7号楼1204室住宅", AssetRealEstate, []string{"翀鸣路88号院7号楼1204室", "翀鸣路"}},
		{"小型轿车一辆，号牌京ZC9Q7X，停放于翀鸣大道8号地下车库", AssetVehicle, []string{"京ZC9Q7X", "停放于翀鸣大道8号", "翀鸣大道"}},
		{"小型轿车一辆 (京A·12345)", AssetVehicle, []string{"京A12345"}},
		{"某某银行翀鸣支行活期存款账户", AssetDeposit, nil},
		{"某某有限公司 20% 股权", AssetEquity, nil},
		{"货船一艘", AssetVessel, nil},
	} {
		if got := Places(tc.desc, tc.class); !slices.Equal(got, tc.want) {
			t.Errorf("Places(%q, %s) = %q, want %q", tc.desc, tc.class, got, tc.want)
		}
	}
}

// FuzzMaskText: MaskText never panics, keeps valid text valid, and never
// leaves a party's name (two or more Han characters) in the text.
func FuzzMaskText(f *testing.F) {
	f.Add("北京市朝阳区翀鸣路88号院7号楼1204室住宅", "褚某翀", true)
	f.Add("小型轿车一辆，号牌京ZC9Q7X，停放于翀鸣大道8号地下车库", "欧阳某翚", true)
	f.Add("执行裁定书（2024）京0105执1234号 褚某翀 9999073117310468213", "褚某翀", false)
	f.Add("", "张某", true)
	f.Fuzz(func(t *testing.T, s, name string, whereabouts bool) {
		got := MaskText(s, []Party{{Name: name, Kind: PartyNatural}}, whereabouts)
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("MaskText(%q) = %q: not valid UTF-8", s, got)
		}
		n := strings.TrimSpace(name)
		han := utf8.RuneCountInString(n) >= 2
		for _, r := range n {
			han = han && unicode.Is(unicode.Han, r)
		}
		if han && strings.Contains(got, n) {
			t.Fatalf("MaskText(%q) = %q keeps the name %q", s, got, n)
		}
		_ = Places(s, AssetRealEstate)
	})
}
