package court

import (
	"fmt"
	"slices"
	"strings"
)

// AssetClass is the class of a debtor's property, which decides which
// measures apply to it and how long they may last.
type AssetClass string

// The asset classes. The string values are stable identifiers used on the
// wire and on disk.
const (
	AssetDeposit       AssetClass = "deposit"        // 银行存款
	AssetRealEstate    AssetClass = "real_estate"    // 不动产
	AssetVehicle       AssetClass = "vehicle"        // 车辆
	AssetVessel        AssetClass = "vessel"         // 船舶
	AssetSecurities    AssetClass = "securities"     // 证券
	AssetEquity        AssetClass = "equity"         // 股权
	AssetOnlinePayment AssetClass = "online_payment" // 网络支付账户
	AssetReceivable    AssetClass = "receivable"     // 应收账款
	AssetIP            AssetClass = "ip"             // 知识产权
	AssetOther         AssetClass = "other"          // 其他
)

var assetClasses = []struct {
	class AssetClass
	label string
	years int
}{
	// Terms per 民诉法解释 (2022) art. 485: deposits 1 year, movables
	// 2 years, real estate and other property rights 3 years.
	{AssetDeposit, "银行存款", 1},
	{AssetRealEstate, "不动产", 3},
	{AssetVehicle, "车辆", 2},
	{AssetVessel, "船舶", 2},
	{AssetSecurities, "证券", 3},
	{AssetEquity, "股权", 3},
	{AssetOnlinePayment, "网络支付账户", 1}, // treated as a deposit
	{AssetReceivable, "应收账款", 3},
	{AssetIP, "知识产权", 3},
	{AssetOther, "其他", 1}, // unknown nature: the shortest term, see MaxMeasureDuration
}

// AssetClasses returns all asset classes in a fixed order.
func AssetClasses() []AssetClass {
	out := make([]AssetClass, len(assetClasses))
	for i, a := range assetClasses {
		out[i] = a.class
	}
	return out
}

// ParseAssetClass parses an asset class from its identifier (deposit,
// real_estate ...; case-insensitive) or its Chinese label (银行存款, 不动产 ...).
func ParseAssetClass(s string) (AssetClass, error) {
	t := strings.TrimSpace(s)
	for _, a := range assetClasses {
		if strings.EqualFold(t, string(a.class)) || t == a.label {
			return a.class, nil
		}
	}
	return "", invalidf("asset class", s, "want one of deposit, real_estate, vehicle, vessel, securities, equity, online_payment, receivable, ip, other (or 银行存款, 不动产, 车辆, 船舶, 证券, 股权, 网络支付账户, 应收账款, 知识产权, 其他)")
}

// Valid reports whether c is one of the defined asset classes.
func (c AssetClass) Valid() bool {
	_, years := c.info()
	return years > 0
}

func (c AssetClass) info() (label string, years int) {
	for _, a := range assetClasses {
		if a.class == c {
			return a.label, a.years
		}
	}
	return "", 0
}

// Label returns the Chinese name of the class (银行存款 for deposit), or ""
// for an undefined class.
func (c AssetClass) Label() string {
	l, _ := c.info()
	return l
}

// String returns the identifier.
func (c AssetClass) String() string { return string(c) }

// UnmarshalText decodes an asset class with ParseAssetClass, so JSON may
// carry either the identifier or the Chinese label. Empty text decodes to
// the empty class, which callers treat as "absent".
func (c *AssetClass) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*c = ""
		return nil
	}
	v, err := ParseAssetClass(string(text))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// MaxMeasureDuration returns the longest term, in years, that a seizure,
// detention or freeze of property of class c may run before it must be
// renewed, per 民诉法解释 (2022) art. 485: bank deposits 1 year (online
// payment accounts are held like deposits: 1 year); movables 2 years
// (vehicle, vessel); real estate and other property rights 3 years (real
// estate, securities, equity, receivable, ip).
//
// AssetOther, and any undefined class, gets 1 year: its nature is not
// known, and a shorter assumed limit only makes the system ask for renewal
// early, while a longer one could let a measure lapse unnoticed — the
// costliest failure in a handover.
func MaxMeasureDuration(c AssetClass) int {
	_, y := c.info()
	if y == 0 {
		return 1
	}
	return y
}

// AssetNature is what kind of property an asset of class other (其他)
// is, for the term of a measure on it.
type AssetNature string

// The natures of property of class other.
const (
	NatureMovable AssetNature = "movable"        // 动产: 2 years
	NatureRight   AssetNature = "property_right" // 其他财产权: 3 years
)

