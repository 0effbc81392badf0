package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"unicode"
)

// TestModeVerbsHelp: the verbs of 督促, 协同 and 集中 each explain
// themselves in Chinese and English and offer --json; -h stops them.
func TestModeVerbsHelp(t *testing.T) {
	for _, c := range []struct{ verb, en string }{
		{"supervise", "supervised enforcement"},
		{"report", "report to the superior"},
		{"gather", "gather one debtor's cases"},
		{"assist", "without taking it"},
		{"assist-answer", "decline it"},
		{"assist-result", "report the result"},
		{"assist-detail", "every read is audited"},
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
