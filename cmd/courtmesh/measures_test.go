package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The summary of `measures expiring` is one whole line on stderr, after
// the table on stdout: a script reading stdout gets the table alone, and
// the next prompt starts on a line of its own.
func TestMeasuresExpiringSummaryLine(t *testing.T) {
	data := newDataDir(t, nil)
	cases := filepath.Join(t.TempDir(), "cases")
	if out, err := runCLI(t, "gen", "--out", cases, "--cases", "3", "--seed", "5", "--today", "2025-06-01"); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	for i := 1; i <= 3; i++ {
		if out, err := runCLI(t, "case", "import", "--data", data, filepath.Join(cases, fmt.Sprintf("case-%04d", i))); err != nil {
			t.Fatalf("import: %v\n%s", err, out)
		}
	}
	for _, within := range []string{"30", "0"} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"measures", "expiring", "--data", data, "--within", within, "--today", "2025-06-01"}, &out, &errb); err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^\d+ active measure\(s\) expire by 2025-0[67]-\d\d\n$`).MatchString(errb.String()) {
			t.Errorf("--within %s: the summary is %q, want one line ending in a newline", within, errb.String())
		}
		if !strings.HasPrefix(out.String(), "DAYS LEFT") || !strings.HasSuffix(out.String(), "\n") {
			t.Errorf("--within %s: the table is %q", within, out.String())
		}
	}
}
