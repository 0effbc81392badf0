package court

import (
	"fmt"
	"time"
)

// chinaStandardTime is UTC+08:00 without daylight saving, used instead of
// the tz database's Asia/Shanghai so that no tzdata is needed.
var chinaStandardTime = time.FixedZone("CST", 8*60*60)

// Date is a civil date in China Standard Time, with no time of day and no
// time zone: the date a ruling is dated, a measure takes effect or expires.
// The zero value means "no date"; valid dates have years 1..9999.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses a date written YYYY-MM-DD, e.g. 2024-03-01, with exactly
// four, two and two ASCII digits. Surrounding white space is not accepted:
// dates come from machines, not from clerks' typing.
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, invalidf("date", s, "want YYYY-MM-DD, e.g. 2024-03-01")
	}
	num := func(t string) (int, bool) {
		n := 0
		for i := 0; i < len(t); i++ {
			if !isDigit(t[i]) {
				return 0, false
			}
			n = n*10 + int(t[i]-'0')
		}
		return n, true
	}
	y, ok1 := num(s[:4])
	m, ok2 := num(s[5:7])
	d, ok3 := num(s[8:])
	if !ok1 || !ok2 || !ok3 {
		return Date{}, invalidf("date", s, "want YYYY-MM-DD with digits only, e.g. 2024-03-01")
	}
	date := Date{y, time.Month(m), d}
	if y == 0 {
		return Date{}, invalidf("date", s, "year 0000 does not exist")
	}
	if m < 1 || m > 12 {
		return Date{}, invalidf("date", s, "month %02d out of range 01-12", m)
	}
	if !date.Valid() {
		return Date{}, invalidf("date", s, "day %02d does not exist in %04d-%02d", d, y, m)
	}
	return date, nil
}

// DateOf returns the date in China Standard Time (UTC+08:00) of the instant
// t, whatever t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.In(chinaStandardTime).Date()
	return Date{y, m, d}
}

// InChina returns the instant t in China Standard Time (UTC+08:00), the
// time every court and clerk reads, whatever the server's time zone.
func InChina(t time.Time) time.Time { return t.In(chinaStandardTime) }

// FormatTime writes the instant t as clerks read it: China Standard Time
// to the minute, e.g. "2026-03-01 17:04 CST".
func FormatTime(t time.Time) string { return InChina(t).Format("2006-01-02 15:04 MST") }

// Valid reports whether d is a real calendar date with a year in 1..9999.
func (d Date) Valid() bool {
	if d.Year < 1 || d.Year > 9999 || d.Month < time.January || d.Month > time.December || d.Day < 1 {
		return false
	}
	return d.Day <= daysIn(d.Month, d.Year)
}

func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// IsZero reports whether d is the zero value, meaning "no date".
func (d Date) IsZero() bool { return d == Date{} }

// String returns d as YYYY-MM-DD.
func (d Date) String() string {
	if d.Year < 0 || d.Year > 9999 || d.Month < 0 || d.Month > 99 || d.Day < 0 || d.Day > 99 {
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
	}
	// What that Sprintf writes, without fmt: alerts and listings
	// format a date per row.
	m, dd := int(d.Month), d.Day
	b := [10]byte{
		byte('0' + d.Year/1000), byte('0' + d.Year/100%10), byte('0' + d.Year/10%10), byte('0' + d.Year%10), '-',
		byte('0' + m/10), byte('0' + m%10), '-', byte('0' + dd/10), byte('0' + dd%10),
	}
	return string(b[:])
}

// Start returns the first instant of d in China Standard Time.
func (d Date) Start() time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, chinaStandardTime)
}

// AddDate returns d plus the given years, months and days, normalised the
// way time.Time.AddDate normalises: 2024-01-31 plus one month is
// 2024-03-02, and 2024-02-29 plus one year is 2025-03-01.
func (d Date) AddDate(years, months, days int) Date {
	t := time.Date(d.Year+years, d.Month+time.Month(months), d.Day+days, 12, 0, 0, 0, time.UTC)
	y, m, dd := t.Date()
	return Date{y, m, dd}
}

// Before reports whether d is earlier than e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// After reports whether d is later than e.
func (d Date) After(e Date) bool { return d.Compare(e) > 0 }

// Equal reports whether d and e are the same date.
func (d Date) Equal(e Date) bool { return d == e }

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmpInt(d.Year, e.Year)
	case d.Month != e.Month:
		return cmpInt(int(d.Month), int(e.Month))
	default:
		return cmpInt(d.Day, e.Day)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DaysUntil returns the number of days from d to other: positive if other
// is later, 0 on the same day, negative if other is earlier. 2024-03-01
// until 2024-03-02 is 1.
func (d Date) DaysUntil(other Date) int { return other.days() - d.days() }

// days returns the number of days since 1970-01-01 in the proleptic
// Gregorian calendar (H. Hinnant's days_from_civil), exact for any year.
func (d Date) days() int {
	y, m := d.Year, int(d.Month)
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d.Day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// MarshalText encodes d as YYYY-MM-DD. The zero value encodes as empty
// text; any other invalid date is an error.
func (d Date) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return []byte{}, nil
	}
	if !d.Valid() {
		return nil, invalidf("date", d.String(), "not a calendar date in years 0001-9999")
	}
	return []byte(d.String()), nil
}

// UnmarshalText decodes a date with ParseDate. Empty text decodes to the
// zero value, which callers treat as "absent".
func (d *Date) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// OrEmpty is d.String(), or "" for the zero Date (no date).
func (d Date) OrEmpty() string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}
