package court

import (
	"errors"
	"testing"
)

func TestRegionCode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RegionCode
		ok   bool
	}{
		{"110105", "110105", true},
		{" 110100 ", "110100", true},
		{"４４０３０５", "440305", true},
		{"110000", "110000", true},
		{"990105", "", false}, // no province 99
		{"110005", "", false}, // district without a city
		{"11010", "", false},
		{"11O105", "", false},
		{"", "", false},
	} {
		got, err := ParseRegionCode(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseRegionCode(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRegionCode(%q): %v does not wrap ErrInvalid", tc.in, err)
		}
	}
	if err := RegionCode(" 110105").Validate(); err == nil {
		t.Error("a code not in normal form validates")
	}
}

func TestCourtRegion(t *testing.T) {
	for c, want := range map[CourtCode]RegionCode{"京0105": "110105", "京01": "110100", "京": "110000", "粤0703": "440703"} {
		if got, ok := c.Region(); !ok || got != want {
			t.Errorf("%s.Region() = %q, %v; want %q", c, got, ok, want)
		}
	}
	for _, c := range []CourtCode{Supreme, "京71", "京7101", "军", "兵01", "x"} {
		if got, ok := c.Region(); ok {
			t.Errorf("%s.Region() = %q, want none", c, got)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b RegionCode
		want int
	}{
		{"110105", "110105", 0},
		{"110105", "110108", 1},
		{"110105", "110100", 1},
		{"110105", "110200", 2},
		{"110105", "110000", 2},
		{"110105", "310105", 3},
		{"110105", "", 3},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Distance(tc.b, tc.a); got != tc.want {
			t.Errorf("Distance(%s, %s) = %d, want %d (symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestBandOf(t *testing.T) {
	for fen, want := range map[int64]ValueBand{0: BandNone, -5: BandNone, 1: BandUnder100K, 9_999_999: BandUnder100K, 10_000_000: BandUnder1M, 100_000_000: BandUnder10M, 1_000_000_000: BandOver10M} {
		if got := BandOf(fen); got != want {
			t.Errorf("BandOf(%d) = %v, want %v", fen, got, want)
		}
	}
}
