package court

import "testing"

func TestIdentityNumbers(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"11010519491231002X", "990101199003070015"} {
		if !ValidResidentID(id) {
			t.Errorf("%s rejected", id)
		}
	}
	for _, id := range []string{"110105194912310021", "11010519491331002X", "1101051949123100"} {
		if ValidResidentID(id) {
			t.Errorf("%s accepted", id)
		}
	}
	if !ValidCreditCode("91350100M000100Y43") || ValidCreditCode("91350100M000100Y44") {
		t.Error("credit code check")
	}
	if c := ResidentIDCheck("11010519491231002"); c != 'X' {
		t.Errorf("ResidentIDCheck = %q, want X", c)
	}
	if c := CreditCodeCheck("91350100M000100Y4"); c != '3' {
		t.Errorf("CreditCodeCheck = %q, want 3", c)
	}
	if ResidentIDCheck("1101051949123100A") != 0 || CreditCodeCheck("91350100M000100I4") != 0 {
		t.Error("a check character for input outside the alphabet")
	}
}

func TestMasking(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"110105194912310021", "110***********0021"},
		{"6222021234567890123", "622************0123"},
		{"12345678", "******78"},
		{"1", "1"},
		{"", ""},
		{"账户一二三四五六七八九", "账户一****六七八九"},
	} {
		if got := MaskNumber(tc.in); got != tc.want {
			t.Errorf("MaskNumber(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := MaskPhone("13800000000"); got != "138****0000" {
		t.Errorf("MaskPhone = %s", got)
	}
	if got := MaskPhone("010-12345678"); got != "010*****5678" {
		t.Errorf("MaskPhone of a landline = %s", got)
	}
}
