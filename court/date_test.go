package court

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   Date
		errSub string
	}{
		{in: "2024-03-01", want: Date{2024, time.March, 1}},
		{in: "2024-02-29", want: Date{2024, time.February, 29}},
		{in: "2000-02-29", want: Date{2000, time.February, 29}},
		{in: "0001-01-01", want: Date{1, time.January, 1}},
		{in: "9999-12-31", want: Date{9999, time.December, 31}},

		{in: "", errSub: "want YYYY-MM-DD"},
		{in: "2024-3-1", errSub: "want YYYY-MM-DD"},
		{in: "2024/03/01", errSub: "want YYYY-MM-DD"},
		{in: " 2024-03-01", errSub: "want YYYY-MM-DD"},
		{in: "2024-03-01T00:00", errSub: "want YYYY-MM-DD"},
		{in: "2024-0a-01", errSub: "digits only"},
		{in: "+024-03-01", errSub: "digits only"},
		{in: "0000-03-01", errSub: "year 0000"},
		{in: "2024-00-01", errSub: "month 00 out of range"},
		{in: "2024-13-01", errSub: "month 13 out of range"},
		{in: "2024-03-00", errSub: "day 00 does not exist"},
		{in: "2023-02-29", errSub: "day 29 does not exist in 2023-02"},
		{in: "1900-02-29", errSub: "day 29 does not exist"},
		{in: "2024-04-31", errSub: "day 31 does not exist"},
		{in: "２０２４-03-01", errSub: "want YYYY-MM-DD"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDate(tt.in)
			if tt.errSub != "" {
				if err == nil {
					t.Fatalf("ParseDate(%q) = %v, want error", tt.in, got)
				}
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.errSub) || !strings.Contains(err.Error(), "date") {
					t.Errorf("error %q: want ErrInvalid mentioning %q", err, tt.errSub)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseDate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestDateOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2024, 2, 29, 15, 59, 59, 0, time.UTC), "2024-02-29"},
		{time.Date(2024, 2, 29, 16, 0, 0, 0, time.UTC), "2024-03-01"},
		{time.Date(2024, 12, 31, 23, 0, 0, 0, time.FixedZone("X", -5*3600)), "2025-01-01"},
		{time.Date(2024, 6, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)), "2024-06-01"},
	}
	for _, tt := range tests {
		t.Run(tt.t.String(), func(t *testing.T) {
			if got := DateOf(tt.t).String(); got != tt.want {
				t.Errorf("DateOf(%v) = %s, want %s", tt.t, got, tt.want)
			}
		})
	}
	d := Date{2024, time.March, 1}
	if start := d.Start(); DateOf(start) != d || DateOf(start.Add(-time.Nanosecond)) != d.AddDate(0, 0, -1) {
		t.Errorf("Start() = %v does not begin %v", start, d)
	}
}

func TestDateArithmetic(t *testing.T) {
	t.Parallel()
	d := func(s string) Date {
		t.Helper()
		v, err := ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	adds := []struct {
		from    string
		y, m, n int
		want    string
	}{
		{"2024-03-01", 1, 0, -1, "2025-02-28"},
		{"2024-02-29", 1, 0, 0, "2025-03-01"},
		{"2024-02-29", 4, 0, 0, "2028-02-29"},
		{"2024-01-31", 0, 1, 0, "2024-03-02"},
		{"2024-12-31", 0, 0, 1, "2025-01-01"},
		{"2024-03-01", 0, 0, -1, "2024-02-29"},
		{"2024-03-01", -1, 0, 0, "2023-03-01"},
	}
	for _, a := range adds {
		if got := d(a.from).AddDate(a.y, a.m, a.n).String(); got != a.want {
			t.Errorf("%s.AddDate(%d,%d,%d) = %s, want %s", a.from, a.y, a.m, a.n, got, a.want)
		}
	}
	a, b := d("2024-02-28"), d("2024-03-01")
	if !a.Before(b) || a.After(b) || a.Equal(b) || !b.After(a) || !a.Equal(d("2024-02-28")) {
		t.Error("Before/After/Equal wrong")
	}
	if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 {
		t.Error("Compare wrong")
	}
	if d("2023-12-31").Before(d("2023-01-01")) || !d("2023-01-31").Before(d("2023-02-01")) {
		t.Error("ordering across fields wrong")
	}
	days := []struct {
		from, to string
		want     int
	}{
		{"2024-02-28", "2024-03-01", 2},
		{"2023-02-28", "2023-03-01", 1},
		{"2024-03-01", "2024-02-28", -2},
		{"2024-03-01", "2025-03-01", 365},
		{"2024-01-01", "2025-01-01", 366},
		{"1970-01-01", "1970-01-01", 0},
		{"0001-01-01", "9999-12-31", 3652058},
	}
	for _, tt := range days {
		if got := d(tt.from).DaysUntil(d(tt.to)); got != tt.want {
			t.Errorf("%s.DaysUntil(%s) = %d, want %d", tt.from, tt.to, got, tt.want)
		}
	}
	// Cross-check days() against the time package over a long range.
	base := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 200000; i += 37 {
		tm := base.AddDate(0, 0, i)
		dt := Date{tm.Year(), tm.Month(), tm.Day()}
		if want := int(tm.Unix() / 86400); dt.days() != want {
			t.Fatalf("%v.days() = %d, want %d", dt, dt.days(), want)
		}
	}
}

func TestDateZeroAndJSON(t *testing.T) {
	t.Parallel()
	var z Date
	if !z.IsZero() || z.Valid() || (Date{2024, 1, 1}).IsZero() {
		t.Error("IsZero/Valid wrong")
	}
	type msg struct {
		Effective Date `json:"effective"`
		Expiry    Date `json:"expiry"`
	}
	in := msg{Effective: Date{2024, time.March, 1}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"effective":"2024-03-01","expiry":""}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var out msg
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("Unmarshal = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"effective":"2023-02-29"}`), &out); !errors.Is(err, ErrInvalid) {
		t.Errorf("Unmarshal bad date: %v", err)
	}
	if _, err := json.Marshal(msg{Effective: Date{2023, 2, 29}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Marshal bad date: %v", err)
	}
}

// TestDateStringAsSprintf checks String's formatting without fmt against
// the Sprintf it replaces, on valid dates and on values no valid date
// has (the zero Date, out-of-range fields).
func TestDateStringAsSprintf(t *testing.T) {
	for _, d := range []Date{
		{}, {1, 1, 1}, {9999, 12, 31}, {2025, 6, 30}, {999, 9, 9}, {10000, 1, 1}, {-1, 1, 1},
		{2025, 0, 0}, {2025, 13, 99}, {2025, 100, 1}, {2025, 1, 100}, {2025, -1, 5}, {2025, 5, -1},
	} {
		if got, want := d.String(), fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day); got != want {
			t.Errorf("Date%v.String() = %q, want %q", [3]int{d.Year, int(d.Month), d.Day}, got, want)
		}
	}
}
