package protocol_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// synthetic personal data (DOMAIN.md: region prefix 99, accounts 9999).
var (
	ftResident = residentID("99010119900101123")
	ftCredit   = creditCode("91990100MA0000001")
)

// badCheck is id with a wrong check character.
func badCheck(id string) string {
	last := byte('0')
	if id[17] == '0' {
		last = '1'
	}
	return id[:17] + string(last)
}

func residentID(first17 string) string { return first17 + string(court.ResidentIDCheck(first17)) }
func creditCode(first17 string) string { return first17 + string(court.CreditCodeCheck(first17)) }

// fullWidth folds ASCII digits and letters of s to their full-width forms.
func fullWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r > ' ' && r < 0x7F {
			return r + 0xFEE0
		}
		return r
	}, s)
}

// freeTextCases are the accepted and refused texts of every free-text
// field; want is the phrase the error names (never the data itself).
var freeTextCases = []struct {
	name, text string
	want       string // "" accepted
}{
	{"ordinary reason", "重复", ""},
	{"ordinary withdrawal", "被执行人已主动履行", ""},
	{"progress", "查封房产已进入拍卖程序", ""},
	{"case number", "与（2024）京0105执1234号系同一被执行人", ""},
	{"dates and amount", "2025-06-01 至 2025-07-01 已执行到位 1200000 元", ""},
	{"decision number", "依（2025）京01执监45号决定", ""},
	{"short digits", "第3次拍卖流拍，保留价下调20%", ""},
	{"english", "duplicate of an earlier offer", ""},
	{"eleven digits not mobile", "编号 20250601123", ""},
	{"resident id", "被执行人身份证号" + ftResident + "已核实", "resident identity number"},
	{"resident id lower x", "证件 " + strings.ToLower(residentID("99010119800101001")), "identity"},
	{"resident id full-width", fullWidth(ftResident), "resident identity number"},
	{"resident id bad check digit", "证件号 " + badCheck(ftResident), "account or identity number"},
	{"credit code", "某某科技有限公司（" + ftCredit + "）", "unified social credit code"},
	{"mobile", "联系电话13800000000", "mobile phone number"},
	{"mobile grouped", "电话 138 0000 0000", "mobile phone number"},
	{"mobile hyphens", "电话 138-0000-0000", "mobile phone number"},
	{"mobile masked", "电话 138****0000", "mobile phone number"},
	{"mobile full-width", "电话" + fullWidth("13912345678"), "mobile phone number"},
	{"account", "账户 9999000011112222 已冻结", "account or identity number"},
	{"account grouped", "账户 9999 0000 1111 2222", "account or identity number"},
	{"account twelve", "卡号999900001111", "account or identity number"},
}

func TestFreeTextRefusesPersonalData(t *testing.T) {
	t.Parallel()
	for _, c := range freeTextCases {
		t.Run("check/"+c.name, func(t *testing.T) {
			err := protocol.CheckFreeText("reason", c.text)
			checkFreeTextErr(t, err, c.want, c.text)
		})
	}
	t.Run("names", func(t *testing.T) {
		names := []string{"张某甲", "某某科技有限公司", "李"}
		for _, c := range []struct{ text, want string }{
			{"被执行人已履行", ""},
			{"张某甲已主动履行", "name of a party"},
			{"与某某科技 有限公司和解", "name of a party"},
			{"李姓法官调离", ""}, // one-character names are not matched
		} {
			checkFreeTextErr(t, protocol.CheckFreeTextNames("reason", c.text, names), c.want, c.text)
		}
	})
	t.Run("places", func(t *testing.T) {
		places := append(court.Places("北京市朝阳区翀鸣路88号院7号楼1204室住宅", court.AssetRealEstate), court.Places("小型轿车一辆（京A·12345）", court.AssetVehicle)...)
		for _, c := range []struct{ text, want string }{
			{"房产移交后由受托法院办理", ""},
			{"翀鸣路房产已评估", "address or a vehicle plate"},
			{"翀鸣路 88号院 7号楼 1204室已腾退", "address or a vehicle plate"},
			{"京A12345已扣押", "address or a vehicle plate"},
			{"北京市朝阳区的房产", ""}, // the district is not a whereabouts
		} {
			checkFreeTextErr(t, protocol.CheckFreeTextPlaces("reason", c.text, places), c.want, c.text)
		}
	})

	// Every node refuses a signed record carrying such text, whatever its
	// issuer's software let through.
	f := newFixture(t, t.TempDir())
	at := fixNow.Add(-time.Minute)
	phone := "请联系 13800000000"
	for i, c := range []struct {
		kind   protocol.Kind
		issuer court.CourtCode
		body   *pb.Record
	}{
		{protocol.KindRejection, "京0108", &pb.Record{Body: &pb.Record_Rejection{Rejection: &pb.Rejection{Reason: phone}}}},
		{protocol.KindWithdrawal, "京0105", &pb.Record{Body: &pb.Record_Withdrawal{Withdrawal: &pb.Withdrawal{Reason: "身份证" + ftResident}}}},
		{protocol.KindHandover, "京0105", func() *pb.Record {
			b := handoverBody("京0108", "京01")
			b.GetHandover().OverriddenMeasures = []string{"m1"}
			b.GetHandover().OverrideReason = "账户9999000011112222续冻已申请"
			return b
		}()},
		{protocol.KindProgress, "京0108", &pb.Record{Body: &pb.Record_Progress{Progress: &pb.Progress{Status: "已联系 138-0000-0000"}}}},
		{protocol.KindRevokeGrant, "京0105", &pb.Record{Body: &pb.Record_GrantRevocation{GrantRevocation: &pb.GrantRevocation{Court: "京0108", Reason: "统一代码" + ftCredit}}}},
	} {
		t.Run("record/"+string(c.kind), func(t *testing.T) {
			raw := seal(t, f.as(t, c.issuer), uint64(i+1), at, testID, c.body)
			_, err := protocol.DecodeRecord(raw, f.trust, fixNow)
			if !errors.Is(err, court.ErrInvalid) {
				t.Fatalf("DecodeRecord of a %s with personal data in its text: %v, want invalid", c.kind, err)
			}
			for _, pd := range []string{"13800000000", ftResident, "9999000011112222", ftCredit, "138-0000-0000"} {
				if strings.Contains(err.Error(), pd) {
					t.Errorf("the error repeats the personal data: %v", err)
				}
			}
		})
	}
}

func checkFreeTextErr(t *testing.T, err error, want, text string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("%q refused: %v", text, err)
		}
		return
	}
	if !errors.Is(err, court.ErrInvalid) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "reason") {
		t.Errorf("%q: %v, want invalid naming the field and %q", text, err, want)
		return
	}
	for _, r := range strings.FieldsFunc(text, func(r rune) bool { return r < '0' || r > '9' }) {
		if len(r) >= 4 && strings.Contains(err.Error(), r) {
			t.Errorf("the error repeats digits of the text: %v", err)
		}
	}
}
