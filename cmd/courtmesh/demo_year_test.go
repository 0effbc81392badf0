package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
)

// TestDemoInAnotherYear plays the whole story with the demo's clock
// (its nodes, data and case numbers) moved to other days: New Year's day
// 2027 (the party's page once looked for a number of 2026), 29 February
// 2028, and 1 March 2028, when a number written as （2026） is refused (a
// receiver files a transferred case under a number of the year of its
// acceptance or the year before). Every step must still verify, and the
// numbers the demo files under and shows are of the moved year.
func TestDemoInAnotherYear(t *testing.T) {
	if testing.Short() {
		t.Skip("plays the whole demo; skipped with -short")
	}
	for _, at := range []court.Date{{Year: 2027, Month: time.January, Day: 1}, {Year: 2028, Month: time.February, Day: 29}, {Year: 2028, Month: time.March, Day: 1}} {
		t.Run(at.String(), func(t *testing.T) {
			offset := at.Start().Add(10 * time.Hour).Sub(time.Now()) // 10:00 in China
			var out bytes.Buffer
			c := &cli{stdout: &out, stderr: &out, now: func() time.Time { return time.Now().Add(offset) }}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if err := runDemo(ctx, c, []string{"--once", "--dir", t.TempDir()}); err != nil {
				t.Fatalf("demo at %s: %v\n%s", at, err, tail(out.String(), 3000))
			}
			y := fmt.Sprintf("（%d）", at.Year)
			for _, want := range []string{y + "京0108执1201号", y + "京0108执3100号", sprintf("the page shows 京0108 and %s", y+"京0108执1201号")} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the demo at %s does not show %s:\n%s", at, want, tail(out.String(), 3000))
				}
			}
		})
	}
}
