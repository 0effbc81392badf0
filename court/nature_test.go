package court

import (
	"errors"
	"testing"
)

// TestOtherPropertyTerms: property of class other (其他) accepts the term
// the law allows its nature (民诉法解释 art. 485): a movable 2 years,
// another property right 3; of unknown nature 1 year, as before. Only
// class other states a nature.
func TestOtherPropertyTerms(t *testing.T) {
	eff, _ := ParseDate("2025-03-01")
	for _, c := range []struct {
		class  AssetClass
		nature string
		years  int
		err    bool
	}{
		{AssetOther, "", 1, false},
		{AssetOther, "movable", 2, false},
		{AssetOther, "property_right", 3, false},
		{AssetOther, "intangible", 0, true},
		{AssetDeposit, "movable", 0, true},
		{AssetRealEstate, "", 3, false},
	} {
		n, err := ParseAssetNature(c.class, c.nature)
		if c.err {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s %q: %v, want invalid", c.class, c.nature, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s %q: %v", c.class, c.nature, err)
		}
		a := Asset{Class: c.class, Nature: n}
		if got := a.TermYears(); got != c.years {
			t.Errorf("%s %q: %d years, want %d", c.class, c.nature, got, c.years)
		}
		last := eff.AddDate(c.years, 0, -1)
		if a.LegalExpiry(eff) != last {
			t.Errorf("%s %q: legal expiry %s, want %s", c.class, c.nature, a.LegalExpiry(eff), last)
		}
		if err := a.CheckExpiry(eff, last); err != nil {
			t.Errorf("%s %q: the full term to %s refused: %v", c.class, c.nature, last, err)
		}
		if err := a.CheckExpiry(eff, last.AddDate(0, 0, 1)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s %q: a day beyond the term accepted: %v", c.class, c.nature, err)
		}
		if err := a.CheckExpiry(eff, eff.AddDate(0, 0, -1)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s %q: an expiry before the effective date accepted: %v", c.class, c.nature, err)
		}
	}
}