// ParseAssetNature checks the nature given for an asset of class c: only
// class other takes one, movable (动产) or property_right (其他财产权);
// "" is always valid (not known).
func ParseAssetNature(c AssetClass, s string) (AssetNature, error) {
	switch n := AssetNature(strings.TrimSpace(s)); {
	case n == "":
		return "", nil
	case c != AssetOther:
		return "", invalidf("asset nature", s, "only property of class other (其他) states its nature; %s has its own term", c.Label())
	case n == NatureMovable || n == NatureRight:
		return n, nil
	}
	return "", invalidf("asset nature", s, "want movable (动产, 2 years) or property_right (其他财产权, 3 years)")
}

// TermYears is the longest term, in years, of a seizure, detention or
// freeze of a: MaxMeasureDuration of its class, and for class other
// the term its nature allows (movable 2 years, property right 3; not
// known: 1, the shortest).
func (a Asset) TermYears() int {
	if a.Class == AssetOther {
		switch a.Nature {
		case NatureMovable:
			return 2
		case NatureRight:
			return 3
		}
	}
	return MaxMeasureDuration(a.Class)
}

// LegalExpiry is LegalExpiry for asset a, by its term (TermYears).
func (a Asset) LegalExpiry(effective Date) Date {
	return effective.AddDate(a.TermYears(), 0, -1)
}

// CheckExpiry is CheckExpiry for asset a, by its term (TermYears).
func (a Asset) CheckExpiry(effective, expiry Date) error {
	if a.Class != AssetOther || a.TermYears() == MaxMeasureDuration(a.Class) {
		return CheckExpiry(a.Class, effective, expiry)
	}
	what := fmt.Sprintf("term for %s (%s, %s)", a.Class.Label(), a.Class, a.Nature)
	input := fmt.Sprintf("%s to %s", effective, expiry)
	switch limit := a.LegalExpiry(effective); {
	case !effective.Valid():
		return invalidf(what, input, "effective date %s is not a valid date", effective)
	case !expiry.Valid():
		return invalidf(what, input, "expiry date %s is not a valid date", expiry)
	case expiry.Before(effective):
		return invalidf(what, input, "expiry %s is before the effective date %s", expiry, effective)
	case expiry.After(limit):
		return invalidf(what, input, "expiry %s exceeds the legal limit of %d year(s) for %s of nature %s: the latest allowed expiry is %s; renew the measure before it lapses instead of extending it",
			expiry, a.TermYears(), a.Class.Label(), a.Nature, limit)
	}
	return nil
}

// LegalExpiry returns the last day on which a measure on property of class
// c, effective on the given date, may still be in force: effective plus
// MaxMeasureDuration(c) years, minus one day, counting the effective day as
// the first day of the term. A one-year freeze of a deposit effective
// 2024-03-01 may run to 2025-02-28 inclusive. A term starting on 29
// February ends on the 28 February of its last year (2024-02-29 + 1 year ->
// 2025-02-28), the day before the anniversary, taken as 1 March.
func LegalExpiry(c AssetClass, effective Date) Date {
	return effective.AddDate(MaxMeasureDuration(c), 0, -1)
}

// CheckExpiry reports whether expiry is an acceptable last day for a
// measure on property of class c effective on the given date: both dates
// must be valid, expiry must not be before effective, and must not be after
// LegalExpiry(c, effective).
func CheckExpiry(c AssetClass, effective, expiry Date) error {
	what := fmt.Sprintf("term for %s (%s)", c.Label(), c)
	input := fmt.Sprintf("%s to %s", effective, expiry)
	switch {
	case !c.Valid():
		return invalidf("asset class", string(c), "unknown asset class; cannot check the term %s", input)
	case !effective.Valid():
		return invalidf(what, input, "effective date %s is not a valid date", effective)
	case !expiry.Valid():
		return invalidf(what, input, "expiry date %s is not a valid date", expiry)
	case expiry.Before(effective):
		return invalidf(what, input, "expiry %s is before the effective date %s", expiry, effective)
	}
	limit := LegalExpiry(c, effective)
	if expiry.After(limit) {
		return invalidf(what, input, "expiry %s exceeds the legal limit of %d year(s) for %s: the latest allowed expiry is %s; renew the measure before it lapses instead of extending it",
			expiry, MaxMeasureDuration(c), c.Label(), limit)
	}
	return nil
}

// MeasureKind is a kind of enforcement measure on property.
type MeasureKind string

