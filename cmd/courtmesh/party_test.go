package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
)

var codeRE = regexp.MustCompile(`[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}`)

// TestCaseCodesCommand issues query codes with `courtmesh case codes` on a
// stopped node's store and through a running node: printed once, refused
// the second time unless --reissue, never written to the store in clear.
// The complaint commands need the running node.
func TestCaseCodesCommand(t *testing.T) {
	cases := filepath.Join(t.TempDir(), "cases")
	if out, err := runCLI(t, "gen", "--out", cases, "--cases", "1", "--seed", "5", "--today", "2025-06-01"); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	for _, data := range []string{newDataDir(t, nil), startCaseNode(t)} {
		out, err := runCLI(t, "case", "import", "--data", data, filepath.Join(cases, "case-0001"))
		if err != nil {
			t.Fatalf("import: %v\n%s", err, out)
		}
		n := regexp.MustCompile(`（\d{4}）京0105执\d+号`).FindString(out)
		if n == "" {
			t.Fatalf("no case number in %s", out)
		}
		out, err = runCLI(t, "case", "codes", "--data", data, n)
		codes := codeRE.FindAllString(out, -1)
		if err != nil || len(codes) == 0 || !strings.Contains(out, "applicant") {
			t.Fatalf("case codes: %v\n%s", err, out)
		}
		if out, err := runCLI(t, "case", "codes", "--data", data, n); !errors.Is(err, court.ErrConflict) || codeRE.MatchString(out) {
			t.Fatalf("case codes again: %v\n%s", err, out)
		}
		out, err = runCLI(t, "case", "codes", "--data", data, "--reissue", n)
		again := codeRE.FindAllString(out, -1)
		if err != nil || len(again) != len(codes) || again[0] == codes[0] {
			t.Fatalf("case codes --reissue: %v\n%s", err, out)
		}
		if out, err := runCLI(t, "case", "codes", "--data", data, "（2024）京0105执999999号"); !errors.Is(err, court.ErrNotFound) {
			t.Fatalf("codes of a missing case: %v\n%s", err, out)
		}
		// No code is on disk in clear (normalised or printed).
		filepath.Walk(data, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, c := range append(codes, again...) {
				if bytes.Contains(b, []byte(c)) || bytes.Contains(b, []byte(strings.ReplaceAll(c, "-", ""))) {
					t.Errorf("%s holds query code %s in clear", p, c)
				}
			}
			return nil
		})
		out, err = runCLI(t, "complaint", "list", "--data", data)
		if err != nil {
			if !errors.Is(err, court.ErrUnavailable) || !strings.Contains(err.Error(), "not running") {
				t.Errorf("complaint list on a stopped node: %v", err)
			}
		} else if !strings.HasPrefix(out, "REF") || strings.Count(out, "\n") != 1 {
			t.Errorf("complaint list through the node: %q", out)
		}
	}
}
