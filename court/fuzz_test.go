package court

import (
	"errors"
	"testing"
)

func FuzzParseCourtCode(f *testing.F) {
	for _, s := range []string{"最高法", "京", "京02", "京0105", "京7101", "沪72", " 粤０７ ", "京00", "京010", "贵01", "", "\xff", "兵"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCourtCode(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		again, err := ParseCourtCode(c.String())
		if err != nil || again != c {
			t.Fatalf("ParseCourtCode(%q) = %q; reparse = %q, %v", s, c, again, err)
		}
		if c.Level() == LevelUnknown || c.Validate() != nil || !c.Within(Supreme) || !c.Within(c.Province()) {
			t.Fatalf("%q parsed but methods disagree", c)
		}
		if p, ok := c.DerivedParent(); ok && (p.Level() == LevelUnknown || !IsSuperior(nil, p, c)) {
			t.Fatalf("%q: bad derived parent %q", c, p)
		}
	})
}

func FuzzParseCaseNumber(f *testing.F) {
	for _, s := range []string{
		"（2024）京0105执1234号", "(2024)京0105执1234号", "（2021）最高法知民终1号",
		"（２０２４）京执恢１号", "（2024）京0105执0号", "（2024）京010执1号", "（2024）京0105执1234",
		"（2024）京0105执1234567890号", "(", "（）号", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseCaseNumber(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		again, err := ParseCaseNumber(n.String())
		if err != nil || again != n {
			t.Fatalf("ParseCaseNumber(%q) = %+v; reparse of %q = %+v, %v", s, n, n.String(), again, err)
		}
		text, err := n.MarshalText()
		if err != nil || string(text) != n.String() {
			t.Fatalf("MarshalText(%+v) = %q, %v", n, text, err)
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2024-03-01", "2024-02-29", "2023-02-29", "0000-01-01", "9999-12-31", "2024-13-01", "", "2024-1-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		again, err := ParseDate(d.String())
		if err != nil || again != d || d.String() != s {
			t.Fatalf("ParseDate(%q) = %v; reparse = %v, %v", s, d, again, err)
		}
		if !d.Valid() || d.AddDate(0, 0, 1).DaysUntil(d) != -1 {
			t.Fatalf("%v: Valid or day arithmetic wrong", d)
		}
		for _, c := range AssetClasses() {
			if err := CheckExpiry(c, d, LegalExpiry(c, d)); err != nil && LegalExpiry(c, d).Valid() {
				t.Fatalf("CheckExpiry(%s, %v, LegalExpiry): %v", c, d, err)
			}
		}
	})
}