// The measure kinds. The string values are stable identifiers.
const (
	MeasureSeal    MeasureKind = "seal"    // 查封
	MeasureDetain  MeasureKind = "detain"  // 扣押
	MeasureFreeze  MeasureKind = "freeze"  // 冻结
	MeasureWaiting MeasureKind = "waiting" // 轮候: a waiting-line seizure
	MeasureRenewal MeasureKind = "renewal" // 续行: renewal of a measure
	MeasureRelease MeasureKind = "release" // 解除: release of a measure
	MeasureDeduct  MeasureKind = "deduct"  // 扣划: deduction of funds
)

var measureKinds = []struct {
	kind  MeasureKind
	label string
}{
	{MeasureSeal, "查封"},
	{MeasureDetain, "扣押"},
	{MeasureFreeze, "冻结"},
	{MeasureWaiting, "轮候"},
	{MeasureRenewal, "续行"},
	{MeasureRelease, "解除"},
	{MeasureDeduct, "扣划"},
}

// MeasureKinds returns all measure kinds in a fixed order.
func MeasureKinds() []MeasureKind {
	out := make([]MeasureKind, len(measureKinds))
	for i, m := range measureKinds {
		out[i] = m.kind
	}
	return out
}

// ParseMeasureKind parses a measure kind from its identifier (seal,
// freeze ...; case-insensitive) or its Chinese label (查封, 冻结 ...).
func ParseMeasureKind(s string) (MeasureKind, error) {
	t := strings.TrimSpace(s)
	for _, m := range measureKinds {
		if strings.EqualFold(t, string(m.kind)) || t == m.label {
			return m.kind, nil
		}
	}
	return "", invalidf("measure kind", s, "want one of seal, detain, freeze, waiting, renewal, release, deduct (or 查封, 扣押, 冻结, 轮候, 续行, 解除, 扣划)")
}

// Valid reports whether k is one of the defined measure kinds.
func (k MeasureKind) Valid() bool { return k.Label() != "" }

// Label returns the Chinese name of the kind (冻结 for freeze), or "" for
// an undefined kind.
func (k MeasureKind) Label() string {
	for _, m := range measureKinds {
		if m.kind == k {
			return m.label
		}
	}
	return ""
}

// String returns the identifier.
func (k MeasureKind) String() string { return string(k) }

// UnmarshalText decodes a measure kind with ParseMeasureKind. Empty text
// decodes to the empty kind, which callers treat as "absent".
func (k *MeasureKind) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*k = ""
		return nil
	}
	v, err := ParseMeasureKind(string(text))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// HasTerm reports whether a measure of kind k runs for a term and so has an
// expiry: seal, detain, freeze, waiting and renewal do; release and deduct
// are one-off acts and do not.
func (k MeasureKind) HasTerm() bool {
	switch k {
	case MeasureSeal, MeasureDetain, MeasureFreeze, MeasureWaiting, MeasureRenewal:
		return true
	}
	return false
}

// appliesTo lists, for each kind restricted to some classes, those classes.
// Kinds not listed (waiting, renewal, release) apply to every class.
var appliesTo = map[MeasureKind][]AssetClass{
	MeasureFreeze: {AssetDeposit, AssetOnlinePayment, AssetSecurities, AssetEquity, AssetReceivable, AssetIP},
	MeasureSeal:   {AssetRealEstate, AssetVehicle, AssetVessel, AssetOther},
	MeasureDetain: {AssetVehicle, AssetVessel, AssetOther},
	MeasureDeduct: {AssetDeposit, AssetOnlinePayment},
}

// Applies reports, as a nil error, whether a measure of kind k can be taken
// on property of class c: freeze on deposit, online_payment, securities,
// equity, receivable and ip; seal on real_estate, vehicle, vessel and other;
// detain on vehicle, vessel and other; deduct on deposit and online_payment;
// waiting, renewal and release on any class. The error wraps [ErrInvalid]
// and names the measures that do apply.
func Applies(k MeasureKind, c AssetClass) error {
	if !k.Valid() {
		_, err := ParseMeasureKind(string(k))
		return err
	}
	if !c.Valid() {
		_, err := ParseAssetClass(string(c))
		return err
	}
	if applies(k, c) {
		return nil
	}
	var ok []string
	for _, m := range measureKinds {
		if applies(m.kind, c) {
			ok = append(ok, fmt.Sprintf("%s (%s)", m.label, m.kind))
		}
	}
	return invalidf("measure", fmt.Sprintf("%s on %s", k, c), "%s (%s) cannot be applied to %s (%s); measures for %s: %s",
		k.Label(), k, c.Label(), c, c.Label(), strings.Join(ok, ", "))
}

// applies reports whether the valid kind k applies to the valid class c.
func applies(k MeasureKind, c AssetClass) bool {
	classes, restricted := appliesTo[k]
	return !restricted || slices.Contains(classes, c)
}
