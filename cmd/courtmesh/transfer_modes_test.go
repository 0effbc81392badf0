package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// TestModeVerbsHelp: the verbs of 督促, 协同 and 集中, and those of who
// starts a transfer, of returns and supplements and of closure, each
// explain themselves in Chinese and English and offer --json; -h stops
// them.
func TestModeVerbsHelp(t *testing.T) {
	for _, c := range []struct{ verb, en string }{
		{"supervise", "supervised enforcement"},
		{"report", "report to the superior"},
		{"gather", "gather one debtor's cases"},
		{"assist", "without taking it"},
		{"assist-answer", "decline it"},
		{"assist-result", "report the result"},
		{"assist-detail", "every read is audited"},
		{"start", "on its own motion"},
		{"request", "record the applicant's request"},
		{"return", "return an incomplete handover"},
		{"supplement", "answer a return with a new version"},
		{"conclude", "with its closure kind"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"transfer", c.verb, "--data", t.TempDir(), "-h"}, &stdout, &stderr)
		if !errors.Is(err, errHelp) {
			t.Errorf("transfer %s -h: %v, want errHelp", c.verb, err)
		}
		help := stderr.String()
		if !strings.ContainsFunc(help, func(r rune) bool { return unicode.Is(unicode.Han, r) }) || !strings.Contains(help, c.en) || !strings.Contains(help, "-json") {
			t.Errorf("transfer %s -h does not explain itself in Chinese and English with --json:\n%s", c.verb, help)
		}
		if stdout.Len() != 0 {
			t.Errorf("transfer %s -h ran: %s", c.verb, stdout.String())
		}
	}
}

// TestGenOneDebtorAcrossCourts: gen --courts writes the same data for
// each court; cases 3 to 6 of each are against one debtor: 12 cases of
// one debtor across 3 courts, the 集中执行 scenario.
func TestGenOneDebtorAcrossCourts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "g")
	if o, err := runCLI(t, "gen", "--out", out, "--courts", "京0105,京0108,京0102", "--cases", "6", "--seed", "3", "--today", "2025-06-01"); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	debtors := map[string]int{}
	files, err := filepath.Glob(filepath.Join(out, "*", "case-*", "case.json"))
	if err != nil || len(files) != 18 {
		t.Fatalf("%d case files (%v), want 18", len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cj struct {
			Parties []struct {
				ID       string `json:"id"`
				IDNumber string `json:"id_number"`
			} `json:"parties"`
		}
		if err := json.Unmarshal(b, &cj); err != nil {
			t.Fatal(err)
		}
		for _, p := range cj.Parties {
			if p.ID == "p2" {
				debtors[p.IDNumber]++
			}
		}
	}
	most := 0
	for _, n := range debtors {
		most = max(most, n)
	}
	if most != 12 {
		t.Fatalf("the most cases against one debtor: %d, want 12 (%d debtors)", most, len(debtors))
	}
}
