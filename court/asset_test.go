package court

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseAssetClass(t *testing.T) {
	t.Parallel()
	labels := map[AssetClass]string{
		AssetDeposit: "银行存款", AssetRealEstate: "不动产", AssetVehicle: "车辆", AssetVessel: "船舶",
		AssetSecurities: "证券", AssetEquity: "股权", AssetOnlinePayment: "网络支付账户",
		AssetReceivable: "应收账款", AssetIP: "知识产权", AssetOther: "其他",
	}
	if len(AssetClasses()) != len(labels) {
		t.Fatalf("AssetClasses() has %d classes, want %d", len(AssetClasses()), len(labels))
	}
	for _, c := range AssetClasses() {
		t.Run(string(c), func(t *testing.T) {
			if c.Label() != labels[c] {
				t.Errorf("Label() = %q, want %q", c.Label(), labels[c])
			}
			for _, in := range []string{string(c), strings.ToUpper(string(c)), " " + labels[c] + " "} {
				if got, err := ParseAssetClass(in); err != nil || got != c {
					t.Errorf("ParseAssetClass(%q) = %q, %v", in, got, err)
				}
			}
		})
	}
	for _, bad := range []string{"", "house", "存款", "real estate"} {
		t.Run("bad/"+bad, func(t *testing.T) {
			_, err := ParseAssetClass(bad)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "asset class") || !strings.Contains(err.Error(), "real_estate") {
				t.Errorf("ParseAssetClass(%q) error = %v", bad, err)
			}
		})
	}
}

func TestParseMeasureKind(t *testing.T) {
	t.Parallel()
	labels := map[MeasureKind]string{
		MeasureSeal: "查封", MeasureDetain: "扣押", MeasureFreeze: "冻结", MeasureWaiting: "轮候",
		MeasureRenewal: "续行", MeasureRelease: "解除", MeasureDeduct: "扣划",
	}
	hasTerm := map[MeasureKind]bool{
		MeasureSeal: true, MeasureDetain: true, MeasureFreeze: true, MeasureWaiting: true, MeasureRenewal: true,
	}
	if len(MeasureKinds()) != len(labels) {
		t.Fatalf("MeasureKinds() has %d kinds", len(MeasureKinds()))
	}
	for _, k := range MeasureKinds() {
		t.Run(string(k), func(t *testing.T) {
			if k.Label() != labels[k] || k.HasTerm() != hasTerm[k] {
				t.Errorf("Label %q HasTerm %v", k.Label(), k.HasTerm())
			}
			for _, in := range []string{string(k), strings.ToUpper(string(k)), labels[k]} {
				if got, err := ParseMeasureKind(in); err != nil || got != k {
					t.Errorf("ParseMeasureKind(%q) = %q, %v", in, got, err)
				}
			}
		})
	}
	for _, bad := range []string{"", "seize", "拍卖"} {
		if _, err := ParseMeasureKind(bad); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "measure kind") {
			t.Errorf("ParseMeasureKind(%q) error = %v", bad, err)
		}
	}
	if MeasureKind("bogus").HasTerm() {
		t.Error("unknown kind must not have a term")
	}
}

func TestApplies(t *testing.T) {
	t.Parallel()
	allowed := map[MeasureKind][]AssetClass{
		MeasureFreeze:  {AssetDeposit, AssetOnlinePayment, AssetSecurities, AssetEquity, AssetReceivable, AssetIP},
		MeasureSeal:    {AssetRealEstate, AssetVehicle, AssetVessel, AssetOther},
		MeasureDetain:  {AssetVehicle, AssetVessel, AssetOther},
		MeasureDeduct:  {AssetDeposit, AssetOnlinePayment},
		MeasureWaiting: AssetClasses(), MeasureRenewal: AssetClasses(), MeasureRelease: AssetClasses(),
	}
	for _, k := range MeasureKinds() {
		for _, c := range AssetClasses() {
			want := false
			for _, x := range allowed[k] {
				want = want || x == c
			}
			t.Run(string(k)+"/"+string(c), func(t *testing.T) {
				err := Applies(k, c)
				if want && err != nil {
					t.Errorf("Applies: %v", err)
				}
				if !want {
					if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), k.Label()) || !strings.Contains(err.Error(), c.Label()) {
						t.Errorf("Applies = %v, want ErrInvalid naming %s and %s", err, k.Label(), c.Label())
					}
				}
			})
		}
	}
	err := Applies(MeasureFreeze, AssetRealEstate)
	if err == nil || !strings.Contains(err.Error(), "查封 (seal)") {
		t.Errorf("error should suggest seal for real estate: %v", err)
	}
	if err := Applies("bogus", AssetDeposit); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "measure kind") {
		t.Errorf("unknown kind: %v", err)
	}
	if err := Applies(MeasureRelease, "bogus"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "asset class") {
		t.Errorf("unknown class: %v", err)
	}
}

