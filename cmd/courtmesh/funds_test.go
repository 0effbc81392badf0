package main

import "testing"

func TestParseYuan(t *testing.T) {
	for in, want := range map[string]int64{"30000": 3_000_000, "30000.5": 3_000_050, "30,000.05": 3_000_005, "0.01": 1, "-5": -500, " 12.30 ": 1230} {
		if got, err := parseYuan(in); err != nil || got != want {
			t.Errorf("parseYuan(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1.234", "abc", "1.x", ".5"} {
		if _, err := parseYuan(in); err == nil {
			t.Errorf("parseYuan(%q) accepted", in)
		}
	}
}
