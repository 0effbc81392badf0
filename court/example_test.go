package court_test

import (
	"errors"
	"fmt"

	"courtmesh.dev/courtmesh/court"
)

func ExampleParseCaseNumber() {
	n, err := court.ParseCaseNumber(" (2024)京０１０５执1234号")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n)
	fmt.Println(n.Year, n.Court, n.Type, n.Seq, n.Type.IsEnforcement())

	_, err = court.ParseCaseNumber("（2024）京0105执0号")
	fmt.Println(errors.Is(err, court.ErrInvalid))
	fmt.Println(err)
	// Output:
	// （2024）京0105执1234号
	// 2024 京0105 执 1234 true
	// true
	// invalid case number "（2024）京0105执0号": sequence number "0" must be a positive number without leading zeros
}

func ExampleParseCourtCode() {
	for _, s := range []string{"京0105", "京73", "最高法", "贵01"} {
		c, err := court.ParseCourtCode(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		parent, ok := c.DerivedParent()
		name, _ := court.KnownCourtName(c)
		fmt.Println(c, c.Level(), c.IsSpecialised(), parent, ok, name)
	}
	// Output:
	// 京0105 基层 false 京01 true 北京市朝阳区人民法院
	// 京73 中级 true  false 北京知识产权法院
	// 最高法 最高 false  false 最高人民法院
	// invalid court code "贵01": unknown province abbreviation '贵': Guizhou courts use 黔
}

func ExampleIsSuperior() {
	fmt.Println(court.IsSuperior(court.DerivedHierarchy{}, "京", "京0105"))
	fmt.Println(court.IsSuperior(court.DerivedHierarchy{}, "京02", "京0105"))
	// Output:
	// true
	// false
}

func ExampleLegalExpiry() {
	effective, _ := court.ParseDate("2024-03-01")
	fmt.Println(court.LegalExpiry(court.AssetDeposit, effective))
	fmt.Println(court.LegalExpiry(court.AssetRealEstate, effective))

	leap, _ := court.ParseDate("2024-02-29")
	fmt.Println(court.LegalExpiry(court.AssetDeposit, leap))
	// Output:
	// 2025-02-28
	// 2027-02-28
	// 2025-02-28
}

func ExampleCheckExpiry() {
	effective, _ := court.ParseDate("2024-03-01")
	expiry, _ := court.ParseDate("2025-03-01")
	fmt.Println(court.CheckExpiry(court.AssetDeposit, effective, expiry))
	// Output:
	// invalid term for 银行存款 (deposit) "2024-03-01 to 2025-03-01": expiry 2025-03-01 exceeds the legal limit of 1 year(s) for 银行存款: the latest allowed expiry is 2025-02-28; renew the measure before it lapses instead of extending it
}

func ExampleApplies() {
	fmt.Println(court.Applies(court.MeasureFreeze, court.AssetDeposit))
	fmt.Println(court.Applies(court.MeasureFreeze, court.AssetRealEstate))
	// Output:
	// <nil>
	// invalid measure "freeze on real_estate": 冻结 (freeze) cannot be applied to 不动产 (real_estate); measures for 不动产: 查封 (seal), 轮候 (waiting), 续行 (renewal), 解除 (release)
}

func ExampleDateOf() {
	d, _ := court.ParseDate("2024-02-29")
	start := d.Start()
	fmt.Println(court.DateOf(start.UTC()), start.UTC())
	// Output:
	// 2024-02-29 2024-02-28 16:00:00 +0000 UTC
}