func TestMaxMeasureDuration(t *testing.T) {
	t.Parallel()
	want := map[AssetClass]int{
		AssetDeposit: 1, AssetOnlinePayment: 1, AssetVehicle: 2, AssetVessel: 2,
		AssetRealEstate: 3, AssetSecurities: 3, AssetEquity: 3, AssetReceivable: 3, AssetIP: 3,
		AssetOther: 1, "bogus": 1, "": 1,
	}
	for c, y := range want {
		if got := MaxMeasureDuration(c); got != y {
			t.Errorf("MaxMeasureDuration(%q) = %d, want %d", c, got, y)
		}
	}
}

func TestLegalExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		class     AssetClass
		effective string
		want      string
	}{
		{AssetDeposit, "2024-03-01", "2025-02-28"},
		{AssetDeposit, "2023-03-01", "2024-02-29"},
		{AssetDeposit, "2024-02-29", "2025-02-28"},
		{AssetDeposit, "2024-02-28", "2025-02-27"},
		{AssetDeposit, "2024-01-01", "2024-12-31"},
		{AssetOnlinePayment, "2024-06-15", "2025-06-14"},
		{AssetVehicle, "2024-02-29", "2026-02-28"},
		{AssetVessel, "2023-03-01", "2025-02-28"},
		{AssetRealEstate, "2024-02-29", "2027-02-28"},
		{AssetRealEstate, "2021-03-01", "2024-02-29"},
		{AssetEquity, "2024-03-01", "2027-02-28"},
		{AssetIP, "2025-12-31", "2028-12-30"},
		{AssetOther, "2024-03-01", "2025-02-28"},
	}
	for _, tt := range tests {
		t.Run(string(tt.class)+"/"+tt.effective, func(t *testing.T) {
			eff, _ := ParseDate(tt.effective)
			got := LegalExpiry(tt.class, eff)
			if got.String() != tt.want {
				t.Fatalf("LegalExpiry = %s, want %s", got, tt.want)
			}
			if err := CheckExpiry(tt.class, eff, got); err != nil {
				t.Errorf("CheckExpiry at the limit: %v", err)
			}
			if err := CheckExpiry(tt.class, eff, eff); err != nil {
				t.Errorf("CheckExpiry one-day term: %v", err)
			}
			err := CheckExpiry(tt.class, eff, got.AddDate(0, 0, 1))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("CheckExpiry one day past the limit = %v, want ErrInvalid", err)
			}
			for _, sub := range []string{tt.class.Label(), tt.want, tt.effective, "year(s)"} {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not mention %q", err, sub)
				}
			}
		})
	}
}

func TestCheckExpiryErrors(t *testing.T) {
	t.Parallel()
	eff := Date{2024, time.March, 1}
	tests := []struct {
		name           string
		class          AssetClass
		effective, exp Date
		sub            string
	}{
		{"before effective", AssetDeposit, eff, Date{2024, time.February, 29}, "before the effective date 2024-03-01"},
		{"beyond limit", AssetDeposit, eff, Date{2025, time.March, 1}, "latest allowed expiry is 2025-02-28"},
		{"beyond limit real estate", AssetRealEstate, eff, Date{2027, time.March, 1}, "3 year(s) for 不动产"},
		{"unknown class", "house", eff, eff, "unknown asset class"},
		{"zero effective", AssetDeposit, Date{}, eff, "effective date 0000-00-00 is not a valid date"},
		{"bad expiry", AssetDeposit, eff, Date{2025, time.February, 29}, "expiry date 2025-02-29 is not a valid date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckExpiry(tt.class, tt.effective, tt.exp)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.sub) {
				t.Errorf("CheckExpiry = %v, want ErrInvalid mentioning %q", err, tt.sub)
			}
		})
	}
}

func TestAssetJSON(t *testing.T) {
	t.Parallel()
	type msg struct {
		Class AssetClass  `json:"class"`
		Kind  MeasureKind `json:"kind"`
	}
	var m msg
	if err := json.Unmarshal([]byte(`{"class":"不动产","kind":"查封"}`), &m); err != nil {
		t.Fatal(err)
	}
	if m.Class != AssetRealEstate || m.Kind != MeasureSeal {
		t.Errorf("Unmarshal = %+v", m)
	}
	b, _ := json.Marshal(m)
	if string(b) != `{"class":"real_estate","kind":"seal"}` {
		t.Errorf("Marshal = %s", b)
	}
	if err := json.Unmarshal([]byte(`{"class":"house"}`), &m); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad class: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"kind":"seize"}`), &m); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad kind: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"class":"","kind":""}`), &m); err != nil || m != (msg{}) {
		t.Errorf("empty: %+v, %v", m, err)
	}
}
